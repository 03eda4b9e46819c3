"""Handlers for the envelope items that are not error events.

Each handler receives every item of its type in a batch and stores them inside the batch's
open transaction, in bulk where it can. Input is never trusted: an item that is not JSON or not
the right shape is counted as an ``invalid`` outcome and skipped, never raised. Item types this
server does not store are counted (``count_only``) and dropped.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import orjson
import zstandard
from django.utils.text import slugify

from spyglass.attachments.models import AttachmentFile, store_for_event
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.events.models import Event
from spyglass.feedback.models import UserFeedback
from spyglass.logs.models import LogEntry
from spyglass.monitors.models import CLIENT_STATUSES, CheckInUpdate, record_checkin
from spyglass.performance.models import Span, SpanStatus, Transaction, store_new
from spyglass.releases.models import TERMINAL, SessionAggregate, SessionUpdate, record_sessions

log = logging.getLogger(__name__)

Handler = Callable[[BatchContext, list[ItemContext]], None]
_T = TypeVar("_T")

# Outcome data categories by item type (Sentry's); other types count under their own name.
CATEGORY = {
    "transaction": "transaction",
    "span": "span",
    "session": "session",
    "sessions": "session",
    "check_in": "monitor",
    "log": "log_item",
    "attachment": "attachment",
    "feedback": "user_report_v2",
    "user_report": "user_report_v2",
    "profile": "profile",
    "trace_metric": "trace_metric",
}

_compressor = zstandard.ZstdCompressor(level=3)


class Invalid(Exception):
    """A payload we cannot use; ``reason`` goes to the ``invalid`` outcome."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def category(item_type: str) -> str:
    return CATEGORY.get(item_type) or text(item_type, 32) or "unknown"


# --- lenient readers of wire values -----------------------------------------------------------


def text(value: Any, limit: int) -> str:
    """A string for a column: ``""`` for nothing or containers, no NUL (PostgreSQL refuses
    it), at most ``limit`` characters."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    string = value if isinstance(value, str) else str(value)
    if "\x00" in string:
        string = string.replace("\x00", "")
    return string[:limit]


def dict_of(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def hex_id(value: Any, size: int) -> str:
    """A lower-case hex id of ``size`` digits (trace and event ids may come hyphenated), or
    ``""``."""
    if not isinstance(value, str):
        return ""
    cleaned = value.strip().lower().replace("-", "") if size == 32 else value.strip().lower()
    return cleaned if len(cleaned) == size and _HEX.fullmatch(cleaned) else ""


_HEX = re.compile(r"[0-9a-f]+")


def moment(value: Any) -> datetime | None:
    """A UTC datetime from unix seconds (number or numeric string) or RFC 3339 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
                return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
            except (ValueError, OverflowError):
                return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    result = float(value)
    return result if abs(result) < 1e15 else None


