"""Logs: ``log`` containers of Sentry's structured log lines, one row each."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import (
    Invalid,
    attributes,
    dict_of,
    guarded,
    hex_id,
    moment,
    parsed,
    text,
)
from spyglass.logs.models import LogEntry

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
    for ctx, entries in parsed(batch, items, "log", _log_items):
        rows.extend(guarded(batch, ctx, "log_item", _log, entries))
    # A line sent twice (an SDK's retry) has the same uid: the unique constraint drops it.
    LogEntry.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    for row in rows:
        batch.outcomes.add(row.project_id, "log_item", "accepted")
