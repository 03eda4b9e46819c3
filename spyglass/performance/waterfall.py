"""A transaction's spans as a tree to draw (the span waterfall), and a trace's transactions
and errors as a tree across projects. Read from raw rows: a classic transaction's body holds
its spans; a span v2 segment's children are Span rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from spyglass.events.bodies import decompress, read_body
from spyglass.events.models import Event
from spyglass.performance.models import Span, SpanStatus, Transaction

MAX_ROWS = 2000  # a waterfall draws at most this many spans


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


@dataclass
class SpanRow:
    span_id: str
    parent_span_id: str
    op: str
    description: str
    status: str
    start: float
    end: float
    data: dict[str, Any] = field(default_factory=dict)
    depth: int = 0
    self_ms: float = 0.0
    left: float = 0.0  # % of the transaction
    width: float = 0.0
    children: int = 0
    errors: list[Event] = field(default_factory=list)

    @property
    def duration_ms(self) -> float:
        return max(0.0, (self.end - self.start) * 1000)

    @property
    def data_items(self) -> list[tuple[str, str]]:
        return [
            (str(k), v if isinstance(v, str) else orjson.dumps(v).decode())
            for k, v in sorted(self.data.items())
        ]

    @property
    def failed(self) -> bool:
        return self.status not in (SpanStatus.OK, SpanStatus.CANCELLED, SpanStatus.UNKNOWN, "")


def _from_json(raw: Any, fallback_parent: str) -> SpanRow | None:
    if not isinstance(raw, dict):
        return None
    start = _seconds(raw.get("start_timestamp"))
    end = _seconds(raw.get("timestamp", raw.get("end_timestamp")))
    span_id = raw.get("span_id")
    if start is None or end is None or not isinstance(span_id, str):
        return None
    data, tags = raw.get("data"), raw.get("tags")
    parent = raw.get("parent_span_id")
    return SpanRow(
        span_id=span_id,
        parent_span_id=parent if isinstance(parent, str) else fallback_parent,
        op=str(raw.get("op") or ""),
        description=str(raw.get("description") or raw.get("name") or ""),
        status=SpanStatus.parse(raw.get("status")) if raw.get("status") else "",
        start=start,
        end=end,
        data={
            **(tags if isinstance(tags, dict) else {}),
            **(data if isinstance(data, dict) else {}),
        },
    )


def spans_of(tx: Transaction) -> list[SpanRow]:
    """The transaction's own span first, then its children (unsorted)."""
    start = tx.start.timestamp()
    root = SpanRow(
        tx.span_id or "root",
        tx.parent_span_id,
        tx.op,
        tx.name,
        tx.status,
        start,
        start + tx.duration_ms / 1000,
    )
    payload = read_body(tx.body)
    if payload.get("type") == "transaction" or "spans" in payload:
        trace = payload.get("contexts", {}).get("trace", {})
        if isinstance(trace, dict) and isinstance(trace.get("data"), dict):
            root.data = trace["data"]
        raw = payload.get("spans")
        rows = [_from_json(s, root.span_id) for s in (raw if isinstance(raw, list) else [])]
        return [root, *[r for r in rows if r is not None]]
    attributes = payload.get("attributes")
    if isinstance(attributes, dict):
        root.data = {k: v.get("value") if isinstance(v, dict) else v for k, v in attributes.items()}
    children = Span.objects.filter(
        project_id=tx.project_id, trace_id=tx.trace_id, segment_id=tx.span_id, is_segment=False
    ).order_by("start")[:MAX_ROWS]
    return [root, *(_from_row(row) for row in children)]


def _from_row(row: Span) -> SpanRow:
    try:
        data = orjson.loads(decompress(row.attributes)) if row.attributes else {}
    except Exception:  # a damaged row still shows its span
        data = {}
    start = row.start.timestamp()
    return SpanRow(
        row.span_id,
        row.parent_span_id,
        row.op,
        row.name,
        row.status,
        start,
        start + row.duration_ms / 1000,
        data if isinstance(data, dict) else {},
    )


