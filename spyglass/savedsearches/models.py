"""Saved searches (a user's own, or shared with the organization) with a pinned default, and
each user's recent searches (the last ten per organization)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from spyglass.projects.models import Organization

MAX_QUERY = 2000  # as the stream's search box
RECENT_KEPT = 10


class SavedSearch(models.Model):
    """A named search of the issue stream. ``owner`` null: shared with the organization.
    ``is_default``: pinned, the search the stream opens with (a user's own pin first, then
    the organization's)."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="saved_searches"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="saved_searches",
    )
    name = models.CharField(max_length=128)
    query = models.TextField(max_length=MAX_QUERY, blank=True)
    sort = models.CharField(max_length=16, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "owner"],
                condition=models.Q(is_default=True, owner__isnull=False),
                name="saved_search_one_default_per_user",
            ),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True, owner__isnull=True),
                name="saved_search_one_shared_default",
            ),
        ]
        indexes = [models.Index(fields=["organization", "owner"], name="saved_search_owner")]

    def __str__(self) -> str:
        return f"{self.name}: {self.query}"

    @property
    def shared(self) -> bool:
        return self.owner_id is None


class RecentSearch(models.Model):
    """A search a user ran in an organization's streams, most recent first."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="recent_searches"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recent_searches"
    )
    query = models.TextField(max_length=MAX_QUERY)
    query_hash = models.CharField(max_length=64)  # sha256 of the query: unique per user
    last_used = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user", "query_hash"], name="recent_search_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["organization", "user", "-last_used"], name="recent_search_user_time"
            )
        ]

    def __str__(self) -> str:
        return self.query
