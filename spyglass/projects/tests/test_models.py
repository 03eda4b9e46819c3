"""Organizations, projects, slugs and DSN keys."""

from __future__ import annotations

import pytest
from django.test import override_settings

from spyglass.projects.models import Organization, Project, ProjectKey, build_dsn
from spyglass.protocol.dsn import parse_dsn
from spyglass.test import World

pytestmark = pytest.mark.django_db

KEY = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("base_url", "dsn"),
    [
        ("https://errors.example.com", f"https://{KEY}@errors.example.com/42"),
        ("http://127.0.0.1:8000", f"http://{KEY}@127.0.0.1:8000/42"),
        ("https://example.com/spyglass", f"https://{KEY}@example.com/spyglass/42"),
        ("https://example.com/spyglass/", f"https://{KEY}@example.com/spyglass/42"),
        ("http://[::1]:9000/a/b", f"http://{KEY}@[::1]:9000/a/b/42"),
    ],
)
def test_build_dsn_puts_the_public_key_before_the_host_and_the_project_id_last(
    base_url: str, dsn: str
) -> None:
    assert build_dsn(base_url, KEY, 42) == dsn


@pytest.mark.parametrize(
    "base_url", ["https://errors.example.com", "http://localhost:9000", "https://example.com/spy"]
)
def test_a_key_dsn_follows_the_base_url_and_parses_back(world: World, base_url: str) -> None:
    with override_settings(BASE_URL=base_url):
        dsn = parse_dsn(world.key.dsn)
    assert (dsn.public_key, dsn.project_id) == (world.key.public_key, world.project.id)
    assert dsn.origin == base_url


def test_a_new_project_comes_with_one_active_default_key(world: World) -> None:
    project = Project.create(world.org, "Billing", "go")

    key = ProjectKey.objects.get(project=project)
    assert (key.label, key.is_active, project.default_key()) == ("Default", True, key)
    assert len(key.public_key) == 32
    assert key.public_key != world.key.public_key
    assert (key.rate_limit_count, key.rate_limit_window) == (None, None)


def test_the_default_key_is_the_oldest_active_one(world: World) -> None:
    second = ProjectKey.objects.create(project=world.project, label="second")
    assert world.project.default_key() == world.key
    ProjectKey.objects.filter(id=world.key.id).update(is_active=False)
    assert world.project.default_key() == second
    second.is_active = False
    second.save()
    assert world.project.default_key() is None


def test_projects_named_alike_in_one_organization_get_distinct_slugs(world: World) -> None:
    slugs = [Project.create(world.org, name).slug for name in ("Web App", "web app", "Web-App")]
    assert slugs == ["web-app", "web-app-2", "web-app-3"]


def test_slugs_are_per_organization(world: World) -> None:
    other = Organization.get_or_create_named("Other")
    assert Project.create(other, "Backend").slug == world.project.slug == "backend"


def test_a_long_name_gets_a_slug_that_fits_even_when_numbered(world: World) -> None:
    name = "A project whose name goes on and on well past fifty characters"
    slugs = [Project.create(world.org, name).slug for _ in range(12)]
    assert len(set(slugs)) == 12
    assert max(len(slug) for slug in slugs) <= 50


def test_a_name_without_letters_still_gets_a_slug(world: World) -> None:
    assert Project.create(world.org, "!!!").slug == "item"
    assert Project.create(world.org, "???").slug == "item-2"


def test_get_or_create_named_finds_an_organization_by_slug_or_by_name(world: World) -> None:
    renamed = Organization.objects.create(name="Umbrella Corporation", slug="umbrella")

    assert Organization.get_or_create_named("acme") == world.org
    assert Organization.get_or_create_named("Acme") == world.org
    assert Organization.get_or_create_named("umbrella") == renamed
    assert Organization.get_or_create_named("Umbrella Corporation") == renamed
    assert Organization.objects.count() == 2


def test_get_or_create_named_creates_an_organization_when_neither_slug_nor_name_match(
    world: World,
) -> None:
    initech = Organization.objects.create(name="Something else", slug="initech")
    # A new name whose slug an organization has: the slug wins (`--org` takes either).
    assert Organization.get_or_create_named("Initech!") == initech

    fresh = Organization.get_or_create_named("Globex Corp")
    assert (fresh.name, fresh.slug) == ("Globex Corp", "globex-corp")
    assert Organization.get_or_create_named("Globex Corp") == fresh
