"""Organizations, teams, members, projects and their DSN keys."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from spyglass.projects.validators import (
    validate_data_scrubbing,
    validate_fingerprint_rules,
    validate_grouping_config,
    validate_inbound_filters,
    validate_stacktrace_rules,
)

# Top-level paths that belong to something else (the admin, sign-in, static files, the API
# and ingest, health checks): an organization's pages live at /<slug>/, so never these.
RESERVED_ORGANIZATION_SLUGS = (
    "admin",
    "accounts",
    "static",
    "api",
    "_health",
    "_ready",
    "manage",
)
# A project's pages live at /<org>/<slug>/, beside the organization's /<org>/settings/.
RESERVED_PROJECT_SLUGS = ("settings",)


def _not_reserved(slug: str) -> None:
    if slug.lower() in RESERVED_ORGANIZATION_SLUGS:
        raise ValidationError(f"“{slug}” is a path Spyglass uses itself; choose another slug.")


def _unique_slug(
    model: type[models.Model], base: str, reserved: tuple[str, ...] = (), **scope: object
) -> str:
    root = slugify(base)[:45] or "item"
    slug, n = root, 1
    while slug in reserved or model._default_manager.filter(slug=slug, **scope).exists():
        n += 1
        slug = f"{root}-{n}"
    return slug


class Organization(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[_not_reserved])
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug

    @classmethod
    def get_or_create_named(cls, name: str) -> Organization:
        """Find an organization by slug or name, or create it."""
        found = cls.objects.filter(models.Q(slug=slugify(name)) | models.Q(name=name)).first()
        if found is not None:
            return found
        slug = _unique_slug(cls, name, RESERVED_ORGANIZATION_SLUGS)
        return cls.objects.create(name=name, slug=slug)


class Team(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="team_slug_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/#{self.slug}"


class Role(models.TextChoices):
    # Sentry's organization roles, from most to least powerful.
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Member(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    teams = models.ManyToManyField(Team, blank=True, related_name="members")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Project(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50)
    platform = models.CharField(max_length=64, blank=True)
    teams = models.ManyToManyField(Team, blank=True, related_name="projects")
    created_at = models.DateTimeField(default=timezone.now)
    # -- how the digest treats this project's events (Sentry's project settings) ----------
    # Validated on every clean (full_clean, model forms, the admin): see validators.py.
    grouping_config = models.CharField(
        max_length=64, default="newstyle:2023-01-11", validators=[validate_grouping_config]
    )
    # Server-side fingerprint rules, in Sentry's syntax.
    fingerprint_rules = models.TextField(blank=True, validators=[validate_fingerprint_rules])
    # Stack trace rules (grouping enhancements), in Sentry's syntax.
    stacktrace_rules = models.TextField(blank=True, validators=[validate_stacktrace_rules])
    # ScrubbingConfig fields (spyglass.digest.scrubbing); empty = Sentry's defaults (on).
    data_scrubbing = models.JSONField(
        default=dict, blank=True, validators=[validate_data_scrubbing]
    )
    # FilterSettings fields (spyglass.digest.filters); empty = Sentry's defaults.
    inbound_filters = models.JSONField(
        default=dict, blank=True, validators=[validate_inbound_filters]
    )
    # Resolve issues not seen for this many hours; 0 = never (Sentry's resolve_age).
    resolve_age_hours = models.PositiveIntegerField(default=0)
    # Bumped on every settings change, so workers recompile their cached configuration.
    settings_updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="project_slug_unique")
        ]

    def __str__(self) -> str:
        return f"{self.organization.slug}/{self.slug}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Workers cache each project's compiled digest settings until this changes, so every
        # save (the only way settings change) invalidates them.
        self.settings_updated_at = timezone.now()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "settings_updated_at"}
        super().save(*args, **kwargs)

    @classmethod
    def create(cls, organization: Organization, name: str, platform: str = "") -> Project:
        """A project with its first DSN key, as Sentry creates one."""
        project = cls.objects.create(
            organization=organization,
            name=name,
            slug=_unique_slug(cls, name, RESERVED_PROJECT_SLUGS, organization=organization),
            platform=platform,
        )
        ProjectKey.objects.create(project=project, label="Default")
        return project

    def default_key(self) -> ProjectKey | None:
        return self.keys.filter(is_active=True).order_by("id").first()


def _hex32() -> str:
    return secrets.token_hex(16)


class ProjectKey(models.Model):
    """A DSN key. The public key authenticates ingest; the secret is legacy and unused."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="keys")
    label = models.CharField(max_length=64, blank=True)
    public_key = models.CharField(max_length=32, unique=True, default=_hex32)
    secret_key = models.CharField(max_length=32, default=_hex32)
    is_active = models.BooleanField(default=True)
    # Optional per-key rate limit: at most `rate_limit_count` events per `rate_limit_window`
    # seconds (Sentry's "rate limits" on a client key).
    rate_limit_count = models.PositiveIntegerField(null=True, blank=True)
    rate_limit_window = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.public_key} ({self.project})"

    @property
    def dsn(self) -> str:
        return build_dsn(settings.BASE_URL, self.public_key, self.project_id)


def build_dsn(base_url: str, public_key: str, project_id: int) -> str:
    """``scheme://PUBLIC_KEY@host[:port][/prefix]/PROJECT_ID``, as Sentry builds it."""
    parts = urlsplit(base_url)
    prefix = parts.path.rstrip("/")
    return f"{parts.scheme}://{public_key}@{parts.netloc}{prefix}/{project_id}"
