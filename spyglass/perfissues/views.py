"""The project's performance-issue detector settings: each detector on or off, and its
thresholds (Sentry's defaults until changed). Owners, managers and admins change them;
members see them."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from spyglass.perfissues.detectors import DETECTORS
from spyglass.perfissues.models import DetectorSettings
from spyglass.projects.access import can_write, get_project, require_write
from spyglass.projects.models import Project


class DetectorForm(forms.Form):
    """One checkbox per detector and one number per threshold, named ``<detector>__<name>``."""

    def __init__(self, current: DetectorSettings, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
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
    if request.method == "POST":
        require_write(member)
        form = DetectorForm(current, request.POST)
        if form.is_valid():
            form.save(current)
            messages.success(request, "Detector settings saved.")
            return redirect("performance:settings", project.organization.slug, project.slug)
    else:
        form = DetectorForm(current)
    return render(
        request,
        "perfissues/settings.html",
        {
            "organization": project.organization,
            "project": project,
            "form": form,
            "can_write": can_write(member),
            "tab": "settings",
        },
    )
