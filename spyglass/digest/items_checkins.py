"""Cron check-ins: each opens, updates or closes a run of its monitor, which the first
check-in with a ``monitor_config`` creates (``monitors.models.record_checkin``)."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.text import slugify

from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import Invalid, clean, dict_of, hex_id, number, parsed, text
from spyglass.monitors.models import CLIENT_STATUSES, CheckInUpdate, record_checkin


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
    for ctx, update in parsed(batch, items, "check_in", _checkin):
        if record_checkin(update):
            batch.outcomes.add(ctx.project_id, "monitor", "accepted")
