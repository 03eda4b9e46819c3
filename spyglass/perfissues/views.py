"""The project's performance settings (the "Performance" section of the project settings):
the Apdex threshold, and each performance-issue detector on or off with its thresholds
(Sentry's defaults until changed). Owners, managers and admins change them; members see
them; anyone outside the organization gets a 404."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from spyglass.perfissues.detectors import DETECTORS
from spyglass.perfissues.models import DetectorSettings
from spyglass.performance import clustering
from spyglass.performance.models import ProjectPerformanceSettings, apdex_thresholds
from spyglass.projects.access import can_write, get_project, require_write
from spyglass.projects.models import Project
from spyglass.projects.settings_views import settings_nav


class DetectorForm(forms.Form):
    """One checkbox per detector and one number per threshold, named ``<detector>__<name>``."""

    apdex_threshold_ms = forms.IntegerField(
        min_value=1,
        max_value=600_000,
        label="Apdex threshold (ms)",
        help_text="Satisfied up to T, tolerable up to 4T, frustrated above; applies to "
        "transactions received from then on.",
    )

    def __init__(self, current: DetectorSettings, apdex_ms: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["apdex_threshold_ms"].initial = apdex_ms
        effective = current.effective()
        for key, detector in DETECTORS.items():
            values = effective[key]
            self.fields[f"{key}__enabled"] = forms.BooleanField(
                required=False, initial=values is not None, label=f"{detector.title} on"
            )
            shown = values if values is not None else detector.defaults()
            for threshold in detector.thresholds:
                self.fields[f"{key}__{threshold.name}"] = forms.FloatField(
                    min_value=0,
                    max_value=10**9,
                    initial=_plain(shown[threshold.name]),
                    label=threshold.label,
                )

    def detectors(self) -> list[dict[str, Any]]:
        """The form's fields grouped per detector, for the template."""
        return [
            {
                "detector": detector,
                "enabled": self[f"{key}__enabled"],
                "thresholds": [
                    (self[f"{key}__{t.name}"], t, _plain(t.default)) for t in detector.thresholds
                ],
            }
            for key, detector in DETECTORS.items()
        ]

    def save(self, current: DetectorSettings) -> None:
        ProjectPerformanceSettings.objects.update_or_create(
            project=current.project,
            defaults={"apdex_threshold_ms": self.cleaned_data["apdex_threshold_ms"]},
        )
        disabled, thresholds = [], {}
        for key, detector in DETECTORS.items():
            if not self.cleaned_data[f"{key}__enabled"]:
                disabled.append(key)
            changed = {
                t.name: self.cleaned_data[f"{key}__{t.name}"]
                for t in detector.thresholds
                if self.cleaned_data[f"{key}__{t.name}"] != t.default
            }
            if changed:
                thresholds[key] = changed
        current.disabled, current.thresholds = disabled, thresholds
        current.updated_at = timezone.now()
        current.save()


def _plain(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _settings_of(project: Project) -> DetectorSettings:
    found = DetectorSettings.objects.filter(project=project).first()
    return found if found is not None else DetectorSettings(project=project)


@login_required
def detector_settings(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, member = get_project(request, org_slug, project_slug)
    current = _settings_of(project)
    apdex = apdex_thresholds([project.id])[project.id]
    if request.method == "POST" and "delete_name_rule" in request.POST:
        require_write(member)  # a discovered transaction name rule, rediscovered if still true
        rule_id = request.POST["delete_name_rule"]
        if rule_id.isdigit() and clustering.delete_rule(project.id, int(rule_id)):
            messages.success(request, "Transaction name rule deleted.")
        return redirect("performance:settings", project.organization.slug, project.slug)
    if request.method == "POST":
        require_write(member)
        form = DetectorForm(current, int(apdex), request.POST)
        if form.is_valid():
            with transaction.atomic():
                form.save(current)
            messages.success(request, "Performance settings saved.")
            return redirect("performance:settings", project.organization.slug, project.slug)
    else:
        form = DetectorForm(current, int(apdex))
    return render(
        request,
        "perfissues/settings.html",
        {
            "organization": project.organization,
            "project": project,
            "member": member,
            "form": form,
            "can_write": can_write(member),
            "settings_nav": settings_nav(project, "performance"),
            "settings_title": f"{project.name} settings",
            "section": "performance",
            "name_rules": clustering.rules_of(project.id),
        },
    )
