"""Rules in Sentry's JSON shapes: validation of what the API and the forms send (one place
for both), and serialization of what they read back.

Issue alert rules: Sentry's project rule (``actionMatch``, ``filterMatch``, ``frequency``,
``conditions``, ``filters``, ``actions`` of ``{"id": …, params}``). Metric alert rules:
Sentry's alert rule (``aggregate``, ``dataset``, ``query``, ``timeWindow``, ``thresholdType``,
``resolveThreshold``, ``comparisonDelta``, ``triggers`` with ``actions``). Unknown keys are
dropped; known ones are kept as sent, so a rule reads back as it was written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from spyglass.accounts.models import User
from spyglass.alerts import conditions, delivery, filters, metrics
from spyglass.alerts.models import Match, MetricRule, Rule
from spyglass.events.models import Event
from spyglass.events.query import event_q
from spyglass.performance.search import transaction_queryset
from spyglass.projects.models import Member, Organization, Project, Team
from spyglass.search import Scope, SearchSyntaxError, parse

MIN_FREQUENCY, MAX_FREQUENCY = 5, 43200
TIME_WINDOWS = (1, 5, 10, 15, 30, 60, 120, 240, 1440)
COMPARISON_DELTAS = (5, 15, 60, 1440, 10080, 43200)
MATCHES = tuple(m.value for m in Match)


class InvalidRule(ValueError):
    """What is wrong, as one sentence for the API's ``detail`` and the form."""


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _user(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "name": user.name or user.email, "email": user.email}


def _number(params: Mapping[str, Any], key: str, *, minimum: float = 0) -> float:
    raw = params.get(key)
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidRule(f"{key} must be a number") from None
    if value != value or value < minimum or value > 1e15:
        raise InvalidRule(f"{key} must be a number of at least {minimum:g}")
    return value


def _choice(params: Mapping[str, Any], key: str, choices: Any, default: Any = None) -> Any:
    value = params.get(key, default)
    if value not in choices:
        raise InvalidRule(f"{key} must be one of: {', '.join(str(c) for c in choices)}")
    return value


def _text(params: Mapping[str, Any], key: str, *, required: bool = True, limit: int = 200) -> str:
    value = params.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str | int | float):
        raise InvalidRule(f"{key} must be text")
    value = str(value)
    if required and not value.strip():
        raise InvalidRule(f"{key} is required")
    if len(value) > limit:
        raise InvalidRule(f"{key} is longer than {limit} characters")
    return value


# --- issue alert rules -------------------------------------------------------------------------


def _clean_condition(params: Mapping[str, Any]) -> dict[str, Any]:
    cid = params.get("id")
    if cid not in conditions.CONDITIONS:
        raise InvalidRule(f"unknown condition {cid!r}")
    clean: dict[str, Any] = {"id": cid}
    if cid in (conditions.FREQUENCY, conditions.USER_FREQUENCY):
        _number(params, "value")
        _choice(params, "interval", conditions.INTERVALS)
        clean.update(value=params["value"], interval=params["interval"])
        kind = params.get("comparisonType", "count")
        if cid == conditions.USER_FREQUENCY and kind != "count":
            raise InvalidRule("unique users compare as a count only")
        _choice({"comparisonType": kind}, "comparisonType", ("count", "percent"))
        if "comparisonType" in params:
            clean["comparisonType"] = kind
        if kind == "percent":
            clean["comparisonInterval"] = _choice(
                params, "comparisonInterval", conditions.COMPARISON_INTERVALS
            )
    return clean


