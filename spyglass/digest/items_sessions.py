"""Release health: single ``session`` updates and ``sessions`` aggregates, counted per minute
of the sessions' start (``releases.models.record_sessions``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import Invalid, dict_of, moment, parsed, quantity, text
from spyglass.releases.models import (
    MAX_SESSION_AGE,
    TERMINAL,
    SessionAggregate,
    SessionUpdate,
    record_sessions,
)


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
        errors=quantity(payload.get("errors")),
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
                **{
                    k: quantity(bucket.get(k)) for k in ("exited", "errored", "crashed", "abnormal")
                },
            )
        )
    return found


def handle_session(batch: BatchContext, items: list[ItemContext]) -> None:
    updates = [update for _, update in parsed(batch, items, "session", _session)]
    record_sessions(updates, [])
    for update in updates:
        batch.outcomes.add(update.project_id, "session", "accepted")


def handle_sessions(batch: BatchContext, items: list[ItemContext]) -> None:
    found = list(parsed(batch, items, "sessions", _aggregates))
    record_sessions([], [a for _, buckets in found for a in buckets])
    for ctx, _ in found:
        batch.outcomes.add(ctx.project_id, "session", "accepted")
