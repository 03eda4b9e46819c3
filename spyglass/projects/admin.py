from __future__ import annotations

from django import forms
from django.contrib import admin

from spyglass.projects.models import Organization, Project, ProjectKey


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("slug", "name", "created_at")


DIGEST_SETTINGS = (
    "grouping_config",
    "fingerprint_rules",
    "stacktrace_rules",
    "data_scrubbing",
    "inbound_filters",
    "resolve_age_hours",
)


def _rules_area() -> forms.Textarea:
    return forms.Textarea(attrs={"rows": 8, "cols": 100, "spellcheck": "false"})


class ProjectForm(forms.ModelForm[Project]):
    """The model's validators check every setting; an error names the line and column."""

    class Meta:
        model = Project
        fields = (
            "organization",
            "name",
            "slug",
            "platform",
            "teams",
            *DIGEST_SETTINGS,
        )
        widgets = {"fingerprint_rules": _rules_area(), "stacktrace_rules": _rules_area()}
        help_texts = {
            "fingerprint_rules": (
                "One rule per line, as in Sentry: matchers -> fingerprint, e.g."
                " error.type:DatabaseUnavailable -> system-down. # starts a comment."
            ),
            "stacktrace_rules": (
                "One rule per line, as in Sentry: matchers then actions, e.g."
                " stack.module:vendor.* -app. # starts a comment."
            ),
            "data_scrubbing": (
                "A JSON object: scrub_data, scrub_defaults, scrub_ip_addresses (true/false),"
                " sensitive_fields, safe_fields (lists of strings), advanced_rules (JSON text)."
                " Empty: Sentry's defaults."
            ),
            "inbound_filters": (
                "A JSON object: error_messages, releases, blacklisted_ips (lists), health_check,"
                " localhost, browser_extensions, web_crawlers, legacy_browsers (true/false), …"
                " Empty: Sentry's defaults."
            ),
        }


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    form = ProjectForm
    list_display = ("slug", "organization", "platform", "created_at")
    readonly_fields = ("created_at", "settings_updated_at")
    fieldsets = [
        (None, {"fields": ("organization", "name", "slug", "platform", "teams", "created_at")}),
        ("Digest settings", {"fields": (*DIGEST_SETTINGS, "settings_updated_at")}),
    ]


@admin.register(ProjectKey)
class ProjectKeyAdmin(admin.ModelAdmin[ProjectKey]):
    list_display = ("public_key", "project", "is_active", "rate_limit_count", "rate_limit_window")
