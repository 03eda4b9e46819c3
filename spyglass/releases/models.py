"""Releases: the versions events report, ordered as Sentry orders them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from spyglass.projects.models import Organization, Project


class Release(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="releases"
    )
    version = models.CharField(max_length=250)
    projects = models.ManyToManyField(Project, blank=True, related_name="releases")
    created_at = models.DateTimeField(default=timezone.now)
    # Set by `sentry-cli releases finalize`; Sentry orders releases by this, else creation.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "version"], name="release_version_unique"
            )
        ]

    def __str__(self) -> str:
        return self.version

    @property
    def effective_date(self) -> object:
        return self.released_at or self.created_at


# --- release health ---------------------------------------------------------------------------


class SessionCount(models.Model):
    """Sessions per project, release, environment and minute (of the sessions' start), as
    Relay's session metrics count them. ``errored`` counts every session that had an error,
    crashed and abnormal ones included, so healthy = started - errored and crash-free =
    1 - crashed / started."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="session_counts")
    release = models.CharField(max_length=250)
    environment = models.CharField(max_length=64, blank=True)
    bucket = models.BigIntegerField()  # unix seconds at the start of the minute
    started = models.PositiveBigIntegerField(default=0)
    exited = models.PositiveBigIntegerField(default=0)
    errored = models.PositiveBigIntegerField(default=0)
    crashed = models.PositiveBigIntegerField(default=0)
    abnormal = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "bucket"],
                name="session_count_unique",
            )
        ]
        indexes = [models.Index(fields=["project", "bucket"], name="session_count_time")]

    def __str__(self) -> str:
        return f"{self.release} {self.environment} @{self.bucket}: {self.started} started"


class SessionUser(models.Model):
    """The distinct ids (users or devices) seen in sessions per release, environment and day,
    and whether one of their sessions crashed: crash-free users."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="session_users")
    release = models.CharField(max_length=250)
    environment = models.CharField(max_length=64, blank=True)
    day = models.DateField()
    distinct_id = models.CharField(max_length=128)
    crashed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "day", "distinct_id"],
                name="session_user_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.release} {self.environment} {self.day} {self.distinct_id}"


class SessionState(models.Model):
    """Where each single-update session stands, so a session is started, errored and ended
    at most once however many updates (or redeliveries) arrive. Updates older than five days
    are refused (as Relay does), so rows whose session started before that can be deleted."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=32)
    started = models.DateTimeField()
    status = models.CharField(max_length=16, default="ok")
    counted = models.BooleanField(default=False)  # its `init` update was counted
    errored = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "sid"], name="session_state_unique")
        ]
        indexes = [models.Index(fields=["started"], name="session_state_started")]

    def __str__(self) -> str:
        return f"{self.sid} {self.status}"
