"""What the base template's header needs on every page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The user's organizations for the switcher, queried only if a page shows them."""

    def organizations() -> list[Any]:
        from spyglass.projects.models import Organization

        if not request.user.is_authenticated:
            return []
        return list(Organization.objects.filter(members__user=request.user).order_by("name", "id"))

    return {"nav_organizations": SimpleLazyObject(organizations)}
