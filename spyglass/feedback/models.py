"""User feedback: the feedback widget's ``feedback`` items and legacy ``user_report`` items."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import models

from spyglass.issues.models import Issue, IssueCounter
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
    # The issue of that event (when it is known): the feedback is about it.
    issue = models.ForeignKey(
        Issue, on_delete=models.SET_NULL, null=True, blank=True, related_name="feedback"
    )
    # A `feedback` item's own issue (category feedback), as in Sentry, where each feedback is
    # an issue of its own: deleting that issue deletes the feedback. None for user reports.
    feedback_issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, null=True, blank=True, related_name="own_feedback"
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


def open_feedback_issues(pairs: Sequence[tuple[UserFeedback, Issue]]) -> list[Issue]:
    """Give each feedback its issue: the one it has already (a feedback sent again keeps
    its issue), else the unsaved ``Issue`` paired with it, numbered and created here.
    Returns the issues created."""
    by_project: dict[int, list[tuple[UserFeedback, Issue]]] = {}
    for feedback, issue in pairs:
        by_project.setdefault(feedback.project_id, []).append((feedback, issue))
    created: list[Issue] = []
    for project_id, group in by_project.items():
        # Locked first: a worker that waits here then sees the other's feedback rows.
        counter, _ = IssueCounter.objects.select_for_update().get_or_create(project_id=project_id)
        known = dict(
            UserFeedback.objects.filter(
                project_id=project_id,
                feedback_id__in=[feedback.feedback_id for feedback, _ in group],
                feedback_issue__isnull=False,
            ).values_list("feedback_id", "feedback_issue_id")
        )
        new: list[tuple[UserFeedback, Issue]] = []
        for feedback, issue in group:
            if feedback.feedback_id in known:
                feedback.feedback_issue_id = known[feedback.feedback_id]
            else:
                counter.value += 1
                issue.number = counter.value
                new.append((feedback, issue))
        if new:
            counter.save(update_fields=["value"])
            Issue.objects.bulk_create([issue for _, issue in new])
            for feedback, issue in new:
                feedback.feedback_issue = issue
            created.extend(issue for _, issue in new)
    return created
