"""URL converters for the pages' paths."""

from __future__ import annotations

from spyglass.projects.models import RESERVED_ORGANIZATION_SLUGS

# Never an organization (they aren't allowed as slugs), so unknown paths below them stay 404s.
RESERVED = RESERVED_ORGANIZATION_SLUGS


class OrganizationSlug:
    regex = r"(?!(?:" + "|".join(RESERVED) + r")/)[-a-zA-Z0-9_]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
