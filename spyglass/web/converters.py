"""URL converters for the pages' paths."""

from __future__ import annotations

# Top-level paths that belong to something else (the admin, sign-in, static files, the API
# and ingest, health checks): never an organization, so unknown paths below them stay 404s.
RESERVED = ("admin", "accounts", "static", "api", "_health", "_ready")


class OrganizationSlug:
    regex = r"(?!(?:" + "|".join(RESERVED) + r")/)[-a-zA-Z0-9_]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
