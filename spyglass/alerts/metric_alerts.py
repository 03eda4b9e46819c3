"""Metric alerts, evaluated every minute by the scheduler (one active scheduler).

Each rule computes its aggregate over the last ``time_window`` minutes (as a percent change
against ``comparison_delta`` minutes earlier when that is set) and moves its incident:
none → warning / critical (opened), warning ⇄ critical, and → closed when the value crosses
the resolve threshold (or, without one, stops breaching every trigger). Each change is an
``IncidentActivity`` and notifies the actions of the trigger that caused it; a resolve goes
to every action of the rule with ``action="resolve"`` and the incident's dedup key, so
PagerDuty resolves the incident it opened."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from spyglass.alerts import delivery, metrics
from spyglass.alerts.models import (
    Incident,
    IncidentActivity,
    IncidentStatus,
    MetricRule,
    MetricValue,
    ThresholdType,
)
from spyglass.notifications.message import Notification
from spyglass.projects.models import Organization

log = logging.getLogger(__name__)

KEEP_VALUES = timedelta(days=90)
LABELS = {
    IncidentStatus.CRITICAL: "Critical",
    IncidentStatus.WARNING: "Warning",
    IncidentStatus.CLOSED: "Resolved",
}


def evaluate_all(now: datetime | None = None) -> int:
    """The scheduler's job: every rule once; the number of incident changes."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    changes = 0
    for rule in MetricRule.objects.select_related("organization").prefetch_related("projects"):
        try:
            changes += evaluate(rule, now)
        except Exception:
            log.exception("metric alert rule %s failed", rule.pk)
    return changes


def scope_of(rule: MetricRule) -> metrics.MetricScope:
    return metrics.MetricScope(
        project_ids=[p.pk for p in rule.projects.all()],
        dataset=rule.dataset,
        aggregate=rule.aggregate,
        query=rule.query,
        environment=rule.environment,
    )


def aggregates(rule: MetricRule) -> list[str]:
    """The rule's aggregate, then any other a trigger asks for (Spyglass lets a trigger
    name its own, e.g. a warning on p95 and a critical on p99)."""
    found = [rule.aggregate]
    for trigger in rule.triggers:
        other = trigger.get("aggregate") if isinstance(trigger, dict) else None
        if isinstance(other, str) and other and other not in found:
            found.append(other)
    return found


def compute(rule: MetricRule, now: datetime, aggregate: str | None = None) -> float | None:
    scope = scope_of(rule)
    if not scope.project_ids:
        return None
    if aggregate:
        scope = replace(scope, aggregate=aggregate)
    window = timedelta(minutes=rule.time_window)
    current = metrics.value(scope, now - window, now)
    if not rule.comparison_delta or current is None:
        return current
    delta = timedelta(minutes=rule.comparison_delta)
    previous = metrics.value(scope, now - delta - window, now - delta)
    if not previous:
        return None
    return (current - previous) / previous * 100


def threshold(rule: MetricRule, label: str) -> float | None:
    trigger = rule.trigger(label)
    raw = trigger.get("alertThreshold") if trigger else None
    try:
        return float(raw) if isinstance(raw, int | float | str) and raw != "" else None
    except ValueError:
        return None


def breaches(rule: MetricRule, value: float, limit: float | None) -> bool:
    if limit is None:
        return False
    if rule.comparison_delta and rule.threshold_type == ThresholdType.BELOW:
        return value < -limit  # "decreased by more than limit %"
    return value > limit if rule.threshold_type == ThresholdType.ABOVE else value < limit


def trigger_value(rule: MetricRule, label: str, values: Mapping[str, float | None]) -> float | None:
    trigger = rule.trigger(label)
    aggregate = trigger.get("aggregate") if trigger else None
    return values.get(aggregate if isinstance(aggregate, str) and aggregate else rule.aggregate)


def status_for(rule: MetricRule, values: Mapping[str, float | None]) -> IncidentStatus | None:
    for label, status in (
        ("critical", IncidentStatus.CRITICAL),
        ("warning", IncidentStatus.WARNING),
    ):
        value = trigger_value(rule, label, values)
        if value is not None and breaches(rule, value, threshold(rule, label)):
            return status
    return None


def resolves(rule: MetricRule, values: Mapping[str, float | None]) -> bool:
    """Whether an open incident closes: its value crossed the resolve threshold back, or
    (without one) no trigger breaches."""
    if rule.resolve_threshold is None:
        known = [trigger_value(rule, label, values) for label in ("critical", "warning")]
        return any(v is not None for v in known) and status_for(rule, values) is None
    value = values.get(rule.aggregate)
    if value is None:
        return False
    limit = rule.resolve_threshold
    if rule.comparison_delta and rule.threshold_type == ThresholdType.BELOW:
        return value > -limit
    return value < limit if rule.threshold_type == ThresholdType.ABOVE else value > limit


def evaluate(rule: MetricRule, now: datetime) -> int:
    values = {aggregate: compute(rule, now, aggregate) for aggregate in aggregates(rule)}
    value = values[rule.aggregate]
    with transaction.atomic():
        MetricValue.objects.update_or_create(
            rule=rule, at=now, defaults={"value": value, "values": values}
        )
        MetricRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_value=value)
        MetricValue.objects.filter(rule=rule, at__lt=now - KEEP_VALUES).delete()
        incident = Incident.objects.filter(rule=rule, closed_at__isnull=True).first()
        wanted = status_for(rule, values)
        if incident is None:
            if wanted is None:
                return 0
            incident = _open(rule, wanted, trigger_value(rule, _label(wanted), values), now)
            _notify(rule, incident, wanted, values)
            return 1
        if wanted is not None and wanted != incident.status:
            _move(incident, wanted, trigger_value(rule, _label(wanted), values), now)
            _notify(rule, incident, wanted, values)
            return 1
        if wanted is None and resolves(rule, values):
            _move(incident, IncidentStatus.CLOSED, value, now)
            _notify(rule, incident, IncidentStatus.CLOSED, values)
            return 1
        if value is not None and (
            incident.peak_value is None or _worse(rule, value, incident.peak_value)
        ):
            Incident.objects.filter(pk=incident.pk).update(peak_value=value)
    return 0


