"""The steps an error event goes through: normalize, filter, scrub, derive, group.

A step that fails on a hostile or unexpected event records a processing error on the event
and the event is still stored (scrubbing failures drop the free-form data instead, so nothing
unscrubbed is ever stored).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson

from spyglass.digest import derive
from spyglass.digest.config import ProjectConfig
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.filters import filter_reason
from spyglass.digest.frames import search_frames
from spyglass.digest.normalize import Normalized, normalize
from spyglass.digest.store import compress_event
from spyglass.digest.types import ProcessedEvent
from spyglass.grouping import GroupingResult, calculate_grouping

log = logging.getLogger(__name__)

# Data categories of outcomes, by event type (Sentry's).
CATEGORY = {
    "csp": "security",
    "hpkp": "security",
    "expectct": "security",
    "expectstaple": "security",
}
# Free-form parts of an event that may hold personal data.
FREE_FORM = ("extra", "request", "user", "breadcrumbs", "contexts", "logentry", "tags")


def category_of(event_type: str) -> str:
    if event_type in CATEGORY:
        return CATEGORY[event_type]
    return "default" if event_type == "default" else "error"


def _error(event: dict[str, Any], kind: str, detail: str) -> None:
    errors = event.setdefault("errors", [])
    if isinstance(errors, list):
        errors.append({"type": kind, "detail": detail[:500]})


def _timestamp(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except ValueError:
            return fallback
    return fallback


def _scrub(event: dict[str, Any], config: ProjectConfig) -> dict[str, Any]:
    try:
        return config.scrubber.scrub(event)
    except Exception as exc:
        log.exception("scrubbing failed for event %s", event.get("event_id"))
        for key in FREE_FORM:
            event.pop(key, None)
        for value in (event.get("exception") or {}).get("values") or []:
            for frame in ((value or {}).get("stacktrace") or {}).get("frames") or []:
                if isinstance(frame, dict):
                    frame.pop("vars", None)
        _error(event, "scrubbing_failed", f"{exc.__class__.__name__}; free-form data dropped")
        return event


def _group(event: dict[str, Any], config: ProjectConfig) -> GroupingResult | None:
    try:
        result = calculate_grouping(event, config.grouping)
        if result.hashes:
            return result
        raise ValueError("no grouping hash")
    except Exception as exc:
        log.exception("grouping failed for event %s", event.get("event_id"))
        _error(event, "grouping_failed", f"{exc.__class__.__name__}: {exc}")
        return None


def _fallback_hashes(config: ProjectConfig, title: str) -> tuple[str, list[str]]:
    # Events we can't group still land together, by title, rather than nowhere.
    fallback = hashlib.md5(f"grouping-failed:{title}".encode(), usedforsecurity=False)
    return config.grouping.id, [fallback.hexdigest()]


def _apply_grouping(event: dict[str, Any], result: GroupingResult) -> None:
    """What grouping tells the event, as Sentry records it: the main exception of an
    exception group (titles come from it) and the fingerprint rule that matched."""
    if result.main_exception_id is not None:
        event["main_exception_id"] = result.main_exception_id
    if result.matched_rule is not None:
        rule: dict[str, Any] = {"text": result.matched_rule}
        if result.title is not None:
            rule["attributes"] = {"title": result.title}
        event["_fingerprint_info"] = {"matched_rule": rule}


def normalize_item(ctx: ItemContext, payload: bytes | None = None) -> Normalized:
    """Relay's normalization of an event or transaction item (a security report's event is
    given as ``payload``)."""
    return normalize(
        payload if payload is not None else ctx.payload,
        project_id=ctx.project_id,
        client_ip=ctx.client_ip or None,
        user_agent=ctx.user_agent or None,
        received_at=ctx.received_at.timestamp(),
        sent_at=_str(ctx.envelope_headers.get("sent_at")),
    )


def process_event(
    ctx: ItemContext, config: ProjectConfig, batch: BatchContext, normalized: Normalized
) -> ProcessedEvent | None:
    """The stored form of one normalized event item, or None when an inbound filter drops
    it."""
    event = normalized.event
    if ctx.event_id:
        event["event_id"] = ctx.event_id
    event_type = derive.event_type(event)
    reason = filter_reason(event, config.filters)
    if reason is not None:
        batch.count_item_once(ctx, category_of(event_type), "filtered", reason)
        batch.filtered_events.add((ctx.project_id, _str(event.get("event_id")) or ctx.event_id))
        return None
    event = _scrub(event, config)
    grouping = _group(event, config)
    if grouping is not None:
        _apply_grouping(event, grouping)
    metadata = derive.event_metadata(event)
    title = derive.event_title(event, metadata)
    if grouping is not None and grouping.title:
        # A fingerprint rule's title="…" names the issue (Sentry's custom title).
        metadata["title"] = title = grouping.title
    if grouping is None:
        grouping_config, hashes = _fallback_hashes(config, title)
    else:
        grouping_config, hashes = grouping.config_id, grouping.hashes
    return _processed(ctx, event, event_type, metadata, title, grouping_config, hashes)


def prepare_transaction(
    ctx: ItemContext, config: ProjectConfig, batch: BatchContext, normalized: Normalized
) -> ItemContext | None:
    """A normalized transaction through the same inbound filters (health checks) and
    scrubbing as errors, ready for its handler; None when a filter drops it."""
    event = normalized.event
    if normalized.errors and event.get("type") != "transaction":
        return ctx  # not a readable transaction: its handler counts it as invalid
    reason = filter_reason(event, config.filters)
    if reason is not None:
        batch.count_item_once(ctx, "transaction", "filtered", reason)
        return None
    event = _scrub(event, config)
    return replace(ctx, payload=orjson.dumps(event), parsed=event)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _processed(
    ctx: ItemContext,
    event: dict[str, Any],
    event_type: str,
    metadata: dict[str, Any],
    title: str,
    grouping_config: str,
    hashes: list[str],
) -> ProcessedEvent:
    sdk = event.get("sdk") if isinstance(event.get("sdk"), dict) else {}
    trace = (
        ((event.get("contexts") or {}).get("trace") or {})
        if isinstance(event.get("contexts"), dict)
        else {}
    )
    logentry = event.get("logentry") if isinstance(event.get("logentry"), dict) else {}
    return ProcessedEvent(
        project_id=ctx.project_id,
        event_id=_str(event.get("event_id")) or ctx.event_id,
        event={},
        timestamp=_timestamp(event.get("timestamp"), ctx.received_at),
        received_at=ctx.received_at,
        type=event_type,
        title=title,
        culprit=derive.event_culprit(event),
        metadata=metadata,
        level=_str(event.get("level")) or "error",
        platform=_str(event.get("platform")) or "other",
        release=_str(event.get("release")),
        environment=_str(event.get("environment")),
        dist=_str(event.get("dist")),
        transaction=_str(event.get("transaction")),
        message=_str((logentry or {}).get("formatted")) or _str(event.get("message")),
        trace_id=_str((trace or {}).get("trace_id")),
        user_key=derive.user_key(event) or "",
        sdk_name=_str((sdk or {}).get("name")),
        sdk_version=_str((sdk or {}).get("version")),
        logger=_str(event.get("logger")),
        tags=derive.event_tags(event),
        grouping_config=grouping_config,
        hashes=hashes,
        has_processing_errors=bool(event.get("errors")),
        body=compress_event(ctx.project_id, event),
        frames=search_frames(event),
    )
