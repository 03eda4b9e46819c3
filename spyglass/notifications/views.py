"""Pages: an organization's channels (list, create, edit, delete, send test, mark fixed, the
delivery log) and a user's notification settings.

Every view resolves the membership first (another organization's channel is a 404, by slug
or guessed id alike); members read, owners, managers and admins write.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from spyglass.notifications import channels as service
from spyglass.notifications import registry
from spyglass.notifications.forms import PreferencesForm, channel_form, config_from
from spyglass.notifications.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    NotificationPreference,
    ProjectAlertEmail,
)
from spyglass.projects.access import (
    can_write,
    get_membership,
    organizations_of,
    require_write,
    signed_in_user,
)
from spyglass.projects.models import Member, Project
from spyglass.projects.org_settings_views import SECTIONS

LOG_ATTEMPTS = 50


def _nav(member: Member) -> list[dict[str, Any]]:
    slug = member.organization.slug
    return [
        {"label": label, "url": reverse(name, args=(slug,)), "current": key == "channels"}
        for key, label, name in SECTIONS
    ]


def _render(
    request: HttpRequest, member: Member, template: str, context: dict[str, Any]
) -> HttpResponse:
    org = member.organization
    return render(
        request,
        template,
        {
            "organization": org,
            "member": member,
            "can_write": can_write(member),
            "settings_nav": _nav(member),
            "settings_title": f"{org.name} settings",
            **context,
        },
    )


def _channel(member: Member, slug: str) -> Channel:
    channel = Channel.objects.filter(organization=member.organization, slug=slug).first()
    if channel is None:
        raise Http404("No such channel")
    channel.organization = member.organization
    return channel


@login_required
def channel_list(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    latest = Delivery.objects.filter(channel=OuterRef("pk"), attempts__gt=0).order_by(
        "-created_at", "-id"
    )
    rows = list(
        Channel.objects.filter(organization=member.organization).annotate(
            last_status=Subquery(latest.values("status")[:1]),
            last_at=Subquery(latest.values("created_at")[:1]),
        )
    )
    labels = dict(registry.choices())
    return _render(
        request,
        member,
        "notifications/channels.html",
        {
            "rows": [
                {
                    "channel": c,
                    "label": labels.get(c.kind, c.kind),
                    "last_status": Delivery.Status(c.last_status).label if c.last_status else "",
                    "last_at": c.last_at,
                }
                for c in rows
            ],
            "kinds": list(registry.kinds().values()),
        },
    )


@login_required
def channel_new(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    require_write(member)
    kind_name = request.GET.get("kind", "")
    if kind_name not in registry.kinds():
        return _render(
            request,
            member,
            "notifications/channel_kinds.html",
            {"kinds": list(registry.kinds().values())},
        )
    kind = registry.get(kind_name)
    form = channel_form(kind, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            channel = service.create(
                member.organization,
                kind.name,
                form.cleaned_data["name"],
                form.cleaned_data["slug"],
                config_from(form, kind),
            )
        except ValidationError as exc:
            _errors_to_form(form, exc)
        else:
            messages.success(request, f"Channel “{channel.name}” created.")
            return redirect("notifications:channel", member.organization.slug, channel.slug)
    return _render(request, member, "notifications/channel_form.html", {"form": form, "kind": kind})


def _errors_to_form(form: Any, exc: ValidationError) -> None:
    for field, errors in exc.message_dict.items():
        name = field if field in ("name", "slug") else f"config_{field}"
        for error in errors:
            form.add_error(name if name in form.fields else None, error)


@login_required
def channel_detail(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    channel = _channel(member, slug)
    kind = registry.get(channel.kind)
    form = channel_form(kind, request.POST if request.method == "POST" else None, channel)
    if request.method == "POST":
        require_write(member)
        if form.is_valid():
            try:
                service.update(
                    channel,
                    name=form.cleaned_data["name"],
                    slug=form.cleaned_data["slug"] or channel.slug,
                    config=config_from(form, kind),
                )
            except ValidationError as exc:
                _errors_to_form(form, exc)
            else:
                messages.success(request, "Channel saved.")
                return redirect("notifications:channel", member.organization.slug, channel.slug)
        channel.refresh_from_db()
    attempts = list(
        DeliveryAttempt.objects.filter(channel=channel)
        .select_related("delivery")
        .order_by("-started_at", "-id")[:LOG_ATTEMPTS]
    )
    waiting = list(
        Delivery.objects.filter(
            channel=channel,
            status__in=[Delivery.Status.PENDING, Delivery.Status.SENDING],
        ).order_by("next_attempt_at")[:20]
    )
    skipped = Delivery.objects.filter(channel=channel, status=Delivery.Status.SKIPPED).count()
    return _render(
        request,
        member,
        "notifications/channel.html",
        {
            "channel": channel,
            "kind": kind,
            "form": form,
            "config_rows": _config_rows(channel),
            "attempts": attempts,
            "waiting": waiting,
            "skipped": skipped,
        },
    )


def _config_rows(channel: Channel) -> list[tuple[str, str]]:
    shown = service.public_config(channel)
    rows = []
    for spec in registry.get(channel.kind).fields:
        value = shown.get(spec.name, "")
        rows.append((spec.label, ", ".join(value) if isinstance(value, list) else str(value)))
    return rows


@login_required
@require_POST
def channel_test(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    require_write(member)
    channel = _channel(member, slug)
    service.send_test(channel)
    messages.success(request, "Test message queued: its attempt shows in the delivery log.")
    return redirect("notifications:channel", member.organization.slug, channel.slug)


@login_required
@require_POST
def channel_fixed(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    require_write(member)
    channel = _channel(member, slug)
    channel.mark_fixed()
    messages.success(request, "Channel marked as fixed: notifications go to it again.")
    return redirect("notifications:channel", member.organization.slug, channel.slug)


@login_required
def channel_delete(request: HttpRequest, org_slug: str, slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    require_write(member)
    channel = _channel(member, slug)
    if request.method == "POST":
        name = channel.name
        channel.delete()
        messages.success(request, f"Channel “{name}” deleted.")
        return redirect("notifications:channels", member.organization.slug)
    return _render(request, member, "notifications/channel_delete.html", {"channel": channel})


# --- the user's own settings ----------------------------------------------------------------


@login_required
def user_settings(request: HttpRequest) -> HttpResponse:
    from spyglass.accounts.nav import user_settings_nav

    user = signed_in_user(request)
    preference, _ = NotificationPreference.objects.get_or_create(user=user)
    projects = list(
        Project.objects.filter(organization__in=organizations_of(user))
        .select_related("organization")
        .order_by("organization__name", "name")
    )
    off = set(
        ProjectAlertEmail.objects.filter(user=user, enabled=False).values_list(
            "project_id", flat=True
        )
    )
    form = PreferencesForm(request.POST if request.method == "POST" else None, instance=preference)
    if request.method == "POST" and form.is_valid():
        form.save()
        chosen = {int(v) for v in request.POST.getlist("alert_projects") if v.isdigit()}
        for project in projects:
            ProjectAlertEmail.objects.update_or_create(
                user=user, project=project, defaults={"enabled": project.pk in chosen}
            )
        messages.success(request, "Notification settings saved.")
        return redirect("notifications:user_settings")
    return render(
        request,
        "notifications/user_settings.html",
        {
            "form": form,
            "projects": [{"project": p, "on": p.pk not in off} for p in projects],
            "settings_nav": user_settings_nav("notifications"),
        },
    )
