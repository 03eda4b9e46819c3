"""Channel endpoints of /api/0/ (mounted with the ``alerts`` scope):
- ``GET/POST /organizations/{org}/channels/``: list; create with ``kind``, ``name``,
  optional ``slug`` and ``config``.
- ``GET/PUT/DELETE /organizations/{org}/channels/{slug}/``: one channel; ``PUT`` takes any of
  ``name``, ``slug``, ``config``, ``isBroken: false`` (mark fixed).
- ``POST /organizations/{org}/channels/{slug}/test/``: queue a test message (202).
- ``GET /organizations/{org}/channels/{slug}/attempts/``: the delivery log, newest first.
Reads need ``alerts:read``; writes ``alerts:write`` and an owner, manager or admin. Secrets in
``config`` read back as ``"********"`` (sending that back keeps the stored value). Another
organization's channel is a 404.
"""

from __future__ import annotations

from typing import Any

import orjson
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router

from spyglass.accounts.models import ApiToken
from spyglass.lib.restapi import ApiError, BadRequest, json_response
from spyglass.notifications import channels as service
from spyglass.notifications.models import Channel, DeliveryAttempt
from spyglass.projects.access import can_write, get_membership
from spyglass.projects.models import Member

router = Router(tags=["channels"])
NO_PERMISSION = "You do not have permission to perform this action."
ORG = "/organizations/{org_slug}/channels/"


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def serialize(channel: Channel) -> dict[str, Any]:
    return {
        "id": str(channel.pk),
        "slug": channel.slug,
        "name": channel.name,
        "kind": channel.kind,
        "config": service.public_config(channel),
        "isBroken": channel.is_broken,
        "brokenReason": channel.broken_reason or None,
        "brokenAt": iso(channel.broken_at),
        "dateCreated": iso(channel.created_at),
        "dateUpdated": iso(channel.updated_at),
    }


def _member(request: HttpRequest, org_slug: str, *, write: bool = False) -> Member:
    member = get_membership(request, org_slug)
    if write:
        token = getattr(request, "auth", None)
        scopes = set(token.scopes) if isinstance(token, ApiToken) else set()
        if not scopes & {"alerts:write", "alerts:admin"} or not can_write(member):
            raise ApiError(403, NO_PERMISSION)
    return member


def _channel(member: Member, slug: str) -> Channel:
    channel = Channel.objects.filter(organization=member.organization, slug=slug[:50]).first()
    if channel is None:
        raise Http404("No such channel")
    channel.organization = member.organization
    return channel


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        data = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Invalid JSON body") from exc
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object")
    return data


def _invalid(exc: ValidationError) -> BadRequest:
    field, errors = next(iter(exc.message_dict.items()))
    return BadRequest(f"Invalid {field}: {errors[0]}")


def _config(data: dict[str, Any]) -> dict[str, Any]:
    config = data.get("config", {})
    if not isinstance(config, dict):
        raise BadRequest("Invalid config: must be a JSON object")
    return config


@router.get(ORG, url_name="organization_channels")
def channel_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = _member(request, org_slug)
    rows = Channel.objects.filter(organization=member.organization)
    return json_response([serialize(c) for c in rows])


@router.post(ORG)
def channel_create(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = _member(request, org_slug, write=True)
    data = _body(request)
    try:
        channel = service.create(
            member.organization,
            str(data.get("kind", "")),
            str(data.get("name", "")),
            str(data.get("slug") or ""),
            _config(data),
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    return json_response(serialize(channel), status=201)


@router.get(ORG + "{slug}/")
def channel_detail(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    return json_response(serialize(_channel(_member(request, org_slug), slug)))


@router.put(ORG + "{slug}/")
def channel_update(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    channel = _channel(_member(request, org_slug, write=True), slug)
    data = _body(request)
    try:
        service.update(
            channel,
            name=str(data["name"]) if "name" in data else None,
            slug=str(data["slug"]) if "slug" in data else None,
            config=_config(data) if "config" in data else None,
        )
    except ValidationError as exc:
        raise _invalid(exc) from None
    if data.get("isBroken") is False:
        channel.mark_fixed()
    return json_response(serialize(channel))


@router.delete(ORG + "{slug}/")
def channel_delete(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    _channel(_member(request, org_slug, write=True), slug).delete()
    return HttpResponse(status=204)


@router.post(ORG + "{slug}/test/")
def channel_test(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    delivery = service.send_test(_channel(_member(request, org_slug, write=True), slug))
    return json_response({"deliveryId": str(delivery.pk), "status": delivery.status}, status=202)


@router.get(ORG + "{slug}/attempts/")
def channel_attempts(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    channel = _channel(_member(request, org_slug), slug)
    rows = (
        DeliveryAttempt.objects.filter(channel=channel)
        .select_related("delivery")
        .order_by("-started_at", "-id")[:100]
    )
    return json_response(
        [
            {
                "id": str(a.pk),
                "deliveryId": str(a.delivery_id),
                "title": a.delivery.title,
                "isTest": a.delivery.is_test,
                "number": a.number,
                "dateStarted": iso(a.started_at),
                "ok": a.ok,
                "permanent": a.permanent,
                "statusCode": a.status_code,
                "latencyMs": a.latency_ms,
                "error": a.error or None,
            }
            for a in rows
        ]
    )
