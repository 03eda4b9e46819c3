"""Releases: the versions events report, ordered as Sentry orders them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from spyglass.projects.models import Organization, Project


class Release(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="releases"
    )
    version = models.CharField(max_length=250)
    projects = models.ManyToManyField(Project, blank=True, related_name="releases")
    created_at = models.DateTimeField(default=timezone.now)
    # Set by `sentry-cli releases finalize`; Sentry orders releases by this, else creation.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "version"], name="release_version_unique"
            )
        ]

    def __str__(self) -> str:
        return self.version

    @property
    def effective_date(self) -> object:
        return self.released_at or self.created_at
