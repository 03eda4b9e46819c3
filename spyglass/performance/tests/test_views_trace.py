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
