"""The rule forms: plain fields for one of each condition, filter and action, turned into
Sentry's JSON and validated by ``rules_json`` (the API's validation). Entries a form can't
show (a second tag filter made through the API) are kept as they are on save."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms

from spyglass.alerts import conditions, delivery, filters, metrics, rules_json
from spyglass.alerts.models import MetricRule, Rule
from spyglass.notifications.models import Channel
from spyglass.projects.models import Member, Organization, Project

FREQUENCIES = [
    (5, "5 minutes"),
    (10, "10 minutes"),
    (30, "30 minutes"),
    (60, "1 hour"),
    (180, "3 hours"),
    (720, "12 hours"),
    (1440, "1 day"),
    (10080, "1 week"),
    (43200, "30 days"),
]
MATCH = [("all", "all"), ("any", "any"), ("none", "none")]
INTERVALS = [(k, k) for k in conditions.INTERVALS]
COMPARISONS = [("", "—")] + [(k, f"{k} before") for k in conditions.COMPARISON_INTERVALS]
TEXT_MATCHES = [("", "—"), *filters.MATCHES.items()]
LEVEL_NAMES = [(str(v), k) for k, v in filters.LEVELS.items() if k != "sample"]


def _choices(pairs: Sequence[tuple[Any, str]]) -> list[tuple[Any, str]]:
    return list(pairs)


class IssueRuleForm(forms.Form):
    name = forms.CharField(max_length=256)
    environment = forms.CharField(max_length=64, required=False, help_text="Empty: every one.")
    action_match = forms.ChoiceField(choices=MATCH, label="Conditions that must pass")
    filter_match = forms.ChoiceField(choices=MATCH, label="Filters that must pass")
    # conditions
    first_seen = forms.BooleanField(required=False, label="A new issue is created")
    regression = forms.BooleanField(required=False, label="The issue regresses")
    reappeared = forms.BooleanField(
        required=False, label="The issue comes back from archive (escalating)"
    )
    frequency_on = forms.BooleanField(required=False, label="The issue is seen more than")
    frequency_value = forms.IntegerField(required=False, min_value=0, label="times")
    frequency_interval = forms.ChoiceField(choices=INTERVALS, required=False, label="in")
    frequency_comparison = forms.ChoiceField(
        choices=COMPARISONS, required=False, label="or, as a % increase, compared with"
    )
    users_on = forms.BooleanField(required=False, label="The issue is seen by more than")
    users_value = forms.IntegerField(required=False, min_value=0, label="users")
    users_interval = forms.ChoiceField(choices=INTERVALS, required=False, label="in")
    # filters
    level_match = forms.ChoiceField(
        choices=[("", "—"), ("gte", "at least"), ("eq", "equal to"), ("lte", "at most")],
        required=False,
        label="The event's level is",
    )
    level = forms.ChoiceField(choices=LEVEL_NAMES, required=False, initial="40", label="level")
    tag_key = forms.CharField(max_length=200, required=False, label="The event's tag")
    tag_match = forms.ChoiceField(choices=TEXT_MATCHES, required=False, label="match")
    tag_value = forms.CharField(max_length=200, required=False, label="value")
    attribute = forms.ChoiceField(
        choices=[("", "—")] + [(a, a) for a in filters.ATTRIBUTES],
        required=False,
        label="The event's attribute",
    )
    attribute_match = forms.ChoiceField(choices=TEXT_MATCHES, required=False, label="match")
    attribute_value = forms.CharField(max_length=200, required=False, label="value")
    age_comparison = forms.ChoiceField(
        choices=[("", "—"), ("older", "older"), ("newer", "newer")],
        required=False,
        label="The issue is",
    )
    age_value = forms.IntegerField(required=False, min_value=0, label="than")
    age_unit = forms.ChoiceField(
        choices=[(u, f"{u}s") for u in filters.AGE_UNITS], required=False, label="unit"
    )
    occurrences = forms.IntegerField(
        required=False, min_value=1, label="The issue has happened at least (times)"
    )
    latest_release = forms.BooleanField(
        required=False, label="The event is from the latest release"
    )
    category = forms.ChoiceField(
        choices=[("", "—"), *filters.CATEGORIES.items()],
        required=False,
        label="The issue's category is",
    )
    # actions
    channels = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Notify channels"
    )
    email = forms.ChoiceField(required=False, label="Send an email to")
    frequency = forms.TypedChoiceField(
        choices=FREQUENCIES, coerce=int, initial=30, label="Act at most once per issue every"
    )

    def __init__(self, *args: Any, project: Project, rule: Rule | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self.project, self.rule = project, rule
        org = project.organization
        self._choice("channels").choices = [
            (c.slug, f"{c.name} ({c.kind})") for c in delivery.channels(org)
        ]
        members = Member.objects.filter(organization=org).select_related("user")
        self._choice("email").choices = [
            ("", "—"),
            ("IssueOwners", "The issue's assignee, else the project's team"),
            *[(f"Team:{t.pk}", f"Team #{t.slug}") for t in org.teams.order_by("slug")],
            *[(f"Member:{m.user_id}", m.user.email) for m in members.order_by("user__email")],
        ]
        self.extra: dict[str, list[dict[str, Any]]] = {
            "conditions": [],
            "filters": [],
            "actions": [],
        }
        if rule is not None and not self.is_bound:
            self.initial.update(initial_from(rule, self.extra))
        elif rule is not None:
            initial_from(rule, self.extra)
        self.data_json: dict[str, Any] = {}

    def _choice(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        self.data_json = to_json(data, self.extra)
        try:
            rules_json.clean_issue_rule(self.data_json, self.project)
        except rules_json.InvalidRule as exc:
            raise forms.ValidationError(_sentence(str(exc))) from None
        return data


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def to_json(data: dict[str, Any], extra: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    conds: list[dict[str, Any]] = []
    if data.get("first_seen"):
        conds.append({"id": conditions.FIRST_SEEN})
    if data.get("regression"):
        conds.append({"id": conditions.REGRESSION})
    if data.get("reappeared"):
        conds.append({"id": conditions.REAPPEARED})
    if data.get("frequency_on"):
        cond: dict[str, Any] = {
            "id": conditions.FREQUENCY,
            "value": data.get("frequency_value") or 0,
            "interval": data.get("frequency_interval") or "1m",
        }
        if data.get("frequency_comparison"):
            cond.update(comparisonType="percent", comparisonInterval=data["frequency_comparison"])
        conds.append(cond)
    if data.get("users_on"):
        conds.append(
            {
                "id": conditions.USER_FREQUENCY,
                "value": data.get("users_value") or 0,
                "interval": data.get("users_interval") or "1h",
            }
        )
    return {
        "name": data["name"],
        "environment": data.get("environment") or "",
        "actionMatch": data["action_match"],
        "filterMatch": data["filter_match"],
        "frequency": data["frequency"],
        "conditions": conds + extra["conditions"],
        "filters": _filters(data) + extra["filters"],
        "actions": _actions(data) + extra["actions"],
    }


def _filters(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if data.get("level_match"):
        found.append({"id": filters.LEVEL, "match": data["level_match"], "level": data["level"]})
    if data.get("tag_key") or data.get("tag_match"):
        found.append(
            {
                "id": filters.TAGGED,
                "key": data.get("tag_key", ""),
                "match": data.get("tag_match") or "eq",
                "value": data.get("tag_value", ""),
            }
        )
    if data.get("attribute"):
        found.append(
            {
                "id": filters.ATTRIBUTE,
                "attribute": data["attribute"],
                "match": data.get("attribute_match") or "eq",
                "value": data.get("attribute_value", ""),
            }
        )
    if data.get("age_comparison"):
        found.append(
            {
                "id": filters.AGE,
                "comparison_type": data["age_comparison"],
                "value": data.get("age_value") or 0,
                "time": data.get("age_unit") or "hour",
            }
        )
    if data.get("occurrences"):
        found.append({"id": filters.OCCURRENCES, "value": data["occurrences"]})
    if data.get("latest_release"):
        found.append({"id": filters.LATEST_RELEASE})
    if data.get("category"):
        found.append({"id": filters.CATEGORY, "value": data["category"]})
    return found


def _actions(data: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = [
        {"id": delivery.SERVICE_ACTION, "service": slug} for slug in data.get("channels") or []
    ]
    email = data.get("email") or ""
    if email == "IssueOwners":
        found.append(
            {
                "id": delivery.EMAIL_ACTION,
                "targetType": "IssueOwners",
                "fallthroughType": "ActiveMembers",
            }
        )
    elif email:
        target, _, identifier = email.partition(":")
        found.append(
            {"id": delivery.EMAIL_ACTION, "targetType": target, "targetIdentifier": identifier}
        )
    return found


def initial_from(rule: Rule, extra: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """The form's fields for a rule; what they can't hold goes to ``extra``."""
    initial: dict[str, Any] = {
        "name": rule.name,
        "environment": rule.environment,
        "action_match": rule.action_match,
        "filter_match": rule.filter_match,
        "frequency": rule.frequency,
    }
    seen: set[str] = set()

    def once(key: str) -> bool:
        if key in seen:
            return False
        seen.add(key)
        return True

    flags = {
        conditions.FIRST_SEEN: "first_seen",
        conditions.REGRESSION: "regression",
        conditions.REAPPEARED: "reappeared",
    }
    for c in rule.conditions:
        cid = c.get("id")
        if cid in flags and once(cid):
            initial[flags[cid]] = True
        elif cid == conditions.FREQUENCY and once(cid):
            initial.update(
                frequency_on=True,
                frequency_value=c.get("value"),
                frequency_interval=c.get("interval"),
                frequency_comparison=c.get("comparisonInterval", "")
                if c.get("comparisonType") == "percent"
                else "",
            )
        elif cid == conditions.USER_FREQUENCY and once(cid):
            initial.update(
                users_on=True, users_value=c.get("value"), users_interval=c.get("interval")
            )
        else:
            extra["conditions"].append(c)
    for f in rule.filters:
        if not _filter_initial(f, initial, once):
            extra["filters"].append(f)
    channels, email = [], ""
    for a in rule.actions:
        if a.get("id") == delivery.SERVICE_ACTION:
            channels.append(a.get("service"))
        elif a.get("id") == delivery.EMAIL_ACTION and not email:
            target = a.get("targetType")
            email = target if target == "IssueOwners" else f"{target}:{a.get('targetIdentifier')}"
        else:
            extra["actions"].append(a)
    initial.update(channels=channels, email=email)
    return initial


def _filter_initial(f: dict[str, Any], initial: dict[str, Any], once: Any) -> bool:
    fid = f.get("id")
    if not once(fid):
        return False
    if fid == filters.LEVEL:
        initial.update(level_match=f.get("match"), level=str(f.get("level")))
    elif fid == filters.TAGGED:
        initial.update(tag_key=f.get("key"), tag_match=f.get("match"), tag_value=f.get("value"))
    elif fid == filters.ATTRIBUTE:
        initial.update(
            attribute=f.get("attribute"),
            attribute_match=f.get("match"),
            attribute_value=f.get("value"),
        )
    elif fid == filters.AGE:
        initial.update(
            age_comparison=f.get("comparison_type"),
            age_value=f.get("value"),
            age_unit=f.get("time"),
        )
    elif fid == filters.OCCURRENCES:
        initial["occurrences"] = f.get("value")
    elif fid == filters.LATEST_RELEASE:
        initial["latest_release"] = True
    elif fid == filters.CATEGORY:
        initial["category"] = str(f.get("value"))
    else:
        return False
    return True


# --- metric alert rules ----------------------------------------------------------------------

AGGREGATES = sorted({*metrics.TRANSACTION_AGGREGATES, *metrics.ERROR_AGGREGATES})


class MetricRuleForm(forms.Form):
    name = forms.CharField(max_length=256)
    projects = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    dataset = forms.ChoiceField(choices=[("events", "Errors"), ("transactions", "Transactions")])
    aggregate = forms.ChoiceField(choices=[(a, a) for a in AGGREGATES])
    query = forms.CharField(
        max_length=2000, required=False, help_text='e.g. transaction:"POST /api/checkout"'
    )
    environment = forms.CharField(max_length=64, required=False)
    time_window = forms.TypedChoiceField(
        choices=[(w, f"{w} minutes") for w in rules_json.TIME_WINDOWS], coerce=int, initial=5
    )
    threshold_type = forms.TypedChoiceField(
        choices=[(0, "above"), (1, "below")], coerce=int, label="Alert when the value is"
    )
    comparison_delta = forms.TypedChoiceField(
        choices=[("", "a static threshold")]
        + [(d, f"% change against {d} minutes before") for d in rules_json.COMPARISON_DELTAS],
        coerce=int,
        empty_value=None,
        required=False,
        label="Compared with",
    )
    critical = forms.FloatField(label="Critical threshold")
    critical_channels = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Critical: notify channels"
    )
    critical_email = forms.ChoiceField(required=False, label="Critical: email")
    warning = forms.FloatField(required=False, label="Warning threshold")
    warning_aggregate = forms.ChoiceField(
        required=False,
        choices=[("", "the same aggregate")] + [(a, a) for a in AGGREGATES],
        label="Warning on",
    )
    warning_channels = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Warning: notify channels"
    )
    warning_email = forms.ChoiceField(required=False, label="Warning: email")
    resolve = forms.FloatField(
        required=False, label="Resolve threshold", help_text="Empty: when no trigger breaches."
    )

    def __init__(
        self, *args: Any, organization: Organization, rule: MetricRule | None = None, **kw: Any
    ):
        super().__init__(*args, **kw)
        self.organization = organization
        projects = Project.objects.filter(organization=organization).order_by("name")
        self._choice("projects").choices = [(p.slug, p.name) for p in projects]
        channel_choices = [
            (c.slug, f"{c.name} ({c.kind})") for c in delivery.channels(organization)
        ]
        members = Member.objects.filter(organization=organization).select_related("user")
        emails = (
            [("", "—")]
            + [(f"user:{m.user_id}", m.user.email) for m in members.order_by("user__email")]
            + [(f"team:{t.pk}", f"Team #{t.slug}") for t in organization.teams.order_by("slug")]
        )
        for label in ("critical", "warning"):
            self._choice(f"{label}_channels").choices = channel_choices
            self._choice(f"{label}_email").choices = emails
        if rule is not None and not self.is_bound:
            self.initial.update(metric_initial(rule))
        self.data_json: dict[str, Any] = {}
        self.chosen_projects: list[Project] = []

    def _choice(self, name: str) -> forms.ChoiceField:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        return field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        self.data_json = metric_json(data, self.organization)
        visible = Project.objects.filter(organization=self.organization)
        try:
            _, self.chosen_projects = rules_json.clean_metric_rule(
                self.data_json, self.organization, visible
            )
        except rules_json.InvalidRule as exc:
            raise forms.ValidationError(_sentence(str(exc))) from None
        return data


def _trigger_actions(org: Organization, channels: list[str], email: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for slug in channels:
        kind = (
            Channel.objects.filter(organization=org, slug=slug)
            .values_list("kind", flat=True)
            .first()
        )
        found.append(
            {"type": kind or "webhook", "targetType": "specific", "targetIdentifier": slug}
        )
    if email:
        target, _, identifier = email.partition(":")
        found.append({"type": "email", "targetType": target, "targetIdentifier": identifier})
    return found


def metric_json(data: dict[str, Any], org: Organization) -> dict[str, Any]:
    triggers = [
        {
            "label": "critical",
            "alertThreshold": data["critical"],
            "actions": _trigger_actions(
                org, data.get("critical_channels") or [], data.get("critical_email") or ""
            ),
        }
    ]
    if data.get("warning") is not None:
        warning: dict[str, Any] = {
            "label": "warning",
            "alertThreshold": data["warning"],
            "actions": _trigger_actions(
                org, data.get("warning_channels") or [], data.get("warning_email") or ""
            ),
        }
        if data.get("warning_aggregate"):
            warning["aggregate"] = data["warning_aggregate"]
        triggers.append(warning)
    return {
        "name": data["name"],
        "projects": list(data["projects"]),
        "dataset": data["dataset"],
        "aggregate": data["aggregate"],
        "query": data.get("query") or "",
        "environment": data.get("environment") or "",
        "timeWindow": data["time_window"],
        "thresholdType": data["threshold_type"],
        "comparisonDelta": data.get("comparison_delta"),
        "resolveThreshold": data.get("resolve"),
        "triggers": triggers,
    }


def metric_initial(rule: MetricRule) -> dict[str, Any]:
    initial: dict[str, Any] = {
        "name": rule.name,
        "projects": [p.slug for p in rule.projects.all()],
        "dataset": rule.dataset,
        "aggregate": rule.aggregate,
        "query": rule.query,
        "environment": rule.environment,
        "time_window": rule.time_window,
        "threshold_type": rule.threshold_type,
        "comparison_delta": rule.comparison_delta or "",
        "resolve": rule.resolve_threshold,
    }
    for trigger in rule.triggers:
        label = trigger.get("label")
        if label not in ("critical", "warning"):
            continue
        initial[label] = trigger.get("alertThreshold")
        actions = trigger.get("actions") or []
        initial[f"{label}_channels"] = [
            a.get("targetIdentifier") for a in actions if a.get("type") != "email"
        ]
        emails = [a for a in actions if a.get("type") == "email"]
        if emails:
            initial[f"{label}_email"] = (
                f"{emails[0].get('targetType')}:{emails[0].get('targetIdentifier')}"
            )
        if label == "warning":
            initial["warning_aggregate"] = trigger.get("aggregate", "")
    return initial
