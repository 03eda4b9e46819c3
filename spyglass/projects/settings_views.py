"""A project's settings pages: general, client keys, inbound filters, data scrubbing, grouping
rules, team access, and deletion.

Every view resolves the project first (404 for anyone outside its organization, also for a
guessed key id), then: a plain member sees the page read-only, and a write is 403.
Saving goes through ``Project.save``, which bumps ``settings_updated_at`` so that digest
workers recompile their cached configuration (``spyglass.digest.config``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from spyglass.attachments.models import root as attachment_root
from spyglass.projects.access import can_write, get_project, require_write
from spyglass.projects.forms import (
    FiltersForm,
    GeneralForm,
    KeyForm,
    RulesForm,
    ScrubbingForm,
    TeamsAccessForm,
)
from spyglass.projects.models import Member, Project, ProjectKey

SECTIONS = [
    ("general", "General", "projects:settings"),
    ("keys", "Client keys (DSN)", "projects:settings_keys"),
    ("filters", "Inbound filters", "projects:settings_filters"),
    ("scrubbing", "Data scrubbing", "projects:settings_scrubbing"),
    ("rules", "Grouping rules", "projects:settings_rules"),
    ("teams", "Teams", "projects:settings_teams"),
    ("performance", "Performance", "performance:settings"),  # spyglass.perfissues.views
]


def settings_nav(project: Project, current: str) -> list[dict[str, Any]]:
    args = (project.organization.slug, project.slug)
    return [
        {"label": label, "url": reverse(name, args=args), "current": key == current}
        for key, label, name in SECTIONS
    ]


def _render(
    request: HttpRequest,
    project: Project,
    member: Member,
    section: str,
    template: str,
    context: dict[str, Any],
) -> HttpResponse:
    return render(
        request,
        template,
        {
            "organization": project.organization,
            "project": project,
            "member": member,
            "can_write": can_write(member),
            "settings_nav": settings_nav(project, section),
            "settings_title": f"{project.name} settings",
            "section": section,
            **context,
        },
    )


def _form_page(
    request: HttpRequest,
    org_slug: str,
    project_slug: str,
    section: str,
    build: Callable[[Project, Any], forms.BaseForm],
    save: Callable[[Project, Any], None],
) -> HttpResponse:
    """The shape of every "one form" settings page: show, or check and save, or 403."""
    project, member = get_project(request, org_slug, project_slug)
    form = build(project, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_write(member)
        if form.is_valid():
            with transaction.atomic():
                save(project, form)
            messages.success(request, "Settings saved.")
            url_name = {key: name for key, _, name in SECTIONS}[section]
            return redirect(url_name, project.organization.slug, project.slug)
    return _render(
        request, project, member, section, f"projects/settings/{section}.html", {"form": form}
    )


@login_required
def general(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    def save(project: Project, form: GeneralForm) -> None:
        form.save()

    return _form_page(
        request,
        org_slug,
        project_slug,
        "general",
        lambda project, data: GeneralForm(data, instance=project),
        save,
    )


@login_required
def filters(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    from spyglass.projects.validators import validate_inbound_filters

    def save(project: Project, form: FiltersForm) -> None:
        project.inbound_filters = form.settings_value()
        project.save(update_fields=["inbound_filters"])

    def build(project: Project, data: Any) -> FiltersForm:
        form = FiltersForm.for_project(project, data)
        _validate(form, validate_inbound_filters, "blacklisted_ips")
        return form

    return _form_page(request, org_slug, project_slug, "filters", build, save)


def _validate(
    form: FiltersForm | ScrubbingForm, validator: Callable[[Any], None], field: str
) -> None:
    """The model's validator on the value to store (IP networks, the advanced rules' shape)."""
    if form.is_bound and form.is_valid():
        try:
            validator(form.settings_value())
        except forms.ValidationError as exc:
            form.add_error(field, exc)


@login_required
def scrubbing(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    from spyglass.projects.validators import validate_data_scrubbing

    def save(project: Project, form: ScrubbingForm) -> None:
        project.data_scrubbing = form.settings_value()
        project.save(update_fields=["data_scrubbing"])

    def build(project: Project, data: Any) -> ScrubbingForm:
        form = ScrubbingForm.for_project(project, data)
        _validate(form, validate_data_scrubbing, "advanced_rules")
        return form

    return _form_page(request, org_slug, project_slug, "scrubbing", build, save)


@login_required
def rules(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    def save(project: Project, form: RulesForm) -> None:
        project.fingerprint_rules = form.cleaned_data["fingerprint_rules"]
        project.stacktrace_rules = form.cleaned_data["stacktrace_rules"]
        project.save(update_fields=["fingerprint_rules", "stacktrace_rules"])

    def build(project: Project, data: Any) -> RulesForm:
        initial = {
            "fingerprint_rules": project.fingerprint_rules,
            "stacktrace_rules": project.stacktrace_rules,
        }
        return RulesForm(data, initial=initial)

    return _form_page(request, org_slug, project_slug, "rules", build, save)


@login_required
def teams(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    def save(project: Project, form: TeamsAccessForm) -> None:
        project.teams.set(form.cleaned_data["teams"])

    def build(project: Project, data: Any) -> TeamsAccessForm:
        initial = {"teams": list(project.teams.all())}
        return TeamsAccessForm(project.organization, data, initial=initial)

    return _form_page(request, org_slug, project_slug, "teams", build, save)


# --- client keys ------------------------------------------------------------------------


def _keys_page(
    request: HttpRequest, project: Project, member: Member, new_form: KeyForm | None = None
) -> HttpResponse:
    rows = [
        {"key": key, "form": KeyForm(instance=key, prefix=f"key-{key.pk}")}
        for key in project.keys.order_by("-is_active", "id")
    ]
    return _render(
        request,
        project,
        member,
        "keys",
        "projects/settings/keys.html",
        {
            "rows": rows,
            "new_form": new_form or KeyForm(prefix="new"),
            "key_cache_ttl": settings.KEY_CACHE_TTL,
        },
    )


@login_required
def keys(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    """The list, and (POST) a new key."""
    project, member = get_project(request, org_slug, project_slug)
    if request.method == "POST":
        require_write(member)
        form = KeyForm(request.POST, prefix="new", instance=ProjectKey(project=project))
        if not form.is_valid():
            return _keys_page(request, project, member, form)
        key = form.save()
        messages.success(request, f"Key “{key.label or key.public_key[:8]}” created.")
        return redirect("projects:settings_keys", project.organization.slug, project.slug)
    return _keys_page(request, project, member)


def _key(project: Project, key_id: int) -> ProjectKey:
    key = ProjectKey.objects.filter(project=project, pk=key_id).first()
    if key is None:
        raise Http404("No such key")
    return key


@login_required
@require_POST
def key_edit(request: HttpRequest, org_slug: str, project_slug: str, key_id: int) -> HttpResponse:
    project, member = get_project(request, org_slug, project_slug)
    key = _key(project, key_id)
    require_write(member)
    form = KeyForm(request.POST, instance=key, prefix=f"key-{key.pk}")
    if not form.is_valid():
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        messages.error(request, f"Key not saved: {problems}")
    else:
        form.save()
        messages.success(request, "Key saved.")
    return redirect("projects:settings_keys", project.organization.slug, project.slug)


@login_required
@require_POST
def key_action(
    request: HttpRequest, org_slug: str, project_slug: str, key_id: int, action: str
) -> HttpResponse:
    """Disable, enable, or rotate (a new key with the same label and limits; the old one is
    disabled). Ingest notices within SPYGLASS_KEY_CACHE_TTL seconds (its key cache)."""
    project, member = get_project(request, org_slug, project_slug)
    key = _key(project, key_id)
    require_write(member)
    if action == "disable":
        ProjectKey.objects.filter(pk=key.pk).update(is_active=False)
        messages.success(request, "Key disabled: events sent with it are refused.")
    elif action == "enable":
        ProjectKey.objects.filter(pk=key.pk).update(is_active=True)
        messages.success(request, "Key enabled.")
    elif action == "rotate":
        with transaction.atomic():
            ProjectKey.objects.filter(pk=key.pk).update(is_active=False)
            ProjectKey.objects.create(
                project=project,
                label=key.label,
                rate_limit_count=key.rate_limit_count,
                rate_limit_window=key.rate_limit_window,
            )
        messages.success(request, "A new key replaces the old one, which is now disabled.")
    else:
        raise Http404("No such action")
    return redirect("projects:settings_keys", project.organization.slug, project.slug)


# --- deletion ---------------------------------------------------------------------------


class DeleteForm(forms.Form):
    confirm = forms.CharField(label="Type the project's slug to confirm")

    def __init__(self, slug: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirm(self) -> str:
        value = str(self.cleaned_data["confirm"]).strip()
        if value != self.slug:
            raise forms.ValidationError(f"Type “{self.slug}” to delete this project.")
        return value


@login_required
def delete(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, member = get_project(request, org_slug, project_slug)
    form = DeleteForm(project.slug, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        require_write(member)
        if form.is_valid():
            name, project_id = project.name, project.pk
            with transaction.atomic():
                project.delete()
                # Attachment files live outside the database, in a directory per project.
                transaction.on_commit(
                    lambda: shutil.rmtree(attachment_root() / str(project_id), ignore_errors=True)
                )
            messages.success(request, f"Project “{name}” and all its data are deleted.")
            return redirect("projects:org_settings_projects", project.organization.slug)
    return _render(
        request, project, member, "general", "projects/settings/delete.html", {"form": form}
    )
