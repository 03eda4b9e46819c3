"""Spans and transactions for detector tests, laid out in milliseconds from t = 0."""

from __future__ import annotations

from typing import Any

from spyglass.perfissues.spans import SpanInfo, TransactionInfo

T0 = 1_700_000_000.0
ROOT = "a" * 16


class Spans:
    """Spans added one after another (``then``) or at a given time (``at``)."""

    def __init__(self) -> None:
        self.spans: list[SpanInfo] = []
        self.cursor = 0.0  # ms

    def at(
        self,
        start_ms: float,
        duration_ms: float,
        op: str,
        description: str,
        parent: str = ROOT,
        **data: Any,
    ) -> SpanInfo:
        span = SpanInfo(
            span_id=f"{len(self.spans) + 1:016x}",
            parent_span_id=parent,
            op=op,
            description=description,
            start=T0 + start_ms / 1000,
            end=T0 + (start_ms + duration_ms) / 1000,
            data={k.replace("__", "."): v for k, v in data.items()},
        )
        self.spans.append(span)
        self.cursor = max(self.cursor, start_ms + duration_ms)
        return span

    def then(self, duration_ms: float, op: str, description: str, **data: Any) -> SpanInfo:
        return self.at(self.cursor, duration_ms, op, description, **data)

    def transaction(
        self, duration_ms: float | None = None, op: str = "http.server", **measurements: float
    ) -> TransactionInfo:
        return TransactionInfo(
            event_id="e" * 32,
            name="GET /authors",
            op=op,
            start=T0,
            duration_ms=duration_ms if duration_ms is not None else self.cursor,
            measurements=measurements,
            platform="python",
            spans=self.spans,
        )


def root(tx: TransactionInfo) -> SpanInfo:
    return SpanInfo(ROOT, "", tx.op, tx.name, tx.start, tx.start + tx.duration_ms / 1000)
