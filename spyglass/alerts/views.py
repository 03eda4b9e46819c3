"""Alert pages: a project's alert rules (issue and metric, with when each last fired), the
rule forms, an issue rule's history of fires, a metric rule's incidents, an organization's
incidents and an incident's page (timeline and chart). Every view resolves access first:
anything of an organization the user is not a member of is a 404. Members may edit alert
rules (Sentry's default)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from spyglass.alerts import conditions, delivery, filters
from spyglass.alerts.forms import IssueRuleForm, MetricRuleForm
from spyglass.alerts.metric_alerts import format_value, threshold
from spyglass.alerts.models import (
    FOREVER,
    Incident,
    IncidentStatus,
    MetricRule,
    Rule,
    RuleFire,
)
from spyglass.alerts.rules_json import clean_issue_rule, clean_metric_rule
from spyglass.issues.models import Issue
from spyglass.projects.access import get_membership, get_project, signed_in_user
from spyglass.projects.models import Project

MUTE_FOR = {"1h": timedelta(hours=1), "1d": timedelta(days=1), "1w": timedelta(weeks=1)}
HISTORY = 100


def _context(project: Project, **extra: Any) -> dict[str, Any]:
    return {"organization": project.organization, "project": project, **extra}


MAX_ID = 2**63 - 1


def _issue_rule(project: Project, rule_id: int) -> Rule:
    if rule_id > MAX_ID:
        raise Http404("No such rule")
    rule = Rule.objects.filter(project=project, pk=rule_id).first()
    if rule is None:
        raise Http404("No such rule")
    return rule


def _metric_rule(project: Project, rule_id: int) -> MetricRule:
    if rule_id > MAX_ID:
        raise Http404("No such rule")
    rule = (
        MetricRule.objects.filter(organization=project.organization, projects=project, pk=rule_id)
        .prefetch_related("projects")
        .first()
    )
    if rule is None:
        raise Http404("No such rule")
    return rule


@login_required
def rules(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    issue_rules = list(Rule.objects.filter(project=project).order_by("name", "id"))
    metric_rules = list(
        MetricRule.objects.filter(projects=project).prefetch_related("projects").order_by("name")
    )
    open_incidents = {
        i.rule_id: i for i in Incident.objects.filter(rule__in=metric_rules, closed_at__isnull=True)
    }
    last_incident = {}
    for incident in Incident.objects.filter(rule__in=metric_rules).order_by("started_at"):
        last_incident[incident.rule_id] = incident.started_at
    now = timezone.now()
    return render(
        request,
        "alerts/rules.html",
        _context(
            project,
            issue_rows=[
                {"rule": r, "muted": r.is_muted(now), "summary": _summary(r)} for r in issue_rules
            ],
            metric_rows=[
                {
                    "rule": r,
                    "muted": r.is_muted(now),
                    "incident": open_incidents.get(r.pk),
                    "last_triggered": last_incident.get(r.pk),
                    "value": format_value(r, r.last_value),
                }
                for r in metric_rules
            ],
        ),
    )


def _summary(rule: Rule) -> list[str]:
    return [conditions.label(c) for c in rule.conditions] + [filters.label(f) for f in rule.filters]


@login_required
def issue_rule_new(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    form = IssueRuleForm(
        request.POST or None,
        project=project,
        initial={"action_match": "all", "filter_match": "all", "first_seen": True},
    )
    if request.method == "POST" and form.is_valid():
        fields = clean_issue_rule(form.data_json, project)
        rule = Rule.objects.create(project=project, created_by=signed_in_user(request), **fields)
        messages.success(request, f"Created the alert rule “{rule.name}”.")
        return redirect("alerts:issue_rule", org_slug, project_slug, rule.pk)
    return render(request, "alerts/issue_rule_form.html", _context(project, form=form, rule=None))


@login_required
def issue_rule_edit(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _issue_rule(project, rule_id)
    form = IssueRuleForm(request.POST or None, project=project, rule=rule)
    if request.method == "POST" and form.is_valid():
        for name, value in clean_issue_rule(form.data_json, project).items():
            setattr(rule, name, value)
        rule.updated_at = timezone.now()
        rule.save()
        messages.success(request, f"Saved the alert rule “{rule.name}”.")
        return redirect("alerts:issue_rule", org_slug, project_slug, rule.pk)
    return render(request, "alerts/issue_rule_form.html", _context(project, form=form, rule=rule))


@login_required
def issue_rule(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _issue_rule(project, rule_id)
    fires = list(RuleFire.objects.filter(rule=rule).order_by("-fired_at", "-id")[:HISTORY])
    issues = Issue.objects.in_bulk({f.issue_id for f in fires})
    for issue in issues.values():
        issue.project = project
    return render(
        request,
        "alerts/issue_rule.html",
        _context(
            project,
            rule=rule,
            muted=rule.is_muted(),
            muted_forever=rule.muted_until == FOREVER,
            conditions=[conditions.label(c) for c in rule.conditions],
            filters=[filters.label(f) for f in rule.filters],
            actions=[delivery.describe(a) for a in rule.actions],
            fires=[{"fire": f, "issue": issues.get(f.issue_id)} for f in fires],
            fire_count=RuleFire.objects.filter(rule=rule).count(),
        ),
    )


def _mute_until(request: HttpRequest) -> datetime | None:
    choice = request.POST.get("for", "")
    if choice == "unmute":
        return None
    if choice == "forever":
        return FOREVER
    if choice in MUTE_FOR:
        return timezone.now() + MUTE_FOR[choice]
    raise Http404("No such duration")


@login_required
@require_POST
def issue_rule_mute(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _issue_rule(project, rule_id)
    rule.muted_until = _mute_until(request)
    rule.save(update_fields=["muted_until"])
    messages.success(request, "Unmuted." if rule.muted_until is None else "Muted.")
    return redirect("alerts:issue_rule", org_slug, project_slug, rule.pk)


@login_required
@require_POST
def issue_rule_delete(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _issue_rule(project, rule_id)
    rule.delete()
    messages.success(request, f"Deleted the alert rule “{rule.name}”.")
    return redirect("alerts:rules", org_slug, project_slug)


# --- metric alert rules ----------------------------------------------------------------------


def _save_metric(
    request: HttpRequest, project: Project, form: MetricRuleForm, rule: MetricRule | None
) -> MetricRule:
    org = project.organization
    fields, projects = clean_metric_rule(
        form.data_json, org, Project.objects.filter(organization=org)
    )
    with transaction.atomic():
        if rule is None:
            rule = MetricRule(organization=org, created_by=signed_in_user(request))
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.updated_at = timezone.now()
        rule.save()
        rule.projects.set(projects)
    return rule


@login_required
def metric_rule_new(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    form = MetricRuleForm(
        request.POST or None,
        organization=project.organization,
        initial={"projects": [project.slug], "time_window": 5, "threshold_type": 0},
    )
    if request.method == "POST" and form.is_valid():
        rule = _save_metric(request, project, form, None)
        messages.success(request, f"Created the metric alert “{rule.name}”.")
        target = project if project in form.chosen_projects else form.chosen_projects[0]
        return redirect("alerts:metric_rule", org_slug, target.slug, rule.pk)
    return render(request, "alerts/metric_rule_form.html", _context(project, form=form, rule=None))


@login_required
def metric_rule_edit(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _metric_rule(project, rule_id)
    form = MetricRuleForm(request.POST or None, organization=project.organization, rule=rule)
    if request.method == "POST" and form.is_valid():
        rule = _save_metric(request, project, form, rule)
        messages.success(request, f"Saved the metric alert “{rule.name}”.")
        target = project if project in form.chosen_projects else form.chosen_projects[0]
        return redirect("alerts:metric_rule", org_slug, target.slug, rule.pk)
    return render(request, "alerts/metric_rule_form.html", _context(project, form=form, rule=rule))


@login_required
def metric_rule(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _metric_rule(project, rule_id)
    now = timezone.now()
    values = list(
        rule.values.filter(at__gte=now - timedelta(days=1))
        .order_by("at")
        .values_list("at", "value")
    )
    return render(
        request,
        "alerts/metric_rule.html",
        _context(
            project,
            rule=rule,
            muted=rule.is_muted(now),
            triggers=_triggers(rule),
            incidents=list(rule.incidents.order_by("-started_at")[:HISTORY]),
            points=values,
            thresholds=_lines(rule),
            value=format_value(rule, rule.last_value),
        ),
    )


def _triggers(rule: MetricRule) -> list[dict[str, Any]]:
    found = []
    for trigger in rule.triggers:
        aggregate = str(trigger.get("aggregate") or rule.aggregate)
        found.append(
            {
                "label": trigger.get("label"),
                "aggregate": aggregate,
                "threshold": format_value(
                    rule, threshold(rule, str(trigger.get("label"))), aggregate
                ),
                "actions": [delivery.describe(a) for a in trigger.get("actions") or []],
            }
        )
    return found


def _lines(rule: MetricRule) -> list[tuple[str, float]]:
    """Threshold lines for the chart (of the rule's own aggregate)."""
    lines = []
    for label in ("critical", "warning"):
        trigger = rule.trigger(label)
        limit = threshold(rule, label)
        if trigger and limit is not None and not trigger.get("aggregate"):
            lines.append((label, limit))
    if rule.resolve_threshold is not None:
        lines.append(("resolve", rule.resolve_threshold))
    return lines


@login_required
@require_POST
def metric_rule_mute(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _metric_rule(project, rule_id)
    rule.muted_until = _mute_until(request)
    rule.save(update_fields=["muted_until"])
    messages.success(request, "Unmuted." if rule.muted_until is None else "Muted.")
    return redirect("alerts:metric_rule", org_slug, project_slug, rule.pk)


@login_required
@require_POST
def metric_rule_delete(
    request: HttpRequest, org_slug: str, project_slug: str, rule_id: int
) -> HttpResponse:
    project, _ = get_project(request, org_slug, project_slug)
    rule = _metric_rule(project, rule_id)
    rule.delete()
    messages.success(request, f"Deleted the metric alert “{rule.name}”.")
    return redirect("alerts:rules", org_slug, project_slug)


# --- incidents -------------------------------------------------------------------------------


@login_required
def incidents(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    state = request.GET.get("state", "open")
    found = Incident.objects.filter(organization=member.organization).select_related("rule")
    if state == "open":
        found = found.filter(closed_at__isnull=True)
    elif state == "closed":
        found = found.filter(~Q(closed_at=None))
    return render(
        request,
        "alerts/incidents.html",
        {
            "organization": member.organization,
            "state": state,
            "incidents": list(found.order_by("-started_at")[:HISTORY]),
        },
    )


@login_required
def incident(request: HttpRequest, org_slug: str, identifier: int) -> HttpResponse:
    member = get_membership(request, org_slug)
    if identifier > MAX_ID:
        raise Http404("No such incident")
    found = (
        Incident.objects.filter(organization=member.organization, identifier=identifier)
        .select_related("rule")
        .first()
    )
    if found is None:
        raise Http404("No such incident")
    rule = found.rule
    window = timedelta(minutes=rule.time_window)
    end = found.closed_at or timezone.now()
    start = found.started_at - max(window * 2, timedelta(minutes=30))
    points = list(
        rule.values.filter(at__gte=start, at__lte=end + window)
        .order_by("at")
        .values_list("at", "value")
    )
    activities = [
        {
            "activity": a,
            "label": IncidentStatus(a.status).label,
            "value": format_value(rule, a.value),
        }
        for a in found.activities.order_by("at", "id")
    ]
    projects = list(rule.projects.order_by("name"))
    return render(
        request,
        "alerts/incident.html",
        {
            "organization": member.organization,
            "incident": found,
            "rule": rule,
            "status": IncidentStatus(found.status).label,
            "projects": projects,
            "rule_project": projects[0] if projects else None,
            "activities": activities,
            "points": points,
            "thresholds": _lines(rule),
            "threshold_labels": [(n, format_value(rule, v)) for n, v in _lines(rule)],
            "triggers": _triggers(rule),
            "peak": format_value(rule, found.peak_value),
        },
    )
