"""Issues (Sentry's Group) and the hashes that lead to them (GroupHash)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from spyglass.projects.models import Project


class Status(models.IntegerChoices):
    # Sentry's GroupStatus numbers, so the API can speak them.
    UNRESOLVED = 0, "unresolved"
    RESOLVED = 1, "resolved"
    IGNORED = 2, "ignored"


class Substatus(models.IntegerChoices):
    # Sentry's GroupSubStatus numbers.
    UNTIL_ESCALATING = 1, "archived_until_escalating"
    ESCALATING = 2, "escalating"
    ONGOING = 3, "ongoing"
    UNTIL_CONDITION_MET = 4, "archived_until_condition_met"
    FOREVER = 5, "archived_forever"
    REGRESSED = 6, "regressed"
    NEW = 7, "new"


class Priority(models.IntegerChoices):
    LOW = 25, "low"
    MEDIUM = 50, "medium"
    HIGH = 75, "high"


class Category(models.TextChoices):
    ERROR = "error"
    PERFORMANCE = "performance"
    CRON = "cron"
    UPTIME = "uptime"
    FEEDBACK = "feedback"  # one issue per user feedback, never grouped


class Issue(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    # Per-project number behind the short id (PROJECT-1A); see `short_id`.
    number = models.PositiveBigIntegerField()
    category = models.CharField(max_length=16, choices=Category.choices, default=Category.ERROR)
    type = models.CharField(max_length=32, default="error")  # Sentry's event type
    title = models.CharField(max_length=1024)
    culprit = models.CharField(max_length=1024, blank=True)
    metadata = models.JSONField(default=dict)
    level = models.CharField(max_length=16, default="error")
    platform = models.CharField(max_length=64, blank=True)
    logger = models.CharField(max_length=128, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    times_seen = models.PositiveBigIntegerField(default=0)
    users_seen = models.PositiveBigIntegerField(default=0)
    first_release = models.CharField(max_length=250, blank=True)
    last_release = models.CharField(max_length=250, blank=True)
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.UNRESOLVED)
    substatus = models.PositiveSmallIntegerField(
        choices=Substatus.choices, null=True, default=Substatus.NEW
    )
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.HIGH)
    priority_locked_at = models.DateTimeField(null=True, blank=True)
    # When the issue last became active (created, regressed, unarchived).
    active_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "number"], name="issue_number_unique")
        ]
        indexes = [
            models.Index(fields=["project", "status", "last_seen"], name="issue_stream"),
            models.Index(fields=["project", "first_seen"], name="issue_first_seen"),
            # The stream's other sorts within a tab (spyglass/issues/stream.py), id last for
            # the keyset cursor.
            models.Index(
                fields=["project", "status", "first_seen", "id"], name="issue_stream_first_seen"
            ),
            models.Index(
                fields=["project", "status", "times_seen", "id"], name="issue_stream_events"
            ),
            models.Index(
                fields=["project", "status", "users_seen", "id"], name="issue_stream_users"
            ),
            models.Index(
                fields=["project", "status", "priority", "last_seen", "id"],
                name="issue_stream_priority",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.short_id}: {self.title}"

    @property
    def short_id(self) -> str:
        return f"{self.project.slug.upper()}-{base32(self.number)}"


# Sentry's short ids use Crockford's base32 (no I, L, O, U).
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def base32(number: int) -> str:
    digits = ""
    while True:
        number, rest = divmod(number, 32)
        digits = _ALPHABET[rest] + digits
        if number == 0:
            return digits


class IssueHash(models.Model):
    """A grouping hash that leads to an issue; an issue has one per config and variant."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issue_hashes")
    hash = models.CharField(max_length=32)
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="hashes")
    grouping_config = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "hash"], name="issue_hash_unique")
        ]

    def __str__(self) -> str:
        return f"{self.hash} -> {self.issue_id}"


