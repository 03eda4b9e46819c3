"""After a digest batch commits: run the detectors on the transactions it stored."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from spyglass.events.bodies import decompress, read_body
from spyglass.perfissues.detectors import Problem, Thresholds, applicable, detect
from spyglass.perfissues.models import DetectorSettings, Redetection, effective_settings
from spyglass.perfissues.record import record
from spyglass.perfissues.spans import (
    SpanInfo,
    TransactionInfo,
    json_spans,
    outline_of_json,
    span_from_json,
)
from spyglass.performance.models import Span, Transaction

if TYPE_CHECKING:
    from spyglass.digest.store import StoreResult

log = logging.getLogger(__name__)


REDETECT_LIMIT = 200  # marks per batch: the rest wait for the next batch


def detect_after_commit(result: StoreResult) -> None:
    # Transactions without child spans have nothing to detect (and cost nothing more).
    candidates = [tx for tx in result.transactions if tx.span_count > 0]
    if candidates:
        detect_in(candidates)
    redetect_pending()


def redetect_pending(limit: int = REDETECT_LIMIT) -> list[int]:
    """Span v2 segments whose children arrived after them (``Redetection`` marks, left by
    the digest): the detectors again over every child. A pattern the earlier detection
    found already (without the late children) is not counted again toward its repeat
    threshold, and an occurrence already recorded stays one (unique per transaction).
    Returns the issues touched."""
    marks = list(Redetection.objects.order_by("id")[:limit])
    late: dict[tuple[int, str, str], set[str]] = defaultdict(set)
    for mark in marks:
        # Claimed by deleting it: concurrent workers don't look at one mark twice.
        if Redetection.objects.filter(id=mark.id).delete()[0]:
            ids = mark.span_ids if isinstance(mark.span_ids, list) else []
            late[(mark.project_id, mark.trace_id, mark.segment_id)].update(map(str, ids))
    if not late:
        return []
    segments = []
    for project_id, trace_id, segment_id in late:
        tx = Transaction.objects.filter(
            project_id=project_id, trace_id=trace_id, span_id=segment_id
        ).first()
        if tx is not None and is_streamed(tx):
            segments.append(tx)
    settings = _settings({tx.project_id for tx in segments})
    streamed = _streamed_spans(segments)
    touched: list[int] = []
    for tx in segments:
        spans = streamed.get((tx.project_id, tx.span_id), [])
        if tx.span_count != len(spans):
            Transaction.objects.filter(id=tx.id).update(span_count=len(spans))
        project_settings = settings.get(tx.project_id) or effective_settings([], {})
        if all(value is None for value in project_settings.values()):
            continue
        new = late[(tx.project_id, tx.trace_id, tx.span_id)]
        try:
            root = _root(tx)
            problems = detect(_info(tx, spans), root, project_settings)
            if not problems:
                continue
            seen = [s for s in spans if s.span_id not in new]
            before = detect(_info(tx, seen), root, project_settings) if seen else []
            counted = frozenset(p.fingerprint for p in before)
            touched.extend(record(tx, problems, project_settings, counted=counted))
        except Exception:  # one bad segment must not cost the others their findings
            log.exception("performance re-detection failed for %s", tx.event_id)
    return touched


def detect_in(transactions: list[Transaction]) -> list[int]:
    """Detect and record problems in stored transactions; returns the issues touched."""
    settings = _settings({tx.project_id for tx in transactions})
    streamed = _streamed_spans([tx for tx in transactions if is_streamed(tx)])
    touched: list[int] = []
    defaults = effective_settings([], {})  # projects without settings (read-only here)
    for tx in transactions:
        project_settings = settings.get(tx.project_id) or defaults
        if all(value is None for value in project_settings.values()):
            continue
        try:
            touched.extend(_detect_one(tx, streamed, project_settings))
        except Exception:  # one bad transaction must not cost the batch's other findings
            log.exception("performance detection failed for %s", tx.event_id)
    return touched


def _detect_one(
    tx: Transaction,
    streamed: dict[tuple[int, str], list[SpanInfo]],
    settings: dict[str, Thresholds | None],
) -> list[int]:
    problems = problems_of(tx, streamed, settings)
    return record(tx, problems, settings) if problems else []


def problems_of(
    tx: Transaction,
    streamed: dict[tuple[int, str], list[SpanInfo]],
    settings: Mapping[str, Thresholds | None],
) -> list[Problem]:
    """The problems of a stored transaction (``streamed``: the spans of span v2 segments)."""
    if is_streamed(tx):
        info = _info(tx, streamed.get((tx.project_id, tx.span_id), []))
        return detect(info, _root(tx), settings)
    raw = _json_spans(tx)
    # Most transactions can't have a problem: told by their outline, before their spans are
    # read in full.
    outline = outline_of_json(raw)
    if not applicable(tx.op, outline, settings):
        return []
    info, root = _classic(tx, raw)
    return detect(info, root, settings, outline)


def is_streamed(tx: Transaction) -> bool:
    """A span v2 segment (its id derives from trace and span id; its spans are rows)."""
    return bool(tx.span_id) and tx.event_id == tx.trace_id[:16] + tx.span_id


def _settings(project_ids: set[int]) -> dict[int, dict[str, Thresholds | None]]:
    return {
        row.project_id: row.effective()
        for row in DetectorSettings.objects.filter(project_id__in=project_ids)
    }


def _info(tx: Transaction, spans: list[SpanInfo]) -> TransactionInfo:
    measurements = {
        name: float(m["value"])
        for name, m in tx.measurements.items()
        if isinstance(m, dict) and isinstance(m.get("value"), int | float)
    }
    return TransactionInfo(
        event_id=tx.event_id,
        name=tx.name,
        op=tx.op,
        start=tx.start.timestamp(),
        duration_ms=tx.duration_ms,
        measurements=measurements,
        platform=tx.platform,
        spans=spans,
    )


def _root(tx: Transaction) -> SpanInfo:
    start = tx.start.timestamp()
    return SpanInfo(
        tx.span_id, tx.parent_span_id, tx.op, tx.name, start, start + tx.duration_ms / 1000
    )


def _json_spans(tx: Transaction) -> list[Any]:
    """A classic transaction's spans as the digest parsed them, or else (a transaction read
    back) as its stored body holds them."""
    raw = json_spans(tx)
    if raw is None:
        spans = read_body(tx.body).get("spans")
        raw = spans if isinstance(spans, list) else []
    return raw


def _classic(
    tx: Transaction, raw: list[Any] | None = None
) -> tuple[TransactionInfo, SpanInfo | None]:
    """A classic transaction and its spans, as the detectors read them."""
    spans = [s for s in map(span_from_json, _json_spans(tx) if raw is None else raw) if s]
    return _info(tx, spans), _root(tx) if tx.span_id else None


def _streamed_spans(segments: list[Transaction]) -> dict[tuple[int, str], list[SpanInfo]]:
    """The child spans of span v2 segments, one query per project."""
    by_project: dict[int, set[str]] = defaultdict(set)
    wanted = {(tx.project_id, tx.span_id) for tx in segments}
    for tx in segments:
        by_project[tx.project_id].add(tx.trace_id)
    found: dict[tuple[int, str], list[SpanInfo]] = defaultdict(list)
    for project_id, traces in by_project.items():
        # By trace: the span table's index (it has none on segment_id).
        rows = Span.objects.filter(
            project_id=project_id, trace_id__in=traces, is_segment=False
        ).values_list(
            "segment_id",
            "span_id",
            "parent_span_id",
            "op",
            "name",
            "start",
            "duration_ms",
            "attributes",
        )
        for segment, span_id, parent, op, name, start, duration, attributes in rows:
            if (project_id, segment) not in wanted:
                continue
            found[(project_id, segment)].append(
                _row_span(span_id, parent, op, name, start, duration, attributes)
            )
    return found


def _row_span(
    span_id: str, parent: str, op: str, name: str, start: datetime, duration: float, attrs: Any
) -> SpanInfo:
    try:
        data = orjson.loads(decompress(attrs)) if attrs else {}
    except Exception:  # a damaged row is a span without data, not a failed batch
        log.warning("unreadable span attributes of %s", span_id)
        data = {}
    begin = start.timestamp()
    return SpanInfo(
        span_id,
        parent,
        op,
        name,
        begin,
        begin + duration / 1000,
        data if isinstance(data, dict) else {},
    )
