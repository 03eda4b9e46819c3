"""What every item handler shares: lenient readers of wire values, and the plumbing that
parses an item's payload, counts what is unusable as an ``invalid`` outcome and never raises.

Input is never trusted: an item that is not JSON or not the right shape is counted and
skipped, never raised (a bad payload must not fail its batch again and again).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import zstandard

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.events.models import Event

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
    if type(value) is str and len(value) <= limit and "\x00" not in value:
        return value  # the common case, first
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
    if type(value) is str and len(value) == size and _HEX.fullmatch(value):
        return value  # clean already (what SDKs and Relay send): nothing to strip or lower
    if not isinstance(value, str):
        return ""
    cleaned = value.strip().lower().replace("-", "") if size == 32 else value.strip().lower()
    return cleaned if len(cleaned) == size and _HEX.fullmatch(cleaned) else ""


_HEX = re.compile(r"[0-9a-f]+")


def moment(value: Any) -> datetime | None:
    """A UTC datetime from unix seconds (number or numeric string) or RFC 3339 text."""
    if value.__class__ is float:  # the common case, first
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
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
    kind = type(value)
    if kind is float or kind is bool or value is None:
        return value
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


def quantity(value: Any) -> int:
    """A positive count from the wire, else 0 (bounded: it goes into integer columns)."""
    return min(int(value), 2**31) if isinstance(value, int) and value > 0 else 0


def envelope_event_id(ctx: ItemContext) -> str:
    return hex_id(ctx.event_id, 32) or uuid.uuid4().hex


def compress(data: bytes) -> bytes:
    return _compressor.compress(data)


def payloads(
    batch: BatchContext, items: Iterable[ItemContext], item_type: str
) -> Iterator[tuple[ItemContext, dict[str, Any]]]:
    """The items whose payload is a JSON object; the others are counted invalid."""
    for ctx in items:
        if ctx.parsed is not None:
            yield ctx, ctx.parsed
            continue
        try:
            payload = orjson.loads(ctx.payload)
        except orjson.JSONDecodeError:
            batch.count_item_once(ctx, category(item_type), "invalid", "invalid_json")
            continue
        if not isinstance(payload, dict):
            batch.count_item_once(ctx, category(item_type), "invalid", "invalid_json")
            continue
        yield ctx, payload


def parsed(
    batch: BatchContext,
    items: Iterable[ItemContext],
    item_type: str,
    parse: Callable[[ItemContext, dict[str, Any]], _T],
) -> Iterator[tuple[ItemContext, _T]]:
    """``parse`` applied to each item that is a JSON object."""
    for ctx, payload in payloads(batch, items, item_type):
        for result in guarded(batch, ctx, category(item_type), parse, [payload]):
            yield ctx, result


def guarded(
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
            batch.count_item_once(ctx, kind, "invalid", exc.reason)
        except Exception:
            log.exception("unexpected %s payload in project %s", kind, ctx.project_id)
            batch.count_item_once(ctx, kind, "invalid", "invalid_payload")


def issues_of(batch: BatchContext, keys: Iterable[tuple[int, str]]) -> dict[tuple[int, str], int]:
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