class Resolution(models.Model):
    """How an issue was resolved when it is resolved in a release (Sentry's GroupResolution)."""

    class Kind(models.IntegerChoices):
        IN_RELEASE = 0, "in_release"
        IN_NEXT_RELEASE = 1, "in_next_release"

    issue = models.OneToOneField(Issue, on_delete=models.CASCADE, related_name="resolution")
    kind = models.PositiveSmallIntegerField(choices=Kind.choices)
    # in_release: the release that fixes it; in_next_release: the latest release when resolved.
    release = models.CharField(max_length=250)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.issue_id} resolved {self.get_kind_display()} {self.release}"


class Snooze(models.Model):
    """The condition an archived issue waits for (Sentry's GroupSnooze)."""

    issue = models.OneToOneField(Issue, on_delete=models.CASCADE, related_name="snooze")
    until = models.DateTimeField(null=True, blank=True)
    count = models.PositiveIntegerField(null=True, blank=True)
    window = models.PositiveIntegerField(null=True, blank=True)  # minutes
    user_count = models.PositiveIntegerField(null=True, blank=True)
    user_window = models.PositiveIntegerField(null=True, blank=True)  # minutes
    # times_seen and users_seen when archived, for "N more events / users".
    times_seen_at_snooze = models.PositiveBigIntegerField(default=0)
    users_seen_at_snooze = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"snooze of {self.issue_id}"


class Activity(models.Model):
    """What happened to an issue: created, resolved, regressed, archived, commented, …"""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=32)
    data = models.JSONField(default=dict)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["issue", "created_at"], name="activity_issue")]

    def __str__(self) -> str:
        return f"{self.kind} on {self.issue_id}"


class IssueCounter(models.Model):
    """The last issue number given out in a project (short ids never repeat)."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, primary_key=True)
    value = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.project_id}: {self.value}"


# -- triage: who works on an issue, who follows it, where it is tracked -----------------------
class IssueAssignee(models.Model):
    """Who owns an issue (Sentry's GroupAssignee): a member or a team, exactly one."""

    issue = models.OneToOneField(Issue, on_delete=models.CASCADE, related_name="assignee")
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "projects.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, team__isnull=True)
                    | models.Q(user__isnull=True, team__isnull=False)
                ),
                name="issue_assignee_user_xor_team",
            )
        ]
        indexes = [
            models.Index(fields=["user"], name="issue_assignee_user"),
            models.Index(fields=["team"], name="issue_assignee_team"),
        ]

    def __str__(self) -> str:
        who = f"user {self.user_id}" if self.user_id else f"team {self.team_id}"
        return f"{self.issue_id} -> {who}"


class IssueBookmark(models.Model):
    """A user's bookmark on an issue (Sentry's GroupBookmark)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="bookmarks")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "user"], name="issue_bookmark_unique")
        ]
        indexes = [models.Index(fields=["user", "issue"], name="issue_bookmark_user")]

    def __str__(self) -> str:
        return f"{self.user_id} bookmarked {self.issue_id}"


class SubscriptionReason(models.TextChoices):
    MANUAL = "manual"
    COMMENTED = "commented"
    ASSIGNED = "assigned"
    BOOKMARKED = "bookmarked"


class IssueSubscription(models.Model):
    """Whether a user follows an issue's workflow notifications (Sentry's
    GroupSubscription); ``is_active=False`` is an explicit unsubscribe that sticks."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    is_active = models.BooleanField(default=True)
    reason = models.CharField(
        max_length=16, choices=SubscriptionReason.choices, default=SubscriptionReason.MANUAL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "user"], name="issue_subscription_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {'follows' if self.is_active else 'ignores'} {self.issue_id}"


class IssueLink(models.Model):
    """A ticket about the issue in an external tracker (what ``is:linked`` means)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="links")
    url = models.URLField(max_length=2048)
    title = models.CharField(max_length=200, blank=True)
    user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.issue_id} -> {self.url}"


class IssueSeen(models.Model):
    """When a user last looked at an issue (Sentry's GroupSeen: ``hasSeen``)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="seen_by")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    last_seen = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issue", "user"], name="issue_seen_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} saw {self.issue_id}"