def _filter_checks() -> dict[str, Callable[[Mapping[str, Any], Organization], dict[str, Any]]]:
    def level(p: Mapping[str, Any], _: Organization) -> dict[str, Any]:
        _choice(p, "match", ("eq", "gte", "lte"))
        if str(p.get("level")) not in {str(v) for v in filters.LEVELS.values()}:
            raise InvalidRule("level must be one of 0, 10, 20, 30, 40, 50")
        return {"match": p["match"], "level": p["level"]}

    def matching(key: str, choices: Any = None) -> Callable[..., dict[str, Any]]:
        def check(p: Mapping[str, Any], _: Organization) -> dict[str, Any]:
            name = _choice(p, key, choices) if choices else _text(p, key)
            match = _choice(p, "match", filters.MATCHES)
            value = "" if match in ("is", "ns") else _text(p, "value")
            return {key: name, "match": match, "value": value}

        return check

    def age(p: Mapping[str, Any], _: Organization) -> dict[str, Any]:
        _number(p, "value")
        return {
            "comparison_type": _choice(p, "comparison_type", ("older", "newer")),
            "value": p["value"],
            "time": _choice(p, "time", filters.AGE_UNITS),
        }

    def occurrences(p: Mapping[str, Any], _: Organization) -> dict[str, Any]:
        _number(p, "value")
        return {"value": p["value"]}

    def assigned(p: Mapping[str, Any], org: Organization) -> dict[str, Any]:
        target = _choice(p, "targetType", ("Unassigned", "Team", "Member"))
        if target == "Unassigned":
            return {"targetType": target}
        _target_exists(org, target, p.get("targetIdentifier"))
        return {"targetType": target, "targetIdentifier": p["targetIdentifier"]}

    def category(p: Mapping[str, Any], _: Organization) -> dict[str, Any]:
        if str(p.get("value")) not in filters.CATEGORIES:
            raise InvalidRule(f"value must be one of {', '.join(filters.CATEGORIES)}")
        return {"value": p["value"]}

    return {
        filters.LEVEL: level,
        filters.TAGGED: matching("key"),
        filters.ATTRIBUTE: matching("attribute", filters.ATTRIBUTES),
        filters.AGE: age,
        filters.OCCURRENCES: occurrences,
        filters.ASSIGNED: assigned,
        filters.LATEST_RELEASE: lambda p, o: {},
        filters.CATEGORY: category,
    }


_FILTER_CHECKS = _filter_checks()


def _target_exists(org: Organization, target: str, identifier: object) -> None:
    try:
        pk = int(str(identifier))
    except ValueError:
        raise InvalidRule("targetIdentifier must be an id") from None
    if target in ("Team", "team"):
        if not Team.objects.filter(organization=org, pk=pk).exists():
            raise InvalidRule(f"no team {pk} in this organization")
    elif not Member.objects.filter(organization=org, user_id=pk).exists():
        raise InvalidRule(f"no member {pk} in this organization")


def _clean_action(params: Mapping[str, Any], org: Organization) -> dict[str, Any]:
    aid = params.get("id")
    if aid == delivery.SERVICE_ACTION:
        service = _text(params, "service")
        if delivery.channel(org, service) is None:
            raise InvalidRule(f"no channel {service!r} in this organization")
        return {"id": aid, "service": service}
    if aid == delivery.EMAIL_ACTION:
        target = _choice(params, "targetType", ("IssueOwners", "Team", "Member"))
        clean: dict[str, Any] = {"id": aid, "targetType": target}
        if target == "IssueOwners":
            clean["fallthroughType"] = _choice(
                params, "fallthroughType", ("ActiveMembers", "AllMembers", "NoOne"), "ActiveMembers"
            )
        else:
            _target_exists(org, target, params.get("targetIdentifier"))
            clean["targetIdentifier"] = params["targetIdentifier"]
        return clean
    raise InvalidRule(f"unknown action {aid!r}")


