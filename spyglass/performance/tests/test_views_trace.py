"""The trace tree: transactions under the transaction holding their parent span, errors
under the transaction holding their span, and nothing lost to a loop of parents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spyglass.events.models import Event
from spyglass.performance.models import Transaction
from spyglass.performance.waterfall import TraceRow, trace_tree

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tx(pk: int, span_id: str, parent: str, offset_ms: float = 0) -> Transaction:
    return Transaction(
        pk=pk,
        span_id=span_id,
        parent_span_id=parent,
        start=T0 + timedelta(milliseconds=offset_ms),
        duration_ms=100,
        name=f"tx{pk}",
    )


def error(span_id: str) -> Event:
    event = Event(timestamp=T0 + timedelta(milliseconds=50), title="boom")
    event.span_id = span_id  # type: ignore[attr-defined]
    return event


def shape(rows: list[TraceRow]) -> list[tuple[str, int, str]]:
    found = []
    for row in rows:
        label = row.transaction.name if row.transaction else row.event.title if row.event else ""
        found.append((row.kind, row.depth, label))
    return found


def test_children_hang_from_the_transaction_holding_their_parent_span() -> None:
    page, api, worker = (
        tx(1, "a" * 16, ""),
        tx(2, "b" * 16, "f" * 16, 10),
        tx(3, "c" * 16, "b" * 16, 20),
    )
    # f…f is a span (a fetch) inside the page load's transaction
    rows = trace_tree([worker, api, page], [error("c" * 16)], {"f" * 16: "a" * 16})
    assert shape(rows) == [
        ("transaction", 0, "tx1"),
        ("transaction", 1, "tx2"),
        ("transaction", 2, "tx3"),
        ("error", 3, "boom"),
    ]
    assert rows[0].left == 0 and rows[0].width > rows[2].left - 1


def test_a_loop_of_parents_still_shows_every_transaction() -> None:
    one, two = tx(1, "a" * 16, "b" * 16), tx(2, "b" * 16, "a" * 16, 5)
    rows = trace_tree([one, two], [], {})
    assert sorted(r.transaction.name for r in rows if r.transaction) == ["tx1", "tx2"]


def test_the_waterfall_shows_every_span_once_even_in_a_loop_of_parents() -> None:
    from spyglass.performance.waterfall import SpanRow, tree

    start = T0.timestamp()
    root = SpanRow("r" * 16, "", "http.server", "GET /", "ok", start, start + 1)
    child = SpanRow("a" * 16, "r" * 16, "db", "SELECT 1", "ok", start + 0.1, start + 0.3)
    grandchild = SpanRow("b" * 16, "a" * 16, "db", "SELECT 2", "ok", start + 0.2, start + 0.25)
    orphan = SpanRow("c" * 16, "z" * 16, "cache", "get", "ok", start + 0.5, start + 0.6)
    loop_one = SpanRow("d" * 16, "e" * 16, "x", "one", "ok", start + 0.7, start + 0.8)
    loop_two = SpanRow("e" * 16, "d" * 16, "x", "two", "ok", start + 0.8, start + 0.9)
    rows = tree([root, loop_two, grandchild, orphan, child, loop_one])
    assert [(r.description, r.depth) for r in rows][:4] == [
        ("GET /", 0),
        ("SELECT 1", 1),
        ("SELECT 2", 2),
        ("get", 1),  # its parent is unknown: under the transaction
    ]
    assert sorted(r.description for r in rows[4:]) == ["one", "two"]
    assert abs(child.self_ms - 150) < 0.01  # 200 ms minus its child's 50
    assert abs(root.self_ms - (1000 - 200 - 100)) < 0.01
