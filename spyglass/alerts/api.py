"""Alert rule endpoints of /api/0/, in Sentry's shapes:

- ``GET/POST /projects/{org}/{project}/rules/`` and ``GET/PUT/DELETE …/rules/{id}/``: issue
  alert rules (Sentry's project rules).
- ``GET/POST /organizations/{org}/alert-rules/`` and ``GET/PUT/DELETE …/alert-rules/{id}/``:
  metric alert rules with their triggers and actions.

Reading takes ``alerts:read`` (or stronger); writing ``alerts:write`` (or ``project:write``
and stronger). Anything the user may not see is a 404, never a 403."""

from __future__ import annotations

from typing import Any

import orjson
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router

from spyglass.alerts.models import MetricRule, Rule
from spyglass.alerts.rules_json import (
    InvalidRule,
    clean_issue_rule,
    clean_metric_rule,
    serialize_issue_rule,
    serialize_metric_rule,
)
from spyglass.lib.restapi import ApiError, BadRequest, json_response
from spyglass.projects.access import get_membership, get_project, signed_in_user
from spyglass.projects.models import Project

router = Router(tags=["alerts"])

WRITE_SCOPES = {"alerts:write", "project:write", "project:admin", "org:write", "org:admin"}
MAX_BODY = 256 * 1024


def _writes(request: HttpRequest) -> None:
    scopes = set(getattr(request.auth, "scopes", ()) or ())  # type: ignore[attr-defined]
    if not scopes & WRITE_SCOPES:
        raise ApiError(403, "You do not have permission to perform this action.")


def _body(request: HttpRequest) -> dict[str, Any]:
    if len(request.body) > MAX_BODY:
        raise BadRequest("The request body is too large.")
    try:
        data = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _id(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise Http404("No such rule")
    return int(text)


# --- issue alert rules -----------------------------------------------------------------------


def _rule(project: Project, rule_id: str) -> Rule:
    rule = (
        Rule.objects.select_related("project", "created_by")
        .filter(project=project, pk=_id(rule_id))
        .first()
    )
    if rule is None:
        raise Http404("No such rule")
    return rule


@router.get("/projects/{org}/{project}/rules/", response={200: list[dict[str, Any]]})
def project_rules(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """A project's issue alert rules, newest first."""
    found, _ = get_project(request, org, project)
    rules = Rule.objects.filter(project=found).select_related("project", "created_by")
    return json_response([serialize_issue_rule(r) for r in rules.order_by("-created_at", "-id")])


@router.post("/projects/{org}/{project}/rules/", response={200: dict[str, Any]})
def create_project_rule(request: HttpRequest, org: str, project: str) -> HttpResponse:
    """Create an issue alert rule from Sentry's JSON."""
    _writes(request)
    found, _ = get_project(request, org, project)
    try:
        fields = clean_issue_rule(_body(request), found)
    except InvalidRule as exc:
        raise BadRequest(str(exc)) from None
    rule = Rule.objects.create(project=found, created_by=signed_in_user(request), **fields)
    return json_response(serialize_issue_rule(rule))


@router.get("/projects/{org}/{project}/rules/{rule_id}/", response={200: dict[str, Any]})
def project_rule(request: HttpRequest, org: str, project: str, rule_id: str) -> HttpResponse:
    found, _ = get_project(request, org, project)
    return json_response(serialize_issue_rule(_rule(found, rule_id)))


@router.put("/projects/{org}/{project}/rules/{rule_id}/", response={200: dict[str, Any]})
def update_project_rule(request: HttpRequest, org: str, project: str, rule_id: str) -> HttpResponse:
    """Replace an issue alert rule (Sentry's PUT takes the whole rule)."""
    _writes(request)
    found, _ = get_project(request, org, project)
    rule = _rule(found, rule_id)
    try:
        fields = clean_issue_rule(_body(request), found)
    except InvalidRule as exc:
        raise BadRequest(str(exc)) from None
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.updated_at = timezone.now()
    rule.save()
    return json_response(serialize_issue_rule(rule))


@router.delete("/projects/{org}/{project}/rules/{rule_id}/", response={202: None})
def delete_project_rule(request: HttpRequest, org: str, project: str, rule_id: str) -> HttpResponse:
    _writes(request)
    found, _ = get_project(request, org, project)
    _rule(found, rule_id).delete()
    return HttpResponse(status=202)


# --- metric alert rules ----------------------------------------------------------------------


def _metric_rule(request: HttpRequest, org: str, rule_id: str) -> MetricRule:
    member = get_membership(request, org)
    rule = (
        MetricRule.objects.select_related("created_by")
        .prefetch_related("projects")
        .filter(organization=member.organization, pk=_id(rule_id))
        .first()
    )
    if rule is None:
        raise Http404("No such rule")
    return rule


@router.get("/organizations/{org}/alert-rules/", response={200: list[dict[str, Any]]})
def alert_rules(request: HttpRequest, org: str) -> HttpResponse:
    """The organization's metric alert rules, newest first."""
    member = get_membership(request, org)
    rules = (
        MetricRule.objects.filter(organization=member.organization)
        .select_related("created_by")
        .prefetch_related("projects")
        .order_by("-created_at", "-id")
    )
    return json_response([serialize_metric_rule(r) for r in rules])


def _save_metric_rule(request: HttpRequest, org: str, rule: MetricRule | None) -> MetricRule:
    member = get_membership(request, org)
    visible = Project.objects.filter(organization=member.organization)
    try:
        fields, projects = clean_metric_rule(_body(request), member.organization, visible)
    except InvalidRule as exc:
        raise BadRequest(str(exc)) from None
    with transaction.atomic():
        if rule is None:
            rule = MetricRule(organization=member.organization, created_by=signed_in_user(request))
        for name, value in fields.items():
            setattr(rule, name, value)
        rule.updated_at = timezone.now()
        rule.save()
        rule.projects.set(projects)
    return rule


@router.post("/organizations/{org}/alert-rules/", response={201: dict[str, Any]})
def create_alert_rule(request: HttpRequest, org: str) -> HttpResponse:
    """Create a metric alert rule from Sentry's JSON."""
    _writes(request)
    rule = _save_metric_rule(request, org, None)
    return json_response(serialize_metric_rule(rule), status=201)


@router.get("/organizations/{org}/alert-rules/{rule_id}/", response={200: dict[str, Any]})
def alert_rule(request: HttpRequest, org: str, rule_id: str) -> HttpResponse:
    return json_response(serialize_metric_rule(_metric_rule(request, org, rule_id)))


@router.put("/organizations/{org}/alert-rules/{rule_id}/", response={200: dict[str, Any]})
def update_alert_rule(request: HttpRequest, org: str, rule_id: str) -> HttpResponse:
    _writes(request)
    rule = _save_metric_rule(request, org, _metric_rule(request, org, rule_id))
    return json_response(serialize_metric_rule(rule))


@router.delete("/organizations/{org}/alert-rules/{rule_id}/", response={204: None})
def delete_alert_rule(request: HttpRequest, org: str, rule_id: str) -> HttpResponse:
    _writes(request)
    _metric_rule(request, org, rule_id).delete()
    return HttpResponse(status=204)