def clean(value: Any, depth: int = 0) -> Any:
    """JSON that PostgreSQL's jsonb accepts (no NUL) and of bounded size."""
    if isinstance(value, str):
        return text(value, 8192)
    if isinstance(value, dict):
        if depth > 6:
            return None
        return {text(k, 200): clean(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, list):
        return None if depth > 6 else [clean(v, depth + 1) for v in value[:200]]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return float(value)
    return value


def attributes(value: Any) -> dict[str, Any]:
    """Typed attributes (``{key: {"value": …, "type": …}}``) as plain ``{key: value}``."""
    flat: dict[str, Any] = {}
    for key, attr in list(dict_of(value).items())[:500]:
        flat[text(key, 200)] = clean(attr.get("value") if isinstance(attr, dict) else attr)
    return flat


def user_key(user: dict[str, Any], client_ip: str) -> str:
    """Sentry's ``user`` tag value: ``id:``, ``username:``, ``email:`` or ``ip:``."""
    for key in ("id", "username", "email"):
        value = text(user.get(key), 190)
        if value:
            return f"{key}:{value}"
    ip = text(user.get("ip_address"), 64)
    if ip == "{{auto}}":
        ip = client_ip
    return f"ip:{ip}" if ip else ""


def _envelope_event_id(ctx: ItemContext) -> str:
    return hex_id(ctx.event_id, 32) or uuid.uuid4().hex


def compress(data: bytes) -> bytes:
    return _compressor.compress(data)


def _payloads(
    batch: BatchContext, items: Iterable[ItemContext], item_type: str
) -> Iterator[tuple[ItemContext, dict[str, Any]]]:
    """The items whose payload is a JSON object; the others are counted invalid."""
    for ctx in items:
        try:
            payload = orjson.loads(ctx.payload)
        except orjson.JSONDecodeError:
            batch.outcomes.add(ctx.project_id, category(item_type), "invalid", "invalid_json")
            continue
        if not isinstance(payload, dict):
            batch.outcomes.add(ctx.project_id, category(item_type), "invalid", "invalid_json")
            continue
        yield ctx, payload


def _parsed(
    batch: BatchContext,
    items: Iterable[ItemContext],
    item_type: str,
    parse: Callable[[ItemContext, dict[str, Any]], _T],
) -> Iterator[tuple[ItemContext, _T]]:
    """``parse`` applied to each item that is a JSON object."""
    for ctx, payload in _payloads(batch, items, item_type):
        for result in _guarded(batch, ctx, category(item_type), parse, [payload]):
            yield ctx, result


def _guarded(
    batch: BatchContext,
    ctx: ItemContext,
    kind: str,
    parse: Callable[[ItemContext, Any], _T],
    entries: Iterable[Any],
) -> Iterator[_T]:
    """``parse`` applied to each entry; Invalid (or a parser's surprise: a bad payload must
    not fail the batch again and again) counts the entry invalid in category ``kind``."""
    for entry in entries:
        try:
            yield parse(ctx, entry)
        except Invalid as exc:
            batch.outcomes.add(ctx.project_id, kind, "invalid", exc.reason)
        except Exception:
            log.exception("unexpected %s payload in project %s", kind, ctx.project_id)
            batch.outcomes.add(ctx.project_id, kind, "invalid", "invalid_payload")


def _issues_of(batch: BatchContext, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
    """The issues of events, from this batch or stored before."""
    found = {k: batch.event_issues[k] for k in keys if k in batch.event_issues}
    missing: dict[int, list[str]] = {}
    for project_id, event_id in keys:
        if event_id and (project_id, event_id) not in found:
            missing.setdefault(project_id, []).append(event_id)
    for project_id, ids in missing.items():
        rows = Event.objects.filter(project_id=project_id, event_id__in=ids)
        for event_id, issue_id in rows.values_list("event_id", "issue_id"):
            found[(project_id, event_id)] = issue_id
    return found


# --- transactions and spans -------------------------------------------------------------------

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


def _transaction(ctx: ItemContext, payload: dict[str, Any]) -> Transaction:
    start, end = moment(payload.get("start_timestamp")), moment(payload.get("timestamp"))
    if start is None or end is None:
        raise Invalid("invalid_timestamp")
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
    return Transaction(
        project_id=ctx.project_id,
        event_id=hex_id(payload.get("event_id"), 32) or _envelope_event_id(ctx),
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


def _store_transactions(batch: BatchContext, rows: Iterable[Transaction]) -> None:
    """Idempotent on (project, event id): what is stored already is skipped, not counted."""
    for row in store_new(rows, "event_id"):
        batch.outcomes.add(row.project_id, "transaction", "accepted")


def handle_transactions(batch: BatchContext, items: list[ItemContext]) -> None:
    parsed = _parsed(batch, items, "transaction", _transaction)
    _store_transactions(batch, [row for _, row in parsed])


# Attributes that are columns already or only repeat SDK configuration on every segment.
_SPAN_COLUMNS = ("sentry.op", "sentry.segment.id", "sentry.sdk.integrations")


def _span(ctx: ItemContext, raw: Any) -> tuple[Span, dict[str, Any], Any]:
    """A span v2 item (or a legacy standalone span): the row, its attributes and the raw
    span (kept for a segment's transaction body)."""
    span = dict_of(raw)
    trace_id, span_id = hex_id(span.get("trace_id"), 32), hex_id(span.get("span_id"), 16)
    start = moment(span.get("start_timestamp"))
    end = moment(span.get("end_timestamp", span.get("timestamp")))
    if not trace_id or not span_id or start is None or end is None:
        raise Invalid("invalid_span")
    attrs = attributes(span["attributes"]) if "attributes" in span else {}
    if not attrs:  # legacy spans: `data` and `tags` are plain values already
        attrs = {**clean(dict_of(span.get("tags"))), **clean(dict_of(span.get("data")))}
    is_segment = span.get("is_segment") is True
    segment_id = hex_id(attrs.get("sentry.segment.id") or span.get("segment_id"), 16)
    row = Span(
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
    kept = {k: v for k, v in attrs.items() if k not in _SPAN_COLUMNS}
    row.attributes = compress(orjson.dumps(kept))
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
    vitals = {}
    for key, value in attrs.items():
        match, amount = _WEB_VITAL.fullmatch(key), number(value)
        if match and amount is not None:
            unit = "none" if match[1] == "cls" else "millisecond"
            vitals[match[1]] = {"value": amount, "unit": unit}
    user = {
        "id": attrs.get("user.id"),
        "username": attrs.get("user.name"),
        "email": attrs.get("user.email"),
        "ip_address": attrs.get("user.ip_address"),
    }
    return Transaction(
        project_id=row.project_id,
        event_id=row.trace_id[:16] + row.span_id,
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        name=text(attrs.get("sentry.segment.name") or row.name, 200) or "<unlabeled transaction>",
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


def _platform_of_sdk(sdk_name: str) -> str:
    if sdk_name.startswith("sentry.python"):
        return "python"
    if sdk_name.startswith("sentry.javascript.node"):
        return "node"
    return "javascript" if sdk_name.startswith("sentry.javascript") else ""


def handle_spans(batch: BatchContext, items: list[ItemContext]) -> None:
    spans: dict[tuple[int, str], tuple[ItemContext, Span, dict[str, Any], Any]] = {}
    for ctx, entries in _parsed(batch, items, "span", _spans_of):
        for row, attrs, raw in _guarded(batch, ctx, "span", _span, entries):
            spans.setdefault((row.project_id, row.span_id), (ctx, row, attrs, raw))
    rows = [row for _, row, _, _ in spans.values()]
    stored = {(row.project_id, row.span_id) for row in store_new(rows, "span_id")}
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
    for _, row, _, _ in fresh:
        batch.outcomes.add(row.project_id, "span", "accepted")
    _store_transactions(batch, segments)


# --- release health ---------------------------------------------------------------------------

# Relay refuses session updates older than this; SessionState rows can go after it.
MAX_SESSION_AGE = timedelta(days=5)


def _did(value: Any) -> str:
    did = text(value, 128)
    return "" if did in ("", "{{auto}}", "00000000-0000-0000-0000-000000000000") else did


def _session_attrs(ctx: ItemContext, payload: dict[str, Any]) -> tuple[str, str]:
    attrs = dict_of(payload.get("attrs"))
    release = text(attrs.get("release"), 250)
    if not release:
        raise Invalid("missing_release")  # as Relay: no release, no release health
    return release, text(attrs.get("environment"), 64)


def _started(ctx: ItemContext, value: Any) -> datetime:
    started = moment(value)
    if started is None:
        raise Invalid("invalid_timestamp")
    if started < ctx.received_at - MAX_SESSION_AGE:
        raise Invalid("timestamp")
    return started


def _count(value: Any) -> int:
    return min(int(value), 2**31) if isinstance(value, int) and value > 0 else 0


def _session(ctx: ItemContext, payload: dict[str, Any]) -> SessionUpdate:
    try:
        sid = uuid.UUID(str(payload.get("sid"))).hex
    except ValueError:
        raise Invalid("invalid_sid") from None
    release, environment = _session_attrs(ctx, payload)
    status = text(payload.get("status"), 16).lower()
    return SessionUpdate(
        project_id=ctx.project_id,
        sid=sid,
        distinct_id=_did(payload.get("did")),
        init=payload.get("init") is True,
        status=status if status in TERMINAL else "ok",
        errors=_count(payload.get("errors")),
        started=_started(ctx, payload.get("started")),
        release=release,
        environment=environment,
    )


def _aggregates(ctx: ItemContext, payload: dict[str, Any]) -> list[SessionAggregate]:
    release, environment = _session_attrs(ctx, payload)
    buckets = payload.get("aggregates")
    if not isinstance(buckets, list):
        raise Invalid("invalid_aggregates")
    found = []
    for bucket in buckets[:1000]:
        bucket = dict_of(bucket)
        found.append(
            SessionAggregate(
                project_id=ctx.project_id,
                started=_started(ctx, bucket.get("started")),
                distinct_id=_did(bucket.get("did")),
                release=release,
                environment=environment,
                **{k: _count(bucket.get(k)) for k in ("exited", "errored", "crashed", "abnormal")},
            )
        )
    return found


def handle_session(batch: BatchContext, items: list[ItemContext]) -> None:
    updates = [update for _, update in _parsed(batch, items, "session", _session)]
    record_sessions(updates, [])
    for update in updates:
        batch.outcomes.add(update.project_id, "session", "accepted")


def handle_sessions(batch: BatchContext, items: list[ItemContext]) -> None:
    parsed = list(_parsed(batch, items, "sessions", _aggregates))
    record_sessions([], [a for _, buckets in parsed for a in buckets])
    for ctx, _ in parsed:
        batch.outcomes.add(ctx.project_id, "session", "accepted")


# --- cron check-ins ---------------------------------------------------------------------------


def _checkin(ctx: ItemContext, payload: dict[str, Any]) -> CheckInUpdate:
    slug = slugify(text(payload.get("monitor_slug"), 200))[:50]
    if not slug:
        raise Invalid("missing_monitor_slug")
    status = text(payload.get("status"), 16)
    if status not in CLIENT_STATUSES:
        raise Invalid("invalid_status")
    raw_id = payload.get("check_in_id")
    check_in_id = hex_id(raw_id, 32) if raw_id is not None else uuid.uuid4().hex
    if not check_in_id:
        raise Invalid("invalid_check_in_id")
    duration = number(payload.get("duration"))
    config = payload.get("monitor_config")
    return CheckInUpdate(
        project_id=ctx.project_id,
        slug=slug,
        check_in_id=check_in_id,
        status=status,
        duration=max(0.0, duration) if duration is not None else None,
        # Sentry files check-ins without an environment under "production".
        environment=text(payload.get("environment"), 64) or "production",
        release=text(payload.get("release"), 250),
        monitor_config=clean(config) if isinstance(config, dict) else None,
        trace_id=hex_id(dict_of(dict_of(payload.get("contexts")).get("trace")).get("trace_id"), 32),
        received_at=ctx.received_at,
    )


def handle_checkins(batch: BatchContext, items: list[ItemContext]) -> None:
    # One by one and in order: the same check-in opens and closes within a batch. Few items.
    for ctx, update in _parsed(batch, items, "check_in", _checkin):
        if record_checkin(update):
            batch.outcomes.add(ctx.project_id, "monitor", "accepted")


# --- logs -------------------------------------------------------------------------------------

LEVELS = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}
_LEVEL_ALIASES = {"warning": "warn", "critical": "fatal", "err": "error"}
# Attributes that become columns, or that only repeat a column.
_LOG_COLUMNS = (
    "sentry.release",
    "sentry.environment",
    "sentry.severity_number",
    "sentry.severity_text",
    "sentry.trace.parent_span_id",
    "sentry.timestamp.sequence",
)


def _level(raw: Any, severity: int | None) -> str:
    level = text(raw, 16).lower()
    level = _LEVEL_ALIASES.get(level, level)
    if level in LEVELS:
        return level
    if severity:
        return [name for name, low in LEVELS.items() if low <= severity][-1]
    return "info"


def _log(ctx: ItemContext, raw: Any) -> LogEntry:
    entry = dict_of(raw)
    if not entry:
        raise Invalid("invalid_log")
    attrs = attributes(entry.get("attributes"))
    severity = entry.get("severity_number")
    severity = severity if isinstance(severity, int) and 1 <= severity <= 24 else None
    level = _level(entry.get("level"), severity)
    span_id = hex_id(entry.get("span_id") or attrs.get("sentry.trace.parent_span_id"), 16)
    trace_id = hex_id(entry.get("trace_id"), 32)
    body = text(entry.get("body"), 16384)
    identity = orjson.dumps(
        [
            entry.get("timestamp"),
            trace_id,
            span_id,
            level,
            attrs.get("sentry.timestamp.sequence"),
            body,
        ]
    )
    return LogEntry(
        project_id=ctx.project_id,
        uid=int.from_bytes(hashlib.blake2b(identity, digest_size=8).digest(), "big") >> 1,
        timestamp=moment(entry.get("timestamp")) or ctx.received_at,
        level=level,
        severity_number=severity or LEVELS[level],
        body=body,
        trace_id=trace_id,
        span_id=span_id,
        release=text(attrs.get("sentry.release"), 250),
        environment=text(attrs.get("sentry.environment"), 64),
        attributes={k: v for k, v in attrs.items() if k not in _LOG_COLUMNS},
    )


def _log_items(ctx: ItemContext, payload: dict[str, Any]) -> list[Any]:
    entries = payload.get("items")
    if not isinstance(entries, list):
        raise Invalid("invalid_log")
    return entries


def handle_logs(batch: BatchContext, items: list[ItemContext]) -> None:
    rows: list[LogEntry] = []
    for ctx, entries in _parsed(batch, items, "log", _log_items):
        rows.extend(_guarded(batch, ctx, "log_item", _log, entries))
    # A redelivered line has the same uid: the unique constraint drops it.
    LogEntry.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for row in rows:
        batch.outcomes.add(row.project_id, "log_item", "accepted")


# --- attachments ------------------------------------------------------------------------------


def handle_attachments(batch: BatchContext, items: list[ItemContext]) -> None:
    by_event: dict[tuple[int, str], list[AttachmentFile]] = {}
    for ctx in items:
        event_id = hex_id(ctx.event_id, 32)
        if not event_id:  # nothing to attach it to
            batch.outcomes.add(ctx.project_id, "attachment", "invalid", "missing_event_id")
            continue
        headers = ctx.item_headers
        by_event.setdefault((ctx.project_id, event_id), []).append(
            AttachmentFile(
                name=text(headers.get("filename"), 255) or "attachment",
                content_type=text(headers.get("content_type"), 128),
                attachment_type=text(headers.get("attachment_type"), 64) or "event.attachment",
                data=ctx.payload,
            )
        )
    issues = _issues_of(batch, by_event)
    for (project_id, event_id), files in by_event.items():
        stored = store_for_event(project_id, event_id, issues.get((project_id, event_id)), files)
        for row in stored:
            # Sentry counts attachments in bytes, and items separately.
            if row.size:
                batch.outcomes.add(project_id, "attachment", "accepted", quantity=row.size)
            batch.outcomes.add(project_id, "attachment_item", "accepted")


# --- user feedback ----------------------------------------------------------------------------


def _feedback(ctx: ItemContext, payload: dict[str, Any]) -> UserFeedback:
    feedback = dict_of(dict_of(payload.get("contexts")).get("feedback"))
    message = text(feedback.get("message"), 4096)
    if not message.strip():
        raise Invalid("missing_feedback_message")
    return UserFeedback(
        project_id=ctx.project_id,
        feedback_id=hex_id(payload.get("event_id"), 32) or _envelope_event_id(ctx),
        event_id=hex_id(feedback.get("associated_event_id"), 32),
        source=UserFeedback.Source.FEEDBACK,
        name=text(feedback.get("name"), 128),
        email=text(feedback.get("contact_email"), 254),
        comments=message,
        url=text(feedback.get("url") or dict_of(payload.get("request")).get("url"), 1024),
        environment=text(payload.get("environment"), 64),
        release=text(payload.get("release"), 250),
        created_at=moment(payload.get("timestamp")) or ctx.received_at,
    )


def _user_report(ctx: ItemContext, payload: dict[str, Any]) -> UserFeedback:
    event_id = hex_id(payload.get("event_id"), 32)
    if not event_id:
        raise Invalid("missing_event_id")
    comments = text(payload.get("comments"), 4096)
    if not comments.strip():
        raise Invalid("missing_comments")
    return UserFeedback(
        project_id=ctx.project_id,
        feedback_id=event_id,  # one report per event: a later one replaces it
        event_id=event_id,
        source=UserFeedback.Source.USER_REPORT,
        name=text(payload.get("name"), 128),
        email=text(payload.get("email"), 254),
        comments=comments,
        created_at=ctx.received_at,
    )


def _store_feedback(batch: BatchContext, rows: Iterable[UserFeedback]) -> None:
    unique = {(row.project_id, row.feedback_id): row for row in rows}
    issues = _issues_of(batch, {(row.project_id, row.event_id) for row in unique.values()})
    for row in unique.values():
        row.issue_id = issues.get((row.project_id, row.event_id))
        batch.outcomes.add(row.project_id, "user_report_v2", "accepted")
    UserFeedback.objects.bulk_create(
        unique.values(),
        update_conflicts=True,
        unique_fields=["project", "feedback_id"],
        update_fields=["name", "email", "comments", "issue"],
    )


def handle_feedback(batch: BatchContext, items: list[ItemContext]) -> None:
    _store_feedback(batch, [row for _, row in _parsed(batch, items, "feedback", _feedback)])


def handle_user_reports(batch: BatchContext, items: list[ItemContext]) -> None:
    _store_feedback(batch, [row for _, row in _parsed(batch, items, "user_report", _user_report)])


# --- counted only -----------------------------------------------------------------------------


# Bounded names: a client report must not mint outcome rows of arbitrary text.
_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_REASON_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _discarded(ctx: ItemContext, payload: dict[str, Any]) -> list[tuple[str, str, int]]:
    entries = payload.get("discarded_events")
    if not isinstance(entries, list):
        raise Invalid("invalid_client_report")
    found = []
    for entry in entries[:100]:
        entry = dict_of(entry)
        kind, reason = entry.get("category"), entry.get("reason")
        quantity = _count(entry.get("quantity"))
        if (
            isinstance(kind, str)
            and isinstance(reason, str)
            and _CATEGORY_NAME.fullmatch(kind)
            and _REASON_NAME.fullmatch(reason)
            and quantity
        ):
            found.append((kind, reason, quantity))
    return found


def handle_client_reports(batch: BatchContext, items: list[ItemContext]) -> None:
    """What SDKs dropped themselves (sampling, before_send, rate-limit backoff, network
    errors): ``client_discard`` outcomes with the SDK's reason and category."""
    for ctx, discarded in _parsed(batch, items, "client_report", _discarded):
        for kind, reason, quantity in discarded:
            batch.outcomes.add(ctx.project_id, kind, "client_discard", reason, quantity)


def _metric_count(ctx: ItemContext, payload: dict[str, Any]) -> int:
    entries = payload.get("items")
    if not isinstance(entries, list):
        raise Invalid("invalid_trace_metric")
    return len(entries)


def handle_trace_metrics(batch: BatchContext, items: list[ItemContext]) -> None:
    # Accepted and counted; nothing reads trace metrics yet, so nothing is stored.
    for ctx, n in _parsed(batch, items, "trace_metric", _metric_count):
        if n:
            batch.outcomes.add(ctx.project_id, "trace_metric", "accepted", quantity=n)


_JSON_OBJECT = re.compile(rb"\s*\{")


def handle_profiles(batch: BatchContext, items: list[ItemContext]) -> None:
    # Profiles are out of scope for now: accepted and counted, not stored. Not parsed either
    # (they run to megabytes): only a glance that the payload is a JSON object.
    for ctx in items:
        if _JSON_OBJECT.match(ctx.payload):
            batch.outcomes.add(ctx.project_id, "profile", "accepted")
        else:
            batch.outcomes.add(ctx.project_id, "profile", "invalid", "invalid_json")


def count_only(batch: BatchContext, items: list[ItemContext]) -> None:
    """Item types we do not store (replays, statsd and metric buckets, profile chunks, OTel
    logs, types we have never heard of): counted under their own name as ``filtered``
    (dropped on purpose, not the client's fault), never an error."""
    for ctx in items:
        item_type = text(ctx.item_headers.get("type"), 32) or "unknown"
        batch.outcomes.add(ctx.project_id, category(item_type), "filtered", "unsupported")


HANDLERS: dict[str, Handler] = {
    "transaction": handle_transactions,
    "span": handle_spans,
    "session": handle_session,
    "sessions": handle_sessions,
    "check_in": handle_checkins,
    "log": handle_logs,
    "attachment": handle_attachments,
    "client_report": handle_client_reports,
    "user_report": handle_user_reports,
    "feedback": handle_feedback,
    "profile": handle_profiles,
    "trace_metric": handle_trace_metrics,
    **{
        name: count_only
        for name in (
            "statsd",
            "metric_buckets",
            "replay_event",
            "replay_recording",
            "replay_video",
            "profile_chunk",
            "otel_log",
        )
    },
}
