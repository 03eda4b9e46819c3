"""Channels (where notifications go), the durable outbox of deliveries, every attempt at one,
and each user's notification preferences."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from spyglass.projects.models import Organization, Project


class Channel(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="channels"
    )
    kind = models.CharField(max_length=32)  # a key of spyglass.notifications.registry.KINDS
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict)
    is_broken = models.BooleanField(default=False)
    broken_reason = models.TextField(blank=True)
    broken_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="channel_slug_unique")
        ]
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug} ({self.kind})"

    def mark_broken(self, reason: str) -> None:
        Channel.objects.filter(pk=self.pk).update(
            is_broken=True, broken_reason=reason[:2000], broken_at=timezone.now()
        )
        self.is_broken, self.broken_reason = True, reason[:2000]

    def mark_fixed(self) -> None:
        Channel.objects.filter(pk=self.pk).update(is_broken=False, broken_reason="", broken_at=None)
        self.is_broken, self.broken_reason, self.broken_at = False, "", None


class Delivery(models.Model):
    """One notification to one channel (or one user's email): a row of the outbox."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting for its (next) attempt
        SENDING = "sending", "Sending"  # claimed by a worker
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"  # permanently, or out of attempts
        SKIPPED = "skipped", "Skipped"  # the channel was broken, or the user opted out

    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    user = models.ForeignKey(  # a workflow or alert email to one user (no channel)
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="deliveries",
    )
    notification = models.JSONField()  # Notification.to_json()
    is_test = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["channel", "created_at"], name="delivery_channel"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} ({self.status})"

    @property
    def title(self) -> str:
        value: Any = self.notification.get("title", "")
        return str(value)


class DeliveryAttempt(models.Model):
    """Every attempt at a delivery, successful or not."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_set")
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="attempts"
    )
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=64, blank=True)  # which outbox worker tried
    started_at = models.DateTimeField(default=timezone.now)
    latency_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField(default=False)
    permanent = models.BooleanField(default=False)  # a failure retrying cannot fix
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["channel", "started_at"], name="attempt_channel")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class WorkflowKind(models.TextChoices):
    ASSIGNED = "assigned", "An issue is assigned to me"
    REGRESSION = "regression", "An issue I follow regresses"
    COMMENT = "comment", "Someone comments on an issue I follow"


class NotificationPreference(models.Model):
    """A user's workflow email switches (no row: everything on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    assigned = models.BooleanField(default=True)
    regression = models.BooleanField(default=True)
    comment = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"notification preferences of {self.user}"

    def wants(self, kind: str) -> bool:
        return bool(getattr(self, kind, True))


class ProjectAlertEmail(models.Model):
    """A user's alert email switch for one project (no row: on)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_alert_emails"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "project"], name="project_alert_email_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} alert email for {self.project}: {self.enabled}"
