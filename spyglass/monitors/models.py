"""Cron monitors and their check-ins."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models
from django.utils import timezone

from spyglass.projects.models import Project


class CheckInStatus(models.TextChoices):
    IN_PROGRESS = "in_progress"
    OK = "ok"
    ERROR = "error"
    # Created by the server only (the scheduler), never accepted from an SDK.
    MISSED = "missed"
    TIMEOUT = "timeout"


# What SDKs may send.
CLIENT_STATUSES = frozenset({CheckInStatus.IN_PROGRESS, CheckInStatus.OK, CheckInStatus.ERROR})


class Monitor(models.Model):
    """A cron monitor, created by its first check-in; ``config`` is the latest
    ``monitor_config`` a check-in carried (schedule, margin, max runtime, thresholds)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="monitors")
    slug = models.CharField(max_length=50)
    config = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    last_checkin_at = models.DateTimeField(null=True, blank=True)
    last_status = models.CharField(max_length=16, choices=CheckInStatus.choices, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "slug"], name="monitor_slug_unique")
        ]

    def __str__(self) -> str:
        return self.slug


class CheckIn(models.Model):
    """One run of a monitored job: one row per ``check_in_id``, ``in_progress`` first and
    then closed by ``ok`` or ``error`` (or by the scheduler: ``missed``/``timeout``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="checkins")
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="checkins")
    check_in_id = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=CheckInStatus.choices)
    duration = models.FloatField(null=True, blank=True)  # seconds
    environment = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=250, blank=True)
    monitor_config = models.JSONField(null=True, blank=True)  # as this check-in sent it
    trace_id = models.CharField(max_length=32, blank=True)
    received_at = models.DateTimeField()  # of the first check-in with this id
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["monitor", "check_in_id"], name="checkin_id_unique")
        ]
        indexes = [models.Index(fields=["monitor", "received_at"], name="checkin_monitor_time")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.check_in_id} {self.status}"

    @property
    def closed(self) -> bool:
        return self.status != CheckInStatus.IN_PROGRESS


NIL_ID = "0" * 32  # a closing check-in with this id closes the latest in-progress one


@dataclass(frozen=True)
class CheckInUpdate:
    """One ``check_in`` item, read from the wire."""

    project_id: int
    slug: str
    check_in_id: str
    status: str
    duration: float | None
    environment: str
    release: str
    monitor_config: dict[str, Any] | None
    trace_id: str
    received_at: datetime


def record_checkin(update: CheckInUpdate) -> bool:
    """Create the monitor on its first check-in (its config is the latest one sent), then
    open, update or close the check-in. Returns False when the check-in was closed already
    (a redelivery or a late duplicate), which changes nothing."""
    monitor, created = Monitor.objects.get_or_create(
        project_id=update.project_id,
        slug=update.slug,
        defaults={"config": update.monitor_config or {}, "created_at": update.received_at},
    )
    if not created and update.monitor_config is not None:
        monitor.config = update.monitor_config
    check_in_id = update.check_in_id
    if check_in_id == NIL_ID:
        latest = (
            monitor.checkins.filter(
                status=CheckInStatus.IN_PROGRESS, environment=update.environment
            )
            .order_by("-received_at")
            .first()
        )
        check_in_id = latest.check_in_id if latest else uuid.uuid4().hex
    checkin, created = CheckIn.objects.get_or_create(
        monitor=monitor,
        check_in_id=check_in_id,
        defaults={
            "project_id": update.project_id,
            "status": update.status,
            "duration": update.duration,
            "environment": update.environment,
            "release": update.release,
            "monitor_config": update.monitor_config,
            "trace_id": update.trace_id,
            "received_at": update.received_at,
            "updated_at": update.received_at,
        },
    )
    if not created:
        if checkin.closed:
            return False
        _advance(checkin, update)
    if monitor.last_checkin_at is None or update.received_at >= monitor.last_checkin_at:
        monitor.last_checkin_at, monitor.last_status = update.received_at, checkin.status
    monitor.save(update_fields=["config", "last_checkin_at", "last_status"])
    return True


def _advance(checkin: CheckIn, update: CheckInUpdate) -> None:
    """An in-progress check-in hears again: still running, or closed by ok/error."""
    checkin.status = update.status
    checkin.updated_at = max(checkin.updated_at, update.received_at)
    if update.duration is not None:
        checkin.duration = update.duration
    elif update.status != CheckInStatus.IN_PROGRESS:
        # Sentry computes the duration from the opening check-in when the closing one has none.
        checkin.duration = max(0.0, (update.received_at - checkin.received_at).total_seconds())
    checkin.environment = checkin.environment or update.environment
    checkin.release = checkin.release or update.release
    checkin.trace_id = checkin.trace_id or update.trace_id
    checkin.save()
