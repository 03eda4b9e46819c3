"""Structured logs SDKs send (``log`` items)."""

from __future__ import annotations

from django.db import models

from spyglass.projects.models import Project


class LogEntry(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="log_entries")
    # A 63-bit hash of what identifies the line (time, trace, level, body, sequence): logs
    # carry no id of their own, and a redelivered envelope must not store them twice.
    uid = models.BigIntegerField()
    timestamp = models.DateTimeField()
    level = models.CharField(max_length=8)  # trace, debug, info, warn, error, fatal
    severity_number = models.PositiveSmallIntegerField()  # OpenTelemetry's 1-24
    body = models.TextField()
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    release = models.CharField(max_length=250, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    # {key: value}: the typed attributes without their types, minus the ones that are columns.
    attributes = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "uid"], name="log_uid_unique")]
        indexes = [models.Index(fields=["project", "timestamp"], name="log_project_time")]

    def __str__(self) -> str:
        return f"{self.timestamp:%Y-%m-%d %H:%M:%S} {self.level} {self.body[:80]}"