def _list(data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidRule(f"{key} must be a list of objects")
    if len(value) > 50:
        raise InvalidRule(f"{key} takes at most 50 entries")
    return value


def clean_issue_rule(data: Mapping[str, Any], project: Project) -> dict[str, Any]:
    """Model fields of a Rule from Sentry's JSON, or InvalidRule."""
    org = project.organization
    found_conditions = [_clean_condition(c) for c in _list(data, "conditions")]
    if not found_conditions:
        raise InvalidRule("a rule needs at least one condition")
    found_filters = []
    for params in _list(data, "filters"):
        check = _FILTER_CHECKS.get(str(params.get("id")))
        if check is None:
            raise InvalidRule(f"unknown filter {params.get('id')!r}")
        found_filters.append({"id": params["id"], **check(params, org)})
    found_actions = [_clean_action(a, org) for a in _list(data, "actions")]
    if not found_actions:
        raise InvalidRule("a rule needs at least one action")
    frequency = (
        int(_number(data, "frequency", minimum=MIN_FREQUENCY)) if "frequency" in data else 30
    )
    if frequency > MAX_FREQUENCY:
        raise InvalidRule(f"frequency must be between {MIN_FREQUENCY} and {MAX_FREQUENCY}")
    return {
        "name": _text(data, "name", limit=256).strip(),
        "environment": _text(data, "environment", required=False, limit=64),
        "action_match": _choice(data, "actionMatch", MATCHES, "all"),
        "filter_match": _choice(data, "filterMatch", MATCHES, "all"),
        "frequency": frequency,
        "conditions": found_conditions,
        "filters": found_filters,
        "actions": found_actions,
        "owner": _owner(data, org),
    }


def _owner(data: Mapping[str, Any], org: Organization) -> str:
    owner = data.get("owner")
    if not owner:
        return ""
    kind, _, pk = str(owner).partition(":")
    if kind not in ("team", "user"):
        raise InvalidRule('owner must be "team:<id>" or "user:<id>"')
    _target_exists(org, kind, pk)
    return f"{kind}:{pk}"


def _named(items: list[dict[str, Any]], label: Callable[[Mapping[str, Any]], str]) -> list[Any]:
    return [{**item, "name": label(item)} for item in items]


def serialize_issue_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": str(rule.pk),
        "name": rule.name,
        "conditions": _named(rule.conditions, conditions.label),
        "filters": _named(rule.filters, filters.label),
        "actions": _named(rule.actions, delivery.describe),
        "actionMatch": rule.action_match,
        "filterMatch": rule.filter_match,
        "frequency": rule.frequency,
        "environment": rule.environment or None,
        "owner": rule.owner or None,
        "projects": [rule.project.slug],
        "status": "active",
        "snooze": rule.is_muted(),
        "snoozeUntil": iso(rule.muted_until) if rule.is_muted() else None,
        "dateCreated": iso(rule.created_at),
        "lastTriggered": iso(rule.last_fired_at),
        "createdBy": _user(rule.created_by),
    }


# --- metric alert rules ------------------------------------------------------------------------


def _clean_query(dataset: str, query: str, projects: list[Project]) -> None:
    try:
        if dataset == "transactions":
            str(transaction_queryset(projects, query).query)
        else:
            node = parse(query, now=timezone.now(), scope=Scope.EVENT)
            qs: QuerySet[Event] = Event.objects.filter(event_q(node))
            str(qs.query)
    except SearchSyntaxError as exc:
        raise InvalidRule(f"query: {exc}") from None


def _clean_trigger_action(params: Mapping[str, Any], org: Organization) -> dict[str, Any]:
    kind = _text(params, "type", limit=32)
    target = _text(params, "targetIdentifier", limit=64)
    if kind == "email":
        target_type = _choice(params, "targetType", ("user", "team"))
        _target_exists(org, target_type, target)
    else:
        target_type = params.get("targetType", "specific")
        if delivery.channel(org, target) is None:
            raise InvalidRule(f"no channel {target!r} in this organization")
    return {"type": kind, "targetType": target_type, "targetIdentifier": target}


def _clean_triggers(data: Mapping[str, Any], org: Organization, dataset: str) -> list[Any]:
    found: dict[str, dict[str, Any]] = {}
    for params in _list(data, "triggers"):
        label = _choice(params, "label", ("critical", "warning"))
        if label in found:
            raise InvalidRule(f"one {label} trigger only")
        clean: dict[str, Any] = {"label": label, "alertThreshold": params.get("alertThreshold")}
        _number(params, "alertThreshold", minimum=-1e15)
        if params.get("aggregate"):
            if not metrics.valid_aggregate(dataset, str(params["aggregate"])):
                raise InvalidRule(f"unknown aggregate {params['aggregate']!r} for {dataset}")
            clean["aggregate"] = params["aggregate"]
        clean["actions"] = [_clean_trigger_action(a, org) for a in _list(params, "actions")]
        found[label] = clean
    if "critical" not in found:
        raise InvalidRule("a critical trigger is required")
    return [found[label] for label in ("critical", "warning") if label in found]


