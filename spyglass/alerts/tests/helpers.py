"""Shared helpers of the alerts tests: channels, rules, and digesting real SDK events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sentry_sdk
import time_machine

from spyglass.alerts import conditions, delivery
from spyglass.alerts.models import Rule
from spyglass.digest.batch import process_batch
from spyglass.digest.store import StoreResult
from spyglass.digest.tests.sdk import queued, raise_and_capture, sdk
from spyglass.notifications.models import Channel, Delivery
from spyglass.projects.models import Project
from spyglass.test import World


def make_channel(world: World, slug: str = "ops-hook", kind: str = "webhook") -> Channel:
    return Channel.objects.create(
        organization=world.org,
        kind=kind,
        slug=slug,
        name=slug,
        config={"url": "http://127.0.0.1:9/hook"},
    )


def make_rule(project: Project, *, conds: list[dict[str, Any]], **fields: Any) -> Rule:
    fields.setdefault("name", "Test rule")
    fields.setdefault("actions", [{"id": delivery.SERVICE_ACTION, "service": "ops-hook"}])
    return Rule.objects.create(project=project, conditions=conds, **fields)


def frequency(value: int, interval: str = "1m") -> dict[str, Any]:
    return {"id": conditions.FREQUENCY, "value": value, "interval": interval}


FIRST_SEEN = {"id": conditions.FIRST_SEEN}
REGRESSION = {"id": conditions.REGRESSION}


def deliveries(channel: Channel) -> list[dict[str, Any]]:
    return [d.notification for d in Delivery.objects.filter(channel=channel).order_by("id")]


def fail(
    kind: type[Exception] = ZeroDivisionError, text: str = "boom"
) -> Callable[[], BaseException]:
    return lambda: kind(text)


def digest_errors(
    world: World,
    count: int,
    make: Callable[[], BaseException] | None = None,
    *,
    user: dict[str, str] | None = None,
    **options: Any,
) -> StoreResult:
    """``count`` events captured by the real sentry-sdk, digested as one batch."""
    options.setdefault("release", "api@1.0.0")
    with sdk(**options) as capture:
        if user is not None:
            sentry_sdk.get_current_scope().set_user(user)
        for _ in range(count):
            raise_and_capture(make or fail())
    return process_batch(queued(world.project.id, capture.envelopes, key_id=world.key.id))


def digest_transactions(
    world: World,
    durations_ms: list[float],
    *,
    at: datetime,
    name: str = "GET /api/checkout",
    http_status: int = 200,
    **options: Any,
) -> StoreResult:
    """Transactions sent by the real sentry-sdk, started at ``at`` and lasting each of
    ``durations_ms``, digested as one batch."""
    options.setdefault("traces_sample_rate", 1.0)
    with time_machine.travel(at, tick=False), sdk(**options) as capture:
        for duration in durations_ms:
            tx = sentry_sdk.start_transaction(name=name, op="http.server", start_timestamp=at)
            tx.set_http_status(http_status)
            tx.finish(end_timestamp=at + timedelta(milliseconds=duration))
    # Received when sent: Relay moves timestamps far in the past to the receive time.
    with time_machine.travel(at, tick=False):
        return process_batch(queued(world.project.id, capture.envelopes, key_id=world.key.id))
