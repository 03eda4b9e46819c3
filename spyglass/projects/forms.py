"""Forms of the project and organization settings pages.

The JSON settings (inbound filters, data scrubbing) are edited as plain fields and stored as
only the values that differ from the digest's defaults, so a project that never changed a
setting follows future defaults. The defaults below are the digest's (``FilterSettings`` and
``ScrubbingConfig``); a test keeps them equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from spyglass.accounts.models import User
from spyglass.projects.models import (
    RESERVED_PROJECT_SLUGS,
    Member,
    Organization,
    Project,
    ProjectKey,
    Role,
    Team,
)

FILTER_DEFAULTS: dict[str, Any] = {
    "error_messages": [],
    "releases": [],
    "health_check": True,
    "localhost": False,
    "browser_extensions": False,
    "web_crawlers": False,
    "legacy_browsers": False,
    "legacy_browser_options": [],
    "blacklisted_ips": [],
    "csp_ignored_sources": [],
    "csp_ignored_sources_defaults": True,
    "react_hydration_errors": False,
    "chunk_load_errors": False,
}
SCRUBBING_DEFAULTS: dict[str, Any] = {
    "scrub_data": True,
    "scrub_defaults": True,
    "scrub_ip_addresses": False,
    "sensitive_fields": [],
    "safe_fields": [],
    "advanced_rules": None,
}

PLATFORMS = [
    ("", "Other / not set"),
    ("python", "Python"),
    ("python-django", "Django"),
    ("python-fastapi", "FastAPI"),
    ("python-celery", "Celery"),
    ("javascript-browser", "JavaScript (browser)"),
    ("javascript-nextjs", "Next.js"),
    ("javascript-react", "React"),
    ("node", "Node.js"),
    ("node-nestjs", "NestJS"),
    ("go", "Go"),
    ("ruby", "Ruby"),
    ("php", "PHP"),
    ("java", "Java"),
    ("dotnet", ".NET"),
]


class LinesField(forms.CharField):
    """A list of strings, one a line in a textarea; blank lines are dropped."""

    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(strip=False, **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


def _non_default(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if defaults.get(key) != value}


class GeneralForm(forms.ModelForm[Project]):
    platform = forms.ChoiceField(choices=PLATFORMS, required=False)
    grouping_config = forms.ChoiceField(
        choices=(), help_text="The grouping strategy for new events; existing issues keep theirs."
    )

    class Meta:
        model = Project
        fields = ("name", "slug", "platform", "resolve_age_hours", "grouping_config")
        labels = {"resolve_age_hours": "Auto-resolve after (hours)"}
        help_texts = {
            "slug": "Part of every page's address. Changing it breaks links to the old one.",
            "resolve_age_hours": "Resolve issues not seen for this many hours; 0 never does.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from spyglass.grouping.config import CONFIGS

        super().__init__(*args, **kwargs)
        field = self.fields["grouping_config"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(key, key) for key in sorted(CONFIGS)]
        platforms = dict(PLATFORMS)
        if self.instance.platform and self.instance.platform not in platforms:
            platform = self.fields["platform"]
            assert isinstance(platform, forms.ChoiceField)
            platform.choices = [*PLATFORMS, (self.instance.platform, self.instance.platform)]

    def clean_slug(self) -> str:
        slug = str(self.cleaned_data["slug"]).lower()
        if slug in RESERVED_PROJECT_SLUGS:
            raise ValidationError(f"“{slug}” is a path Spyglass uses itself; choose another.")
        taken = Project.objects.filter(organization=self.instance.organization_id, slug=slug)
        if taken.exclude(pk=self.instance.pk).exists():
            raise ValidationError("Another project of this organization has this slug.")
        return slug


class FiltersForm(forms.Form):
    health_check = forms.BooleanField(
        required=False, label="Filter health-check transactions (/health, /ping, …)"
    )
    localhost = forms.BooleanField(
        required=False, label="Filter events from localhost (127.0.0.1, ::1)"
    )
    browser_extensions = forms.BooleanField(
        required=False, label="Filter errors caused by browser extensions"
    )
    web_crawlers = forms.BooleanField(required=False, label="Filter events from web crawlers")
    legacy_browsers = forms.BooleanField(required=False, label="Filter errors from legacy browsers")
    react_hydration_errors = forms.BooleanField(
        required=False, label="Filter React hydration errors"
    )
    chunk_load_errors = forms.BooleanField(
        required=False, label="Filter chunk load errors (ChunkLoadError)"
    )
    csp_ignored_sources_defaults = forms.BooleanField(
        required=False, label="Ignore CSP reports from Sentry's known noisy sources"
    )
    error_messages = LinesField(
        label="Error messages", help_text="Glob patterns, one a line: *ConnectionResetError*"
    )
    releases = LinesField(label="Releases", help_text="Glob patterns, one a line: 1.0.*")
    blacklisted_ips = LinesField(
        label="IP addresses", help_text="Addresses or networks, one a line: 10.0.0.0/8"
    )
    csp_ignored_sources = LinesField(
        label="Ignored CSP sources", help_text="One a line: https://ads.example.com"
    )
    legacy_browser_options = LinesField(
        label="Legacy browsers to filter",
        help_text="Empty: Sentry's default set. Or one a line: ie11, safari_pre_6, …",
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> FiltersForm:
        return cls(data, initial={**FILTER_DEFAULTS, **(project.inbound_filters or {})})

    def settings_value(self) -> dict[str, Any]:
        return _non_default(dict(self.cleaned_data), FILTER_DEFAULTS)


class ScrubbingForm(forms.Form):
    scrub_data = forms.BooleanField(required=False, label="Scrub data (the data scrubber)")
    scrub_defaults = forms.BooleanField(
        required=False,
        label="Use the default scrubbers (passwords, secrets, tokens, credit cards, …)",
    )
    scrub_ip_addresses = forms.BooleanField(required=False, label="Prevent storing IP addresses")
    sensitive_fields = LinesField(
        label="Additional sensitive fields",
        help_text="Field names whose values are removed, one a line: ssn",
    )
    safe_fields = LinesField(
        label="Safe fields", help_text="Field names never scrubbed, one a line: order_id"
    )
    advanced_rules = forms.CharField(
        required=False,
        strip=True,
        label="Advanced rules",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "mono"}),
        help_text="Sentry's relayPiiConfig: a JSON object with “rules” and “applications”.",
    )

    @classmethod
    def for_project(cls, project: Project, data: Any = None) -> ScrubbingForm:
        return cls(data, initial={**SCRUBBING_DEFAULTS, **(project.data_scrubbing or {})})

    def clean_advanced_rules(self) -> str | None:
        return str(self.cleaned_data.get("advanced_rules") or "") or None

    def settings_value(self) -> dict[str, Any]:
        return _non_default(dict(self.cleaned_data), SCRUBBING_DEFAULTS)


@dataclass(frozen=True)
class RuleError:
    """Where a rules text fails to parse, for the page to point at."""

    line: int
    column: int
    message: str
    text: str  # the line as written

    @property
    def before(self) -> str:
        return self.text[: self.column - 1]

    @property
    def at(self) -> str:
        """The part of the line from the column on, marked on the page."""
        return self.text[self.column - 1 :]

    @property
    def caret(self) -> str:
        return " " * (self.column - 1) + "^"


class RulesForm(forms.Form):
    fingerprint_rules = forms.CharField(
        required=False,
        strip=False,
        label="Fingerprint rules",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text=(
            "One rule a line: matchers -> fingerprint, e.g. "
            "<code>error.type:DatabaseUnavailable -&gt; system-down</code>. # starts a comment."
        ),
    )
    stacktrace_rules = forms.CharField(
        required=False,
        strip=False,
        label="Stack trace rules",
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false", "class": "mono"}),
        help_text=(
            "One rule a line: matchers then actions, e.g. "
            "<code>stack.module:vendor.* -app</code>. # starts a comment."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule_errors: dict[str, RuleError] = {}

    def _check(self, name: str) -> str:
        from spyglass.grouping import parse_enhancements, parse_fingerprint_rules
        from spyglass.grouping.rules_syntax import RuleSyntaxError
        from spyglass.projects.validators import rules_error_message

        text = str(self.cleaned_data.get(name) or "").replace("\r\n", "\n")
        parse = parse_fingerprint_rules if name == "fingerprint_rules" else parse_enhancements
        try:
            parse(text)
        except RuleSyntaxError as exc:
            lines = text.splitlines()
            quoted = lines[exc.line - 1] if 0 < exc.line <= len(lines) else ""
            self.rule_errors[name] = RuleError(exc.line, exc.column, exc.message, quoted)
            raise ValidationError(rules_error_message(text, exc), code="invalid_rules") from None
        return text

    def clean_fingerprint_rules(self) -> str:
        return self._check("fingerprint_rules")

    def clean_stacktrace_rules(self) -> str:
        return self._check("stacktrace_rules")


class KeyForm(forms.ModelForm[ProjectKey]):
    class Meta:
        model = ProjectKey
        fields = ("label", "rate_limit_count", "rate_limit_window")
        labels = {
            "rate_limit_count": "Rate limit: events",
            "rate_limit_window": "per seconds",
        }
        help_texts = {"rate_limit_count": "Empty: no limit for this key."}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        count, window = cleaned.get("rate_limit_count"), cleaned.get("rate_limit_window")
        if (count is None) != (window is None):
            raise ValidationError("Give both the number of events and the window, or neither.")
        if window == 0:
            self.add_error("rate_limit_window", "The window is at least one second.")
        return cleaned


class TeamsAccessForm(forms.Form):
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, organization: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["teams"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = Team.objects.filter(organization=organization).order_by("name")


# --- organization settings ----------------------------------------------------------------


class NewProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    platform = forms.ChoiceField(choices=PLATFORMS, required=False)
    team = forms.ModelChoiceField(
        queryset=Team.objects.none(), required=False, empty_label="No team"
    )

    def __init__(self, organization: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["team"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Team.objects.filter(organization=organization).order_by("name")

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        if not slugify(name):
            raise ValidationError("The name needs at least one letter or digit.")
        return name


class AddMemberForm(forms.Form):
    email = forms.EmailField(
        help_text="An existing user joins at once; a new address gets an account without a "
        "password (they set one with “Forgot your password?”)."
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)

    def __init__(self, organization: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if Member.objects.filter(organization=self.organization, user__email=email).exists():
            raise ValidationError("This person is already a member.")
        return email

    def user(self) -> User:
        email = self.cleaned_data["email"]
        existing = User.objects.filter(email=email).first()
        return existing or User.objects.create_user(email)


class TeamForm(forms.Form):
    name = forms.CharField(max_length=200)

    def __init__(self, organization: Organization, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_name(self) -> str:
        name = str(self.cleaned_data["name"]).strip()
        slug = slugify(name)
        if not slug:
            raise ValidationError("The name needs at least one letter or digit.")
        if Team.objects.filter(organization=self.organization, slug=slug[:50]).exists():
            raise ValidationError("A team with this name exists.")
        return name