def tree(spans: list[SpanRow]) -> list[SpanRow]:
    """Depth first, children by start; spans whose parent is missing hang from the root.
    Sets depth, self time (duration minus what children cover) and the bars' geometry."""
    if not spans:
        return []
    root = spans[0]
    known = {s.span_id for s in spans}
    children: dict[str, list[SpanRow]] = defaultdict(list)
    for span in spans[1:]:
        parent = span.parent_span_id if span.parent_span_id in known else root.span_id
        if span.span_id == root.span_id:
            continue
        children[parent].append(span)
    begin = min(s.start for s in spans)
    total = max(max(s.end for s in spans) - begin, 1e-9)
    ordered: list[SpanRow] = []
    stack: list[tuple[SpanRow, int]] = [(root, 0)]
    seen: set[str] = set()
    # Spans whose parents form a loop never hang from the root: they show under it.
    leftovers = sorted(spans[1:], key=lambda s: s.start, reverse=True)
    while (stack or leftovers) and len(ordered) < MAX_ROWS:
        if not stack:
            stack.append((leftovers.pop(), 1))
        span, depth = stack.pop()
        if span.span_id in seen:
            continue
        seen.add(span.span_id)
        kids = sorted(children.get(span.span_id, []), key=lambda s: s.start)
        span.depth, span.children = depth, len(kids)
        span.self_ms = _self_time(span, kids)
        span.left = (span.start - begin) / total * 100
        span.width = max((span.end - span.start) / total * 100, 0.2)
        ordered.append(span)
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return ordered


def _self_time(span: SpanRow, kids: Iterable[SpanRow]) -> float:
    covered, reach = 0.0, span.start
    for kid in kids:  # sorted by start
        start, end = max(kid.start, reach), min(kid.end, span.end)
        if end > start:
            covered += end - start
            reach = end
    return max(0.0, span.duration_ms - covered * 1000)


def error_span_id(event: Event) -> str:
    """The span an error happened in (its trace context's span id), or ""."""
    trace = read_body(event.body).get("contexts", {}).get("trace", {})
    span_id = trace.get("span_id") if isinstance(trace, dict) else None
    return span_id if isinstance(span_id, str) else ""


@dataclass
class TraceRow:
    kind: str  # "transaction" or "error"
    depth: int
    left: float
    width: float
    transaction: Transaction | None = None
    event: Event | None = None


def trace_tree(
    transactions: list[Transaction], errors: list[Event], segment_of: dict[str, str]
) -> list[TraceRow]:
    """Transactions under the transaction holding their parent span; errors under the
    transaction holding their span (``segment_of``: span id -> its transaction's span id)."""
    by_span = {tx.span_id: tx for tx in transactions if tx.span_id}
    kids: dict[int | None, list[Transaction | Event]] = defaultdict(list)
    for tx in transactions:
        owner = segment_of.get(tx.parent_span_id, tx.parent_span_id)
        parent = by_span.get(owner)
        kids[parent.pk if parent is not None and parent is not tx else None].append(tx)
    for event in errors:
        span_id = getattr(event, "span_id", "")
        parent = by_span.get(segment_of.get(span_id, span_id))
        kids[parent.pk if parent is not None else None].append(event)
    moments = [tx.start.timestamp() for tx in transactions] + [
        e.timestamp.timestamp() for e in errors
    ]
    ends = [tx.start.timestamp() + tx.duration_ms / 1000 for tx in transactions] + moments
    begin = min(moments, default=0.0)
    total = max(max(ends, default=0.0) - begin, 1e-9)

    def when(item: Transaction | Event) -> float:
        return (
            item.start.timestamp() if isinstance(item, Transaction) else item.timestamp.timestamp()
        )

    rows: list[TraceRow] = []
    stack: list[tuple[Transaction | Event, int]] = [
        (item, 0) for item in sorted(kids[None], key=when, reverse=True)
    ]
    seen: set[tuple[str, int]] = set()
    # Transactions whose parents form a loop never hang from a root: they start trees too.
    leftovers = sorted(transactions, key=when, reverse=True)
    while (stack or leftovers) and len(rows) < MAX_ROWS:
        if not stack:
            stack.append((leftovers.pop(), 0))
        item, depth = stack.pop()
        left = (when(item) - begin) / total * 100
        if isinstance(item, Transaction):
            if ("t", item.pk) in seen:
                continue
            seen.add(("t", item.pk))
            width = max(item.duration_ms / 1000 / total * 100, 0.3)
            rows.append(TraceRow("transaction", depth, left, width, transaction=item))
            stack.extend((kid, depth + 1) for kid in sorted(kids[item.pk], key=when, reverse=True))
        else:
            rows.append(TraceRow("error", depth, left, 0.6, event=item))
    return rows
