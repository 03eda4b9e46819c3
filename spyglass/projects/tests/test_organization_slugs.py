"""Organization slugs never take a path Spyglass serves itself (the pages live at /<slug>/)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from spyglass.projects.models import RESERVED_ORGANIZATION_SLUGS, Organization

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["admin", "API", "static", "accounts"])
def test_an_organization_named_like_a_reserved_path_gets_another_slug(name: str) -> None:
    organization = Organization.get_or_create_named(name)
    assert organization.slug == f"{name.lower()}-2"
    assert organization.slug not in RESERVED_ORGANIZATION_SLUGS


@pytest.mark.parametrize("slug", ["admin", "Admin", "_health", "api"])
def test_a_reserved_slug_is_refused_when_validated(slug: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Organization(name="Acme", slug=slug).full_clean()
    assert "slug" in raised.value.message_dict


def test_an_ordinary_slug_is_accepted() -> None:
    Organization(name="Acme", slug="acme").full_clean()
