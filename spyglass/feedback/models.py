"""User feedback: the feedback widget's ``feedback`` items and legacy ``user_report`` items."""

from __future__ import annotations

from django.db import models

from spyglass.issues.models import Issue
from spyglass.projects.models import Project


class UserFeedback(models.Model):
    class Source(models.TextChoices):
        FEEDBACK = "feedback"
        USER_REPORT = "user_report"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="feedback")
    # The feedback event's own id; for a user report the id of the event it is about (Sentry
    # keeps one report per event, a later one replaces it).
    feedback_id = models.CharField(max_length=32)
    event_id = models.CharField(max_length=32, blank=True)  # the event it is about, if any
    issue = models.ForeignKey(
        Issue, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback"
    )
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.FEEDBACK)
    name = models.CharField(max_length=128, blank=True)
    email = models.CharField(max_length=254, blank=True)
    comments = models.TextField()
    url = models.CharField(max_length=1024, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    release = models.CharField(max_length=250, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "feedback_id"], name="feedback_id_unique")
        ]
        indexes = [models.Index(fields=["project", "created_at"], name="feedback_project_time")]

    def __str__(self) -> str:
        return f"{self.name or self.email or 'anonymous'}: {self.comments[:60]}"
