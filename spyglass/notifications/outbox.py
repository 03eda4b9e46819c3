"""The outbox worker: claim due deliveries, send them, record every attempt.

Rows are claimed in a short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two
workers never take the same row; on SQLite the transaction holds the one write lock), then
sent outside any transaction. A temporary failure waits ``NOTIFY_RETRY_SECONDS`` doubled per
attempt (capped at ``NOTIFY_RETRY_MAX_SECONDS``); a permanent one, or the last allowed
attempt, fails the delivery and marks its channel broken. A worker that dies mid-send leaves
its rows claimed until the lease runs out; then another worker sends them again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from spyglass.notifications import facts as facts_module
from spyglass.notifications import registry
from spyglass.notifications.base import Kind, TransportError
from spyglass.notifications.message import Notification
from spyglass.notifications.models import Channel, Delivery, DeliveryAttempt

log = logging.getLogger(__name__)

BATCH = 10
KEEP_FINISHED = timedelta(days=30)  # delivered, failed and skipped rows (and their attempts)
PRUNE_EVERY = 3600.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def lease_seconds(batch: int) -> float:
    return (float(settings.NOTIFY_TIMEOUT) + 5.0) * batch + 30.0


def claim(worker_id: str, limit: int = BATCH) -> list[int]:
    """Lease up to ``limit`` due deliveries for this worker; their ids, oldest first."""
    now = timezone.now()
    due = Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Delivery.Status.SENDING, claimed_until__lt=now
    )
    # A read first: on SQLite the claiming transaction takes the one write lock, which an
    # idle worker polling every second should not.
    if not Delivery.objects.filter(due).exists():
        return []
    with transaction.atomic():
        rows = Delivery.objects.filter(due).order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            rows = rows.select_for_update(skip_locked=True)
        ids = list(rows.values_list("id", flat=True)[:limit])
        if ids:
            Delivery.objects.filter(pk__in=ids).update(
                status=Delivery.Status.SENDING,
                claimed_by=worker_id,
                claimed_until=now + timedelta(seconds=lease_seconds(len(ids))),
            )
    return ids


@dataclass
class Outcome:
    ok: bool
    permanent: bool = False
    status_code: int | None = None
    error: str = ""
    latency_ms: int = 0


def attempt(delivery: Delivery) -> Outcome:
    """Render and send one delivery; never raises."""
    started = time.monotonic()
    try:
        kind, config = _target(delivery)
        notification = Notification.from_json(delivery.notification)
        payload = kind.render(facts_module.load(notification))
        code = kind.deliver(config, payload)
        outcome = Outcome(ok=True, status_code=code)
    except TransportError as exc:
        outcome = Outcome(False, exc.permanent, exc.status_code, str(exc))
    except Exception as exc:  # a bug in a kind must not stop the worker
        log.exception("delivery %d failed", delivery.pk)
        outcome = Outcome(False, False, None, f"{type(exc).__name__}: {exc}")
    outcome.latency_ms = int((time.monotonic() - started) * 1000)
    return outcome


def _target(delivery: Delivery) -> tuple[Kind, dict[str, Any]]:
    if delivery.channel is not None:
        return registry.get(delivery.channel.kind), dict(delivery.channel.config)
    if delivery.user is None or not delivery.user.email:
        raise TransportError("the user has no email address", permanent=True)
    return registry.get("email"), {"to": [delivery.user.email]}


def backoff(attempts: int) -> float:
    base = float(settings.NOTIFY_RETRY_SECONDS)
    return float(min(settings.NOTIFY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


def process(delivery_id: int, worker_id: str) -> Outcome | None:
    delivery = (
        Delivery.objects.select_related("channel", "user")
        .filter(pk=delivery_id, claimed_by=worker_id, status=Delivery.Status.SENDING)
        .first()
    )
    if delivery is None:
        return None  # our lease ran out and another worker has it
    started_at = timezone.now()
    outcome = attempt(delivery)
    number = delivery.attempts + 1
    max_attempts = 1 if delivery.is_test else int(settings.NOTIFY_MAX_ATTEMPTS)
    update: dict[str, Any] = {"attempts": number, "claimed_until": None, "claimed_by": ""}
    if outcome.ok:
        update.update(status=Delivery.Status.DELIVERED, finished_at=timezone.now(), last_error="")
    elif outcome.permanent or number >= max_attempts:
        update.update(
            status=Delivery.Status.FAILED, finished_at=timezone.now(), last_error=outcome.error
        )
    else:
        update.update(
            status=Delivery.Status.PENDING,
            next_attempt_at=timezone.now() + timedelta(seconds=backoff(number)),
            last_error=outcome.error,
        )
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            channel=delivery.channel,
            number=number,
            worker=worker_id,
            started_at=started_at,
            latency_ms=outcome.latency_ms,
            ok=outcome.ok,
            permanent=outcome.permanent,
            status_code=outcome.status_code,
            error=outcome.error[:4000],
        )
        Delivery.objects.filter(pk=delivery.pk, claimed_by=worker_id).update(**update)
        if update["status"] == Delivery.Status.FAILED and delivery.channel and not delivery.is_test:
            _break(delivery.channel, outcome, number)
    return outcome


def _break(channel: Channel, outcome: Outcome, attempts: int) -> None:
    why = "failed permanently" if outcome.permanent else f"failed {attempts} times"
    channel.mark_broken(f"A delivery {why}: {outcome.error}")


def run_once(worker_id: str, limit: int = BATCH, stop: threading.Event | None = None) -> int:
    ids = claim(worker_id, limit)
    for done, delivery_id in enumerate(ids):
        if stop is not None and stop.is_set():
            release(ids[done:], worker_id)  # stopping: the rest go to another worker now
            return done
        process(delivery_id, worker_id)
    return len(ids)


def release(ids: list[int], worker_id: str) -> None:
    Delivery.objects.filter(
        pk__in=ids, claimed_by=worker_id, status=Delivery.Status.SENDING
    ).update(status=Delivery.Status.PENDING, claimed_by="", claimed_until=None)


def prune(now: datetime | None = None) -> int:
    """Forget finished deliveries older than ``KEEP_FINISHED``; how many went."""
    cutoff = (now or timezone.now()) - KEEP_FINISHED
    finished = [Delivery.Status.DELIVERED, Delivery.Status.FAILED, Delivery.Status.SKIPPED]
    old = Delivery.objects.filter(status__in=finished, created_at__lt=cutoff)
    ids = list(old.values_list("id", flat=True)[:5000])
    if not ids:
        return 0
    DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
    Delivery.objects.filter(pk__in=ids).delete()
    return len(ids)


def run_outbox(stop: threading.Event, *, idle_sleep: float = 1.0) -> None:
    """Deliver until ``stop`` is set (a thread of ``spyglass worker``)."""
    worker_id = default_worker_id()
    log.info("notification outbox %s started", worker_id)
    next_prune = time.monotonic()
    while not stop.is_set():
        close_old_connections()
        try:
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY
                prune()
            done = run_once(worker_id, stop=stop)
        except Exception:
            log.exception("notification outbox pass failed")
            done = 0
        if done == 0:
            stop.wait(idle_sleep)
    close_old_connections()
    log.info("notification outbox %s stopped", worker_id)
