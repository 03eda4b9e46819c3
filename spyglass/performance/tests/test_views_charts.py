"""The performance pages' line charts and number formats."""

from __future__ import annotations

from spyglass.performance.templatetags.performance_charts import fmt, linechart


def test_a_missing_value_breaks_the_line_and_every_point_is_a_dot_with_its_value() -> None:
    svg = str(linechart([("p95", [10.0, 20.0, None, 40.0])], ["a", "b", "c", "d"]))
    assert svg.count("<polyline") == 2
    assert svg.count('class="dot') == 3
    assert "p95 d: 40 ms" in svg and "max 40 ms" in svg


def test_no_values_say_so_and_names_are_escaped() -> None:
    assert "No data" in str(linechart([("p95", [None])], ["a"]))
    svg = str(linechart([("<b>", [1.0])], ["<i>"], "%"))
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "100.0 %" in svg


def test_numbers_read_as_durations_shares_and_sizes() -> None:
    assert [fmt(None), fmt(4.25), fmt(250), fmt(1500), fmt(12_000)] == [
        "—",
        "4.2 ms",
        "250 ms",
        "1.50 s",
        "12.0 s",
    ]
    assert fmt(0.125, "%") == "12.5 %"
    assert fmt(0.0021, "") == "0.0021"
    assert fmt(600_000, "bytes") == "585.9 KiB"