def _label(status: int) -> str:
    return "critical" if status == IncidentStatus.CRITICAL else "warning"


def _worse(rule: MetricRule, value: float, than: float) -> bool:
    return value < than if rule.threshold_type == ThresholdType.BELOW else value > than


def _open(rule: MetricRule, status: IncidentStatus, value: float | None, now: datetime) -> Incident:
    last = Incident.objects.filter(organization_id=rule.organization_id).aggregate(
        n=Max("identifier")
    )["n"]
    incident = Incident.objects.create(
        rule=rule,
        organization_id=rule.organization_id,
        identifier=(last or 0) + 1,
        title=rule.name,
        status=status,
        started_at=now,
        peak_value=value,
    )
    IncidentActivity.objects.create(
        incident=incident, status=IncidentStatus.OPEN, value=value, at=now
    )
    IncidentActivity.objects.create(
        incident=incident, status=status, previous_status=IncidentStatus.OPEN, value=value, at=now
    )
    return incident


def _move(incident: Incident, status: IncidentStatus, value: float | None, now: datetime) -> None:
    IncidentActivity.objects.create(
        incident=incident, status=status, previous_status=incident.status, value=value, at=now
    )
    incident.status = status
    if status == IncidentStatus.CLOSED:
        incident.closed_at = now
    incident.save(update_fields=["status", "closed_at"])


def incident_url(incident: Incident, organization: Organization) -> str:
    return f"{settings.BASE_URL}/{organization.slug}/alerts/incidents/{incident.identifier}/"


def format_value(rule: MetricRule, value: float | None, aggregate: str = "") -> str:
    aggregate = aggregate or rule.aggregate
    if value is None:
        return "—"
    if rule.comparison_delta:
        return f"{value:+.1f}%"
    if "duration" in aggregate:
        return f"{value / 1000:.2f}s" if value >= 1000 else f"{value:.0f}ms"
    if aggregate in ("failure_rate()", "error_rate()"):
        return f"{value * 100:.2f}%"
    return f"{value:g}" if value == int(value) else f"{value:.3f}"


def _notify(
    rule: MetricRule,
    incident: Incident,
    status: IncidentStatus,
    values: Mapping[str, float | None],
) -> None:
    if rule.is_muted():
        return
    resolved = status == IncidentStatus.CLOSED
    label = _label(status)
    trigger = rule.trigger(label) or {}
    aggregate = rule.aggregate if resolved else str(trigger.get("aggregate") or rule.aggregate)
    value = values.get(rule.aggregate) if resolved else trigger_value(rule, label, values)
    shown = format_value(rule, value, aggregate)
    direction = "above" if rule.threshold_type == ThresholdType.ABOVE else "below"
    if resolved:
        title = f"Resolved: {aggregate} back to {shown}"
    else:
        limit = format_value(rule, threshold(rule, label), aggregate)
        title = f"{LABELS[status]}: {aggregate} {direction} {limit}"
    fields = {
        "value": shown,
        "time window": f"{rule.time_window} min",
        "projects": ", ".join(p.slug for p in rule.projects.all()),
        "environment": rule.environment,
        "query": rule.query,
    }
    message = delivery.notification(
        kind="metric_alert",
        title=title,
        text=f"{rule.name}: {aggregate} is {shown} over the last {rule.time_window} minutes "
        f"(incident #{incident.identifier}).",
        url=incident_url(incident, rule.organization),
        level="resolved" if resolved else label,
        dedup_key=incident.dedup_key,
        action="resolve" if resolved else "trigger",
        rule_name=rule.name,
        incident_id=incident.pk,
        fields={k: v for k, v in fields.items() if v},
    )
    labels = ("critical", "warning") if resolved else (label,)
    actions = [a for lab in labels if (t := rule.trigger(lab)) for a in _actions(t)]
    project_ids = [p.pk for p in rule.projects.all()]
    for action in _unique(actions):
        run_trigger_action(rule.organization, action, message, project_ids)


def _actions(trigger: Mapping[str, object]) -> list[Mapping[str, Any]]:
    found = trigger.get("actions")
    return [a for a in found if isinstance(a, Mapping)] if isinstance(found, list) else []


def _unique(actions: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    seen: set[tuple[str, str, str]] = set()
    result = []
    for action in actions:
        key = (
            str(action.get("type")),
            str(action.get("targetType")),
            str(action.get("targetIdentifier")),
        )
        if key not in seen:
            seen.add(key)
            result.append(action)
    return result


def run_trigger_action(
    organization: Organization,
    action: Mapping[str, Any],
    message: Notification,
    project_ids: Sequence[int] | None = None,
) -> str | None:
    """Sentry's trigger action: ``type`` email with ``targetType`` user / team and its id;
    any other type names a channel by slug in ``targetIdentifier``. With ``project_ids``
    (the rule's projects), an email skips the users who turned alert email off for every
    one of them (see docs/alerts.md)."""
    target = str(action.get("targetIdentifier", ""))
    if action.get("type") == "email":
        if action.get("targetType") == "team":
            users = delivery.team_user_ids(int(target or 0))
        else:
            users = delivery.member_user_ids(organization, target)
        if project_ids is not None:
            users = delivery.without_opted_out(users, project_ids)
        return delivery.email(users, message)
    return delivery.send_to_channel(organization, target, message)
