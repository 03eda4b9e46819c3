"""Each detector at, just below and around Sentry's default thresholds."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.perfissues.detectors import DETECTORS, MAX_PROBLEMS, Problem, Thresholds, detect
from spyglass.perfissues.spans import parameterized_sql, parameterized_url
from spyglass.perfissues.tests.factories import Spans, root

AUTHORS = "SELECT id, name FROM authors"
BOOKS = "SELECT id, title FROM books WHERE author_id = %s"


def found(spans: Spans, detector: str, **kwargs: Any) -> list[Problem]:
    tx = spans.transaction(**kwargs)
    only = {key: (d.defaults() if key == detector else None) for key, d in DETECTORS.items()}
    return detect(tx, root(tx), only)


def n_plus_one(repeats: int, each_ms: float) -> Spans:
    spans = Spans()
    spans.then(5, "db", AUTHORS)
    for n in range(repeats):
        spans.then(each_ms, "db", BOOKS.replace("%s", str(n + 1)))
    return spans


def test_it_finds_five_repeated_queries_of_fifty_ms_together() -> None:
    (problem,) = found(n_plus_one(5, 10), "n_plus_one_db_queries")
    assert len(problem.offenders) == 5
    assert problem.causes[0].description == AUTHORS
    assert problem.parent is not None and problem.parent.op == "http.server"
    assert problem.value == BOOKS.replace("%s", "1")


def test_four_repeats_or_less_than_fifty_ms_are_no_n_plus_one() -> None:
    assert found(n_plus_one(4, 20), "n_plus_one_db_queries") == []
    assert found(n_plus_one(5, 9.9), "n_plus_one_db_queries") == []


def test_repeats_under_different_parents_or_overlapping_are_no_n_plus_one() -> None:
    spans = Spans()
    for n in range(6):
        spans.at(n * 20, 15, "db", BOOKS, parent=f"{n:016x}")
    assert found(spans, "n_plus_one_db_queries") == []
    parallel = Spans()
    for _ in range(6):
        parallel.at(0, 15, "db", BOOKS)
    assert found(parallel, "n_plus_one_db_queries") == []


def test_n_plus_one_fingerprints_ignore_values_and_counts() -> None:
    one = found(n_plus_one(5, 10), "n_plus_one_db_queries")[0]
    other = found(n_plus_one(9, 30), "n_plus_one_db_queries")[0]
    assert one.fingerprint == other.fingerprint
    assert one.fingerprint.startswith("1-1006-")


def test_inserts_repeated_are_no_n_plus_one() -> None:
    spans = Spans()
    for n in range(8):
        spans.then(10, "db", f"INSERT INTO books VALUES ({n})")
    assert found(spans, "n_plus_one_db_queries") == []


def consecutive(first_ms: float, second_ms: float, total: float | None = None) -> Spans:
    spans = Spans()
    spans.then(first_ms, "db", "SELECT * FROM users WHERE id = 7")
    spans.then(second_ms, "db", "SELECT count(*) FROM products")
    spans.transaction(total)
    return spans


def test_two_independent_queries_saving_a_hundred_ms_are_consecutive() -> None:
    (problem,) = found(consecutive(150, 100), "consecutive_db_queries", duration_ms=600)
    assert [s.description[:20] for s in problem.offenders] == [
        "SELECT * FROM users ",
        "SELECT count(*) FROM",
    ]


def test_consecutive_queries_need_time_saved_ratio_and_span_length() -> None:
    assert found(consecutive(150, 99), "consecutive_db_queries", duration_ms=600) == []
    # saved 100 ms of 1001 ms: below 10 %
    assert found(consecutive(150, 100), "consecutive_db_queries", duration_ms=1001) == []
    assert found(consecutive(29, 150), "consecutive_db_queries", duration_ms=300) == []


def test_a_query_that_depends_on_the_previous_is_not_consecutive() -> None:
    spans = Spans()
    spans.then(150, "db", "SELECT id FROM users")
    spans.then(150, "db", "SELECT * FROM orders WHERE user_id = 3")
    assert found(spans, "consecutive_db_queries", duration_ms=400) == []


@pytest.mark.parametrize(("duration", "expected"), [(499.9, 0), (500, 1), (2000, 1)])
def test_a_select_of_half_a_second_is_slow(duration: float, expected: int) -> None:
    spans = Spans()
    spans.then(duration, "db.sql.query", "SELECT * FROM big WHERE x = 1")
    spans.then(duration, "db", "UPDATE big SET x = 2")
    assert len(found(spans, "slow_db_query")) == expected


def api_calls(count: int, each_ms: float, gap_ms: float = 1, host: str = "api.test") -> Spans:
    spans = Spans()
    for n in range(count):
        spans.at(n * gap_ms, each_ms, "http.client", f"GET https://{host}/users/{n}?full=1")
    return spans


def test_ten_concurrent_gets_of_one_url_are_an_n_plus_one_api_call() -> None:
    (problem,) = found(api_calls(10, 30), "n_plus_one_api_calls")
    assert len(problem.offenders) == 10
    assert problem.fingerprint.startswith("1-1010-")


def test_nine_calls_slow_starts_or_short_calls_are_no_n_plus_one_api_call() -> None:
    assert found(api_calls(9, 50), "n_plus_one_api_calls") == []
    assert found(api_calls(10, 50, gap_ms=5.5), "n_plus_one_api_calls") == []
    assert found(api_calls(10, 29.9), "n_plus_one_api_calls") == []
    assert found(api_calls(10, 50, gap_ms=5), "n_plus_one_api_calls") != []


def test_graphql_and_static_assets_are_never_n_plus_one_api_calls() -> None:
    spans = Spans()
    for n in range(12):
        spans.at(n, 40, "http.client", "GET https://api.test/graphql?q=1")
        spans.at(n, 40, "http.client", f"GET https://cdn.test/img/{n}.png")
    assert found(spans, "n_plus_one_api_calls") == []


@pytest.mark.parametrize(
    ("size", "duration", "expected"),
    [(300_000, 100, 1), (299_999, 500, 0), (1_000_000, 99, 0)],
)
def test_a_large_response_taking_a_tenth_of_a_second_is_a_large_payload(
    size: int, duration: float, expected: int
) -> None:
    spans = Spans()
    spans.then(
        duration, "http.client", "GET https://api.test/export", http__response_content_length=size
    )
    assert len(found(spans, "large_http_payload")) == expected


def test_large_static_files_are_not_large_payloads_but_json_is() -> None:
    spans = Spans()
    spans.then(200, "http.client", "GET https://x.test/app.js", http__response_content_length=10**6)
    assert found(spans, "large_http_payload") == []
    spans.then(200, "http.client", "GET https://x.test/d.json", http__response_content_length=10**6)
    assert len(found(spans, "large_http_payload")) == 1


def page(asset_ms: float, size: int, fcp: float, status: str = "blocking") -> Spans:
    spans = Spans()
    spans.at(
        10,
        asset_ms,
        "resource.script",
        "https://cdn.test/big.js",
        http__response_content_length=size,
        resource__render_blocking_status=status,
    )
    spans.transaction(op="pageload", fcp=fcp)
    return spans


def test_a_big_blocking_script_taking_a_third_of_the_fcp_is_render_blocking() -> None:
    assert (
        len(found(page(700, 512_000, 2100), "render_blocking_asset_span", op="pageload", fcp=2100))
        == 1
    )
    assert (
        found(page(690, 512_000, 2100), "render_blocking_asset_span", op="pageload", fcp=2100) == []
    )
    assert (
        found(page(700, 511_999, 2100), "render_blocking_asset_span", op="pageload", fcp=2100) == []
    )
    assert (
        found(page(700, 512_000, 1999), "render_blocking_asset_span", op="pageload", fcp=1999) == []
    )
    non = page(700, 512_000, 2100, status="non-blocking")
    assert found(non, "render_blocking_asset_span", op="pageload", fcp=2100) == []


def assets(size: int, duration: float, other_compressed: bool = True) -> Spans:
    spans = Spans()
    spans.at(
        0,
        duration,
        "resource.script",
        "https://cdn.test/vendor.js?v=3",
        http__response_content_length=size,
        http__decoded_response_content_length=size,
        http__response_transfer_size=size + 300,
    )
    spans.at(
        0,
        20,
        "resource.link",
        "https://cdn.test/site.css",
        http__response_content_length=1000 if other_compressed else 4000,
        http__decoded_response_content_length=4000,
    )
    return spans


def test_a_big_uncompressed_script_beside_compressed_ones_is_an_uncompressed_asset() -> None:
    (problem,) = found(assets(512_000, 300), "uncompressed_assets")
    assert problem.value == "https://cdn.test/vendor.js?v=3"
    assert found(assets(511_000, 300), "uncompressed_assets") == []
    assert found(assets(600_000, 299), "uncompressed_assets") == []
    assert found(assets(600_000, 400, other_compressed=False), "uncompressed_assets") == []


@pytest.mark.parametrize(
    ("op", "detector"), [("file.read", "file_io_main_thread"), ("db", "db_main_thread")]
)
def test_sixteen_ms_on_the_main_thread_is_an_issue(op: str, detector: str) -> None:
    spans = Spans()
    spans.at(0, 10, op, "config.json", blocked_main_thread=True)
    spans.at(5, 10, op, "config.json", blocked_main_thread=True)  # overlaps: 15 ms in all
    spans.at(0, 50, op, "config.json")  # not on the main thread
    assert found(spans, detector) == []
    spans.at(30, 1, op, "other.json", blocked_main_thread=True)
    assert len(found(spans, detector)) == 1


def test_a_detector_turned_off_finds_nothing_and_thresholds_apply() -> None:
    spans = n_plus_one(5, 10)
    tx = spans.transaction()
    settings: dict[str, Thresholds | None] = {k: d.defaults() for k, d in DETECTORS.items()}
    assert detect(tx, root(tx), settings)
    settings["n_plus_one_db_queries"] = None
    assert detect(tx, root(tx), settings) == []
    settings["n_plus_one_db_queries"] = {"count": 6, "duration": 10}
    assert detect(tx, root(tx), settings) == []


def test_at_most_ten_problems_per_transaction() -> None:
    spans = Spans()
    for n in range(15):
        spans.then(600, "db", f"SELECT * FROM table_{n}")
    tx = spans.transaction()
    assert len(detect(tx, root(tx), {})) == MAX_PROBLEMS


def test_queries_and_urls_read_the_same_with_other_values() -> None:
    assert parameterized_sql("SELECT * FROM a WHERE id IN (1, 2, 3) AND n = 'x'") == (
        "SELECT * FROM a WHERE id IN (%s) AND n = %s"
    )
    assert parameterized_sql("SELECT a FROM t WHERE b = ? AND c = $2") == (
        "SELECT a FROM t WHERE b = %s AND c = %s"
    )
    assert (
        parameterized_url("https://x.test/u/42/posts?page=2&q=a") == "x.test/u/*/posts?page=*&q=*"
    )


def calls(durations: list[float], gap_ms: float = 100, op: str = "http.server") -> Spans:
    spans = Spans()
    at = 0.0
    for n, duration in enumerate(durations):
        spans.at(at, duration, "http.client", f"POST https://pay.test/orders/{n}/charge")
        spans.at(at + duration + 1, 5, "db", "SELECT 1")  # other work between calls is ignored
        at += duration + gap_ms
    return spans


def test_three_slow_calls_one_after_another_saving_two_seconds_are_consecutive_http() -> None:
    (problem,) = found(calls([1000, 1000, 1000]), "consecutive_http")
    assert len(problem.offenders) == 3 and problem.fingerprint.startswith("1-1009-")
    assert found(calls([1000, 1000, 999]), "consecutive_http") == []  # saves 1,999 ms
    assert found(calls([499, 2000, 2000, 2000]), "consecutive_http") != []  # 3 after a short one
    assert found(calls([1000, 1000, 1000], gap_ms=1000 + 501), "consecutive_http") == []
    assert found(calls([1500, 1500]), "consecutive_http") == []


def test_consecutive_http_is_for_backends_not_page_loads() -> None:
    spans = calls([1000, 1000, 1000])
    assert found(spans, "consecutive_http", op="pageload") == []
