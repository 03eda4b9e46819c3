"""Transactions and spans: classic ``transaction`` items (whose spans are copied to the Span
table too), span v2 containers and legacy standalone ``span`` items (a segment span becomes a
transaction as well, so performance pages need not care how it arrived)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import (
    Invalid,
    attributes,
    clean,
    compress,
    dict_of,
    envelope_event_id,
    guarded,
    hex_id,
    moment,
    number,
    parsed,
    text,
    user_key,
)
from spyglass.digest.types import OutcomeCounts
from spyglass.perfissues.models import Redetection
from spyglass.perfissues.spans import keep_json_spans
from spyglass.performance import clustering, rollups
from spyglass.performance.models import Span, SpanStatus, Transaction, new_row, store_new

# Sentry's statuses for HTTP codes (what SDKs set when they know the response).
_HTTP_STATUS = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    409: "already_exists",
    429: "resource_exhausted",
    499: "cancelled",
    501: "unimplemented",
    503: "unavailable",
    504: "deadline_exceeded",
}
_WEB_VITAL = re.compile(r"browser\.web_vital\.([a-z]+)\.value")


def _http_code(*candidates: Any) -> int | None:
    for value in candidates:
        try:
            code = int(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if 100 <= code <= 599:
            return code
    return None


def _status_from_http(code: int | None) -> str:
    if code is None:
        return SpanStatus.UNKNOWN
    if code < 400:
        return SpanStatus.OK
    return _HTTP_STATUS.get(code, "internal_error" if code >= 500 else "invalid_argument")


def _measurements(value: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, measurement in list(dict_of(value).items())[:100]:
        amount = number(dict_of(measurement).get("value"))
        if amount is not None:
            unit = text(dict_of(measurement).get("unit"), 32) or "none"
            found[text(name, 64)] = {"value": amount, "unit": unit}
    return found


def _tag_pairs(value: Any) -> list[list[str]]:
    pairs = value.items() if isinstance(value, dict) else value if isinstance(value, list) else []
    tags: list[list[str]] = []
    for pair in list(pairs)[:200]:
        if isinstance(pair, list | tuple) and len(pair) == 2:
            key, tag = text(pair[0], 200), text(pair[1], 200)
            if key and tag:
                tags.append([key, tag])
    return tags


def _transaction(ctx: ItemContext, payload: dict[str, Any]) -> tuple[Transaction, dict[str, Any]]:
    """The row of a classic transaction, and its payload (for its spans, once stored)."""
    start, end = moment(payload.get("start_timestamp")), moment(payload.get("timestamp"))
    if start is None or end is None:
        raise Invalid("invalid_timestamp")
    if clustering.rename_event(ctx.project_id, payload):  # URL names: the project's rules
        ctx = replace(ctx, payload=orjson.dumps(payload))
    contexts = dict_of(payload.get("contexts"))
    trace = dict_of(contexts.get("trace"))
    data = dict_of(trace.get("data"))
    request = dict_of(payload.get("request"))
    tags = _tag_pairs(payload.get("tags"))
    code = _http_code(
        dict_of(contexts.get("response")).get("status_code"),
        data.get("http.response.status_code"),
        dict(tags).get("http.status_code"),
    )
    dsc = dict_of(ctx.envelope_headers.get("trace"))
    sdk = dict_of(payload.get("sdk"))
    spans = payload.get("spans")
    row = new_row(
        Transaction,
        project_id=ctx.project_id,
        event_id=hex_id(payload.get("event_id"), 32) or envelope_event_id(ctx),
        trace_id=hex_id(trace.get("trace_id"), 32),
        span_id=hex_id(trace.get("span_id"), 16),
        parent_span_id=hex_id(trace.get("parent_span_id"), 16),
        name=text(payload.get("transaction"), 200) or "<unlabeled transaction>",
        op=text(trace.get("op"), 64),
        status=(
            SpanStatus.parse(trace["status"]) if trace.get("status") else _status_from_http(code)
        ),
        start=start,
        duration_ms=max(0.0, (end - start).total_seconds() * 1000),
        received_at=ctx.received_at,
        release=text(payload.get("release") or dsc.get("release"), 250),
        environment=text(payload.get("environment") or dsc.get("environment"), 64),
        user_key=user_key(dict_of(payload.get("user")), ctx.client_ip),
        http_method=text(
            request.get("method") or data.get("http.request.method") or data.get("http.method"),
            16,
        ).upper(),
        http_status_code=code,
        measurements=_measurements(payload.get("measurements")),
        tags=tags,
        span_count=len(spans) if isinstance(spans, list) else 0,
        platform=text(payload.get("platform"), 64),
        sdk_name=text(sdk.get("name"), 128),
        sdk_version=text(sdk.get("version"), 64),
        body=compress(ctx.payload),
    )
    keep_json_spans(row, spans)  # the detectors read them after commit
    return row, payload


def _store_transactions(batch: BatchContext, rows: Iterable[Transaction]) -> list[Transaction]:
    """Idempotent on (project, event id): what is stored already is skipped, not counted.
    Returns the rows stored."""
    stored = store_new(rows, "event_id")
    batch.transactions.extend(stored)
    for row in stored:
        batch.outcomes.add(row.project_id, "transaction", "accepted")
    rollups.record(stored)
    clustering.save_seen()
    return stored


def _store_spans(batch: BatchContext, rows: Iterable[Span]) -> list[Span]:
    """Idempotent on (project, span id), like transactions."""
    stored = store_new(rows, "span_id")
    for row in stored:
        batch.outcomes.add(row.project_id, "span", "accepted")
    return stored


@dataclass
class PreparedTransactions:
    """Transaction rows and their spans, built before the write transaction (they cost more
    CPU than storing them). A transaction's spans and what they counted (invalid spans) only
    count if the transaction turns out to be new."""

    rows: list[Transaction] = field(default_factory=list)
    spans: dict[tuple[int, str], tuple[list[Span], OutcomeCounts]] = field(default_factory=dict)


def prepare_transactions(batch: BatchContext, items: list[ItemContext]) -> PreparedTransactions:
    prepared = PreparedTransactions()
    for ctx, (row, payload) in parsed(batch, items, "transaction", _transaction):
        prepared.rows.append(row)
        key = (row.project_id, row.event_id)
        if key not in prepared.spans:
            counted = BatchContext(batch.now)
            spans = _classic_spans(counted, ctx, row, payload)
            prepared.spans[key] = (spans, counted.outcomes)
    return prepared


def store_transactions(batch: BatchContext, prepared: PreparedTransactions) -> None:
    spans: list[Span] = []
    # Only the transactions stored now: a repeated one has its spans stored already.
    for tx in _store_transactions(batch, prepared.rows):
        rows, outcomes = prepared.spans[(tx.project_id, tx.event_id)]
        spans.extend(rows)
        batch.outcomes.merge(outcomes)
    _store_spans(batch, spans)


def handle_transactions(batch: BatchContext, items: list[ItemContext]) -> None:
    store_transactions(batch, prepare_transactions(batch, items))


def _classic_spans(
    batch: BatchContext, ctx: ItemContext, tx: Transaction, payload: dict[str, Any]
) -> list[Span]:
    """A classic transaction's spans as rows, stored as the same spans sent on their own
    would be: its own span (the segment) first, then its children, with the transaction's
    trace and its span as their segment. (Its name, release and environment are not copied
    to every span: ``segment_id`` leads to the transaction.)"""
    if not tx.trace_id or not tx.span_id:
        return []  # no trace context: nothing to hang spans on
    trace = dict_of(dict_of(payload.get("contexts")).get("trace"))
    own = {
        "trace_id": tx.trace_id,
        "span_id": tx.span_id,
        "parent_span_id": tx.parent_span_id,
        "is_segment": True,
        "description": tx.name,
        "op": tx.op,
        "status": tx.status,
        "start_timestamp": payload.get("start_timestamp"),
        "timestamp": payload.get("timestamp"),
        "data": trace.get("data"),
    }
    children = payload.get("spans")
    raw = [own] + [
        {**child, "trace_id": tx.trace_id, "segment_id": tx.span_id}
        if isinstance(child, dict)
        else child
        for child in (children if isinstance(children, list) else [])
    ]
    return [row for row, _, _ in guarded(batch, ctx, "span", _normalized_span, raw)]


def _normalized_span(ctx: ItemContext, raw: Any) -> tuple[Span, dict[str, Any], Any]:
    return _span(ctx, raw, normalized=True)


# Span attributes of up to this many bytes of JSON are stored as they are: zstd saves a fifth
# of them for ≈ 3 µs a span (a transaction has ≈ 24); `events.bodies.decompress` reads both.
PLAIN_ATTRIBUTES = 256
# Attributes that are columns already or only repeat SDK configuration on every segment.
_SPAN_COLUMNS = ("sentry.op", "sentry.segment.id", "sentry.sdk.integrations")


def _span(ctx: ItemContext, raw: Any, normalized: bool = False) -> tuple[Span, dict[str, Any], Any]:
    """A span v2 item (or a legacy standalone span): the row, its attributes and the raw
    span (kept for a segment's transaction body). ``normalized``: a classic transaction's
    span, whose data Relay's normalizer has bounded already."""
    span = dict_of(raw)
    trace_id, span_id = hex_id(span.get("trace_id"), 32), hex_id(span.get("span_id"), 16)
    start = moment(span.get("start_timestamp"))
    end = moment(span.get("end_timestamp", span.get("timestamp")))
    if not trace_id or not span_id or start is None or end is None:
        raise Invalid("invalid_span")
    attrs = attributes(span["attributes"]) if "attributes" in span else {}
    if not attrs and normalized:
        attrs = {**dict_of(span.get("tags")), **dict_of(span.get("data"))}
    elif not attrs:  # legacy spans: `data` and `tags` are plain values already
        attrs = {**clean(dict_of(span.get("tags"))), **clean(dict_of(span.get("data")))}
    is_segment = span.get("is_segment") is True
    segment_id = hex_id(attrs.get("sentry.segment.id") or span.get("segment_id"), 16)
    row = new_row(
        Span,
        project_id=ctx.project_id,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=hex_id(span.get("parent_span_id"), 16),
        segment_id=segment_id or (span_id if is_segment else ""),
        is_segment=is_segment,
        name=text(span.get("name", span.get("description")), 2000),
        op=text(attrs.get("sentry.op") or span.get("op"), 64),
        status=SpanStatus.parse(span.get("status")),
        start=start,
        duration_ms=max(0.0, (end - start).total_seconds() * 1000),
    )
    kept = orjson.dumps({k: v for k, v in attrs.items() if k not in _SPAN_COLUMNS})
    row.attributes = kept if len(kept) <= PLAIN_ATTRIBUTES else compress(kept)
    return row, attrs, raw


def _spans_of(ctx: ItemContext, payload: dict[str, Any]) -> list[Any]:
    items = payload.get("items")
    if isinstance(items, list):
        return items
    if "items" in payload:
        raise Invalid("invalid_span")
    return [payload]  # a legacy single span


def _segment_transaction(
    ctx: ItemContext, row: Span, attrs: dict[str, Any], raw: Any, children: int
) -> Transaction:
    """The transaction a span v2 segment stands for, so performance pages need not care how
    it arrived. Its id is derived from trace and span id: redelivery finds the same row."""
    code = _http_code(attrs.get("http.response.status_code"))
    sdk_name = text(attrs.get("sentry.sdk.name"), 128)
    vitals = _vitals_of(attrs)
    user = {
        "id": attrs.get("user.id"),
        "username": attrs.get("user.name"),
        "email": attrs.get("user.email"),
        "ip_address": attrs.get("user.ip_address"),
    }
    name = text(attrs.get("sentry.segment.name") or row.name, 200)
    if row.op in _PAGE_LOAD_OPS and (not name or name in _FALLBACK_NAMES):
        # Span streaming names page loads and navigations "Pageload" / "Navigation" (low
        # cardinality); the SDK's static lifecycle, and so Sentry's pages, name them by the
        # URL path, which the segment carries as `url.path`.
        name = text(attrs.get("url.path"), 200) or name
    name = clustering.rename_segment(row.project_id, name, attrs)
    return new_row(
        Transaction,
        project_id=row.project_id,
        event_id=row.trace_id[:16] + row.span_id,
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=name or "<unlabeled transaction>",
        op=row.op,
        status=row.status,
        start=row.start,
        duration_ms=row.duration_ms,
        received_at=ctx.received_at,
        release=text(attrs.get("sentry.release"), 250),
        environment=text(attrs.get("sentry.environment"), 64),
        user_key=user_key(user, ctx.client_ip),
        http_method=text(attrs.get("http.request.method"), 16).upper(),
        http_status_code=code,
        measurements=vitals,
        # Custom attributes (no namespace) are what a classic transaction sends as tags.
        tags=[[k, text(v, 200)] for k, v in attrs.items() if "." not in k and isinstance(v, str)],
        span_count=children,
        platform=text(attrs.get("sentry.platform"), 64) or _platform_of_sdk(sdk_name),
        sdk_name=sdk_name,
        sdk_version=text(attrs.get("sentry.sdk.version"), 64),
        body=compress(orjson.dumps(clean(raw))),
    )


_PAGE_LOAD_OPS = frozenset({"pageload", "navigation"})
_FALLBACK_NAMES = frozenset({"Pageload", "Navigation"})
_VITAL_OPS = ("ui.webvital.", "ui.interaction.")


def _vitals_of(attrs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Measurements from ``browser.web_vital.<name>.value`` attributes."""
    vitals: dict[str, dict[str, Any]] = {}
    for key, value in attrs.items():
        match, amount = _WEB_VITAL.fullmatch(key), number(value)
        if match and amount is not None:
            unit = "none" if match[1] == "cls" else "millisecond"
            vitals[match[1]] = {"value": amount, "unit": unit}
    return vitals


def _vital_spans(
    spans: Iterable[tuple[ItemContext, Span, dict[str, Any], Any]],
) -> dict[tuple[int, str, str], dict[str, dict[str, Any]]]:
    """The web vitals browser SDKs send as spans of their own (``ui.webvital.lcp``,
    ``ui.webvital.cls``, INP on ``ui.interaction.*``), by (project, trace, page-load span):
    they belong in the page load's measurements, where Sentry reads them."""
    found: dict[tuple[int, str, str], dict[str, dict[str, Any]]] = {}
    for _, row, attrs, _ in spans:
        if not row.op.startswith(_VITAL_OPS):
            continue
        target = hex_id(attrs.get("sentry.pageload.span_id"), 16) or (
            "" if row.is_segment else row.segment_id
        )
        vitals = _vitals_of(attrs)
        if target and vitals:
            found.setdefault((row.project_id, row.trace_id, target), {}).update(vitals)
    return found


def _fold_late_vitals(vitals: dict[tuple[int, str, str], dict[str, dict[str, Any]]]) -> None:
    """Vitals whose page load was stored by an earlier batch: into its measurements."""
    for (project_id, trace_id, span_id), measured in sorted(vitals.items()):
        tx = (
            Transaction.objects.select_for_update()
            .filter(project_id=project_id, trace_id=trace_id, span_id=span_id)
            .only("id", "measurements")
            .first()
        )
        if tx is None:
            continue  # the page load is not (yet) stored: the vitals stay in their spans
        current = tx.measurements if isinstance(tx.measurements, dict) else {}
        merged = {**current, **measured}
        if merged != current:
            Transaction.objects.filter(id=tx.id).update(measurements=merged)


def _mark_late_children(
    fresh: Iterable[tuple[ItemContext, Span, dict[str, Any], Any]],
    new_segments: set[tuple[int, str]],
) -> None:
    """Child spans whose segment an earlier batch stored: the detectors saw that segment
    without them, so it is marked to be looked at again after this batch commits."""
    late: dict[tuple[int, str, str], list[str]] = {}
    for _, row, _, _ in fresh:
        if row.is_segment or not row.segment_id or row.segment_id == row.span_id:
            continue
        if (row.project_id, row.segment_id) in new_segments:
            continue
        late.setdefault((row.project_id, row.trace_id, row.segment_id), []).append(row.span_id)
    if not late:
        return
    stored: set[tuple[int, str, str]] = set()
    for project_id in sorted({key[0] for key in late}):
        keys = [key for key in late if key[0] == project_id]
        stored.update(
            (project_id, trace_id, span_id)
            for trace_id, span_id in Transaction.objects.filter(
                project_id=project_id,
                trace_id__in={key[1] for key in keys},
                span_id__in={key[2] for key in keys},
            ).values_list("trace_id", "span_id")
        )
    Redetection.objects.bulk_create(
        Redetection(project_id=p, trace_id=t, segment_id=s, span_ids=late[(p, t, s)])
        for p, t, s in sorted(stored & set(late))
    )


def _platform_of_sdk(sdk_name: str) -> str:
    if sdk_name.startswith("sentry.python"):
        return "python"
    if sdk_name.startswith("sentry.javascript.node"):
        return "node"
    return "javascript" if sdk_name.startswith("sentry.javascript") else ""


def handle_spans(batch: BatchContext, items: list[ItemContext]) -> None:
    spans: dict[tuple[int, str], tuple[ItemContext, Span, dict[str, Any], Any]] = {}
    for ctx, entries in parsed(batch, items, "span", _spans_of):
        for row, attrs, raw in guarded(batch, ctx, "span", _span, entries):
            spans.setdefault((row.project_id, row.span_id), (ctx, row, attrs, raw))
    rows = [row for _, row, _, _ in spans.values()]
    stored = {(row.project_id, row.span_id) for row in _store_spans(batch, rows)}
    fresh = [value for key, value in spans.items() if key in stored]
    children: dict[tuple[int, str], int] = {}
    for _, row, _, _ in spans.values():
        if not row.is_segment and row.segment_id:
            key = (row.project_id, row.segment_id)
            children[key] = children.get(key, 0) + 1
    segments = [
        _segment_transaction(ctx, row, attrs, raw, children.get((row.project_id, row.span_id), 0))
        for ctx, row, attrs, raw in fresh
        if row.is_segment
    ]
    vitals = _vital_spans(fresh)
    for tx in segments:
        measured = vitals.pop((tx.project_id, tx.trace_id, tx.span_id), None)
        if measured:
            tx.measurements = {**tx.measurements, **measured}
    _store_transactions(batch, segments)
    _fold_late_vitals(vitals)
    _mark_late_children(fresh, {(tx.project_id, tx.span_id) for tx in segments})