def clean_metric_rule(
    data: Mapping[str, Any], org: Organization, visible: QuerySet[Project]
) -> tuple[dict[str, Any], list[Project]]:
    """Model fields of a MetricRule and its projects, or InvalidRule."""
    slugs = data.get("projects") or []
    if not isinstance(slugs, list) or not slugs or not all(isinstance(s, str) for s in slugs):
        raise InvalidRule("projects must list at least one project slug")
    projects = list(visible.filter(organization=org, slug__in=slugs))
    if len(projects) != len(set(slugs)):
        raise InvalidRule("projects names a project that doesn't exist")
    aggregate = _text(data, "aggregate", limit=128).replace(" ", "")
    # Sentry's default is errors; an aggregate only transactions have implies them.
    implied = "events" if metrics.valid_aggregate("events", aggregate) else "transactions"
    dataset = data.get("dataset") or implied
    dataset = _choice({"dataset": dataset}, "dataset", ("events", "transactions"))
    if not metrics.valid_aggregate(dataset, aggregate):
        raise InvalidRule(f"unknown aggregate {aggregate!r} for {dataset}")
    query = _text(data, "query", required=False, limit=2000)
    _clean_query(dataset, query, projects)
    window = int(_number(data, "timeWindow", minimum=1))
    if window not in TIME_WINDOWS:
        raise InvalidRule(f"timeWindow must be one of {', '.join(map(str, TIME_WINDOWS))}")
    threshold_type = int(_choice(data, "thresholdType", (0, 1, "0", "1"), 0))
    delta = data.get("comparisonDelta")
    if delta is not None and int(_number(data, "comparisonDelta")) not in COMPARISON_DELTAS:
        raise InvalidRule(f"comparisonDelta must be one of {COMPARISON_DELTAS}")
    resolve = data.get("resolveThreshold")
    if resolve is not None:
        _number(data, "resolveThreshold", minimum=-1e15)
    triggers = _clean_triggers(data, org, dataset)
    _check_order(triggers, threshold_type)
    fields = {
        "name": _text(data, "name", limit=256).strip(),
        "dataset": dataset,
        "aggregate": aggregate,
        "query": query,
        "time_window": window,
        "threshold_type": threshold_type,
        "resolve_threshold": None if resolve is None else float(resolve),
        "comparison_delta": None if delta is None else int(delta),
        "environment": _text(data, "environment", required=False, limit=64),
        "owner": _owner(data, org),
        "triggers": triggers,
    }
    return fields, projects


def _check_order(triggers: list[Any], threshold_type: int) -> None:
    """A warning is less severe than the critical (same aggregate only)."""
    by_label = {t["label"]: t for t in triggers}
    warning, critical = by_label.get("warning"), by_label["critical"]
    if warning is None or warning.get("aggregate", "") != critical.get("aggregate", ""):
        return
    w, c = float(warning["alertThreshold"]), float(critical["alertThreshold"])
    if (threshold_type == 0 and w > c) or (threshold_type == 1 and w < c):
        raise InvalidRule("the warning threshold must be less severe than the critical one")


def serialize_metric_rule(rule: MetricRule) -> dict[str, Any]:
    created = iso(rule.created_at)
    triggers = []
    for n, trigger in enumerate(rule.triggers, start=1):
        trigger_id = str(rule.pk * 10 + n)
        actions = [
            {
                "id": str(rule.pk * 100 + n * 10 + m),
                "alertRuleTriggerId": trigger_id,
                "inputChannelId": None,
                "integrationId": None,
                "sentryAppId": None,
                "dateCreated": created,
                "desc": delivery.describe(action),
                **action,
            }
            for m, action in enumerate(trigger.get("actions", []), start=1)
        ]
        triggers.append(
            {
                **trigger,
                "id": trigger_id,
                "alertRuleId": str(rule.pk),
                "thresholdType": rule.threshold_type,
                "resolveThreshold": rule.resolve_threshold,
                "dateCreated": created,
                "actions": actions,
            }
        )
    return {
        "id": str(rule.pk),
        "name": rule.name,
        "organizationId": str(rule.organization_id),
        "status": 0,
        "queryType": 1 if rule.dataset == "transactions" else 0,
        "dataset": rule.dataset,
        "eventTypes": ["transaction"] if rule.dataset == "transactions" else ["error", "default"],
        "query": rule.query,
        "aggregate": rule.aggregate,
        "timeWindow": float(rule.time_window),
        "thresholdType": rule.threshold_type,
        "resolveThreshold": rule.resolve_threshold,
        "comparisonDelta": rule.comparison_delta,
        "environment": rule.environment or None,
        "owner": rule.owner or None,
        "projects": sorted(p.slug for p in rule.projects.all()),
        "triggers": triggers,
        "snooze": rule.is_muted(),
        "dateCreated": created,
        "dateModified": iso(rule.updated_at),
        "createdBy": _user(rule.created_by),
    }
