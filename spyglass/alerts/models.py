"""Alert rules and what they did: issue alert rules (Sentry's Rule, with its JSON shape),
metric alert rules (Sentry's AlertRule with its triggers), the per rule and issue record of
the last fire (GroupRuleStatus), the history of fires, incidents and their timeline."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from spyglass.issues.models import Issue
from spyglass.projects.models import Organization, Project

FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


class Match(models.TextChoices):
    ALL = "all", "all"
    ANY = "any", "any"
    NONE = "none", "none"


class Rule(models.Model):
    """An issue alert rule of a project. ``conditions``, ``filters`` and ``actions`` are lists
    of ``{"id": "<Sentry's python path>", ...params}``, exactly as Sentry's API speaks them."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=256)
    environment = models.CharField(max_length=64, blank=True)  # "" = every environment
    action_match = models.CharField(max_length=4, choices=Match.choices, default=Match.ALL)
    filter_match = models.CharField(max_length=4, choices=Match.choices, default=Match.ALL)
    frequency = models.PositiveIntegerField(default=30)  # minutes between fires per issue
    conditions = models.JSONField(default=list)
    filters = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    owner = models.CharField(max_length=64, blank=True)  # "team:<id>" or "user:<id>"
    muted_until = models.DateTimeField(null=True, blank=True)  # FOREVER = until unmuted
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_fired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["project"], name="alert_rule_project")]

    def __str__(self) -> str:
        return f"{self.project} rule {self.name}"

    def is_muted(self, now: datetime | None = None) -> bool:
        return self.muted_until is not None and self.muted_until > (now or timezone.now())


class RuleIssueStatus(models.Model):
    """When a rule last fired for an issue (Sentry's GroupRuleStatus). A worker claims a fire
    by inserting this row or moving ``last_fired_at`` forward with a conditional update, so
    two workers never both send for the same rule and issue within the action interval."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="issue_statuses")
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+", db_index=False)
    last_fired_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "issue"], name="alert_rule_issue_unique")
        ]
        indexes = [models.Index(fields=["issue"], name="alert_rule_issue_issue")]

    def __str__(self) -> str:
        return f"rule {self.rule_id}, issue {self.issue_id} @ {self.last_fired_at}"


class RuleFire(models.Model):
    """One fire of an issue alert rule (Sentry's RuleFireHistory): the rule's history page."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="fires")
    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=32, blank=True)
    fired_at = models.DateTimeField(default=timezone.now)
    reasons = models.JSONField(default=list)  # the conditions that passed, as labels
    notified = models.JSONField(default=list)  # what the actions reached, as labels

    class Meta:
        indexes = [
            models.Index(fields=["rule", "-fired_at"], name="alert_rule_fire_time"),
            models.Index(fields=["issue"], name="alert_rule_fire_issue"),
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} fired for issue {self.issue_id} at {self.fired_at}"


class Dataset(models.TextChoices):
    ERRORS = "events", "Errors"
    TRANSACTIONS = "transactions", "Transactions"


class ThresholdType(models.IntegerChoices):
    ABOVE = 0, "above"
    BELOW = 1, "below"


class MetricRule(models.Model):
    """A metric alert rule (Sentry's AlertRule): an aggregate of a data set over a time
    window, for one or more projects of an organization, with a critical trigger, an optional
    warning trigger and an optional resolve threshold. ``triggers`` is Sentry's list:
    ``[{"label": "critical", "alertThreshold": 3000.0, "actions": [...]}, …]``."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="metric_rules"
    )
    projects = models.ManyToManyField(Project, related_name="metric_rules")
    name = models.CharField(max_length=256)
    dataset = models.CharField(max_length=16, choices=Dataset.choices, default=Dataset.ERRORS)
    aggregate = models.CharField(max_length=128, default="count()")
    query = models.TextField(blank=True)
    time_window = models.PositiveIntegerField(default=60)  # minutes
    threshold_type = models.PositiveSmallIntegerField(
        choices=ThresholdType.choices, default=ThresholdType.ABOVE
    )
    resolve_threshold = models.FloatField(null=True, blank=True)
    comparison_delta = models.PositiveIntegerField(null=True, blank=True)  # minutes
    environment = models.CharField(max_length=64, blank=True)
    owner = models.CharField(max_length=64, blank=True)
    triggers = models.JSONField(default=list)
    muted_until = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_value = models.FloatField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.organization} metric rule {self.name}"

    def is_muted(self, now: datetime | None = None) -> bool:
        return self.muted_until is not None and self.muted_until > (now or timezone.now())

    def trigger(self, label: str) -> dict[str, object] | None:
        for trigger in self.triggers:
            if isinstance(trigger, dict) and trigger.get("label") == label:
                return trigger
        return None


class MetricValue(models.Model):
    """The value a metric rule computed at one evaluation: the incident chart."""

    rule = models.ForeignKey(MetricRule, on_delete=models.CASCADE, related_name="values")
    at = models.DateTimeField()
    value = models.FloatField(null=True)  # of the rule's aggregate
    values = models.JSONField(default=dict)  # of every aggregate its triggers use

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "at"], name="alert_metric_value_unique")
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id} @ {self.at}: {self.value}"


class IncidentStatus(models.IntegerChoices):
    # Sentry's IncidentStatus numbers.
    OPEN = 1, "open"
    CLOSED = 2, "closed"
    WARNING = 10, "warning"
    CRITICAL = 20, "critical"


class Incident(models.Model):
    """A metric rule's trigger firing until it resolves. At most one open per rule."""

    rule = models.ForeignKey(MetricRule, on_delete=models.CASCADE, related_name="incidents")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="incidents"
    )
    identifier = models.PositiveIntegerField()  # per organization, as Sentry numbers them
    title = models.CharField(max_length=256)
    status = models.PositiveSmallIntegerField(
        choices=IncidentStatus.choices, default=IncidentStatus.OPEN
    )
    started_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    peak_value = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule"], condition=Q(closed_at__isnull=True), name="alert_incident_open"
            ),
            models.UniqueConstraint(
                fields=["organization", "identifier"], name="alert_incident_identifier"
            ),
        ]
        indexes = [models.Index(fields=["rule", "-started_at"], name="alert_incident_rule")]

    def __str__(self) -> str:
        return f"incident {self.identifier} of rule {self.rule_id}"

    @property
    def dedup_key(self) -> str:
        return f"spyglass-incident-{self.pk}"


class IncidentActivity(models.Model):
    """The incident's timeline: each status change with the value that caused it."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="activities")
    status = models.PositiveSmallIntegerField(choices=IncidentStatus.choices)
    previous_status = models.PositiveSmallIntegerField(
        choices=IncidentStatus.choices, null=True, blank=True
    )
    value = models.FloatField(null=True, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["incident", "at"], name="alert_incident_activity")]

    def __str__(self) -> str:
        return f"incident {self.incident_id} → {self.status} at {self.at}"
