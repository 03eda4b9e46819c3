"""Cron monitors and their check-ins."""

from __future__ import annotations

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
