"""Stored events, per-issue tag values and counts, and outcome statistics."""

from __future__ import annotations

from django.db import models

from spyglass.issues.models import Issue
from spyglass.projects.models import Project


class Event(models.Model):
    """One error or default event. The whole normalized event is ``body`` (zstd JSON, with
    the project's dictionary once it has one: read it with ``events.bodies.read_body``); the
    fields that lists and search need are columns."""

    # No single-column indexes on the foreign keys: the composite indexes below lead with
    # them (≈22 B less per event).
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    event_id = models.CharField(max_length=32)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    type = models.CharField(max_length=32, default="error")
    level = models.CharField(max_length=16, default="error")
    platform = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=250, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    dist = models.CharField(max_length=64, blank=True)
    transaction = models.CharField(max_length=200, blank=True)
    title = models.CharField(max_length=1024)
    culprit = models.CharField(max_length=1024, blank=True)
    message = models.TextField(blank=True)
    trace_id = models.CharField(max_length=32, blank=True)
    user_key = models.CharField(max_length=200, blank=True)
    sdk_name = models.CharField(max_length=128, blank=True)
    sdk_version = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=list)  # [[key, value], …] as derived and sent
    grouping_config = models.CharField(max_length=64, blank=True)
    primary_hash = models.CharField(max_length=32, blank=True)
    has_processing_errors = models.BooleanField(default=False)
    body = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    # Stack frame search: the id of the issue's row in ``events_issueframes`` holding the
    # event's frames text (its distinct frame values and main-thread fact; format and
    # matching: events.frames); a text is stored once per issue, not per event. None: no
    # frames (or stored before stack frame search). No foreign key: the events' triggers
    # keep the rows (events migration 0010).
    frames_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="event_id_unique")
        ]
        indexes = [
            models.Index(fields=["issue", "timestamp"], name="event_issue_time"),
            models.Index(fields=["project", "timestamp"], name="event_project_time"),
            # The issue page's fingerprints panel counts each hash's events of a merged
            # issue from this index alone.
            models.Index(fields=["issue", "primary_hash"], name="event_issue_hash"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} ({self.title})"


class CompressionDictionary(models.Model):
    """A zstd dictionary trained on a project's event bodies (``events.bodies``). A body names
    its dictionary by ``dict_id`` in its zstd frame header; dictionaries are never deleted
    while their project exists, so every body stays readable."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="compression_dictionaries"
    )
    dict_id = models.PositiveIntegerField(unique=True)  # global: a body knows no project
    data = models.BinaryField()
    created_at = models.DateTimeField()
    sample_events = models.PositiveIntegerField(default=0)  # bodies it was trained on

    class Meta:
        verbose_name_plural = "compression dictionaries"

    def __str__(self) -> str:
        return f"{self.project_id} #{self.dict_id} ({len(self.data)} B)"


class IssueTagValue(models.Model):
    """How often an issue's events carried ``key=value`` (the tag distributions)."""

    issue = models.ForeignKey(  # indexed by issue_tag_unique
        Issue, on_delete=models.CASCADE, related_name="tag_values", db_index=False
    )
    key = models.CharField(max_length=200)
    value = models.CharField(max_length=200)
    times_seen = models.PositiveBigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "key", "value"], name="issue_tag_unique")
        ]
        # Issue search: `key:value` (and `key:prefix*`) -> issues, read from the index alone.
        indexes = [models.Index(fields=["key", "value", "issue"], name="issue_tag_search")]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.key}={self.value} x{self.times_seen}"


class IssueCount(models.Model):
    """Events per issue per minute and per hour: graphs and alerts sum these."""

    issue = models.ForeignKey(  # indexed by issue_count_unique
        Issue, on_delete=models.CASCADE, related_name="counts", db_index=False
    )
    resolution = models.PositiveIntegerField()  # seconds: 60 or 3600
    bucket = models.BigIntegerField()  # unix seconds at the start of the bucket
    count = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "resolution", "bucket"], name="issue_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.issue_id} @{self.bucket}/{self.resolution}s: {self.count}"


class Outcome(models.Model):
    """What became of received items, per hour (Sentry's outcomes): accepted, filtered,
    rate_limited, invalid, client_discard — per data category and reason."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="outcomes")
    hour = models.BigIntegerField()  # unix seconds at the start of the hour
    category = models.CharField(max_length=32)
    outcome = models.CharField(max_length=16)
    reason = models.CharField(max_length=64, blank=True)
    quantity = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "hour", "category", "outcome", "reason"],
                name="outcome_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.project_id} {self.category} {self.outcome} {self.reason}: {self.quantity}"
