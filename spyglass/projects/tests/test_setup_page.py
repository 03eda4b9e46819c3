"""A project's own address: SDK setup with the real DSN until the first event, then the
issue stream; the small JSON answer the setup page polls."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from spyglass.issues.models import Issue
from spyglass.projects.models import Member, Organization, ProjectKey, Role
from spyglass.test import World

pytestmark = pytest.mark.django_db


def test_an_empty_project_shows_setup_for_four_sdks_with_its_dsn(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    response = client.get("/acme/backend/")
    assert response.status_code == 200
    html = response.content.decode()
    for sdk in ("Python", "JavaScript (browser)", "Node.js", "Go"):
        assert f"<h2>{sdk}</h2>" in html
    assert html.count(world.key.dsn) >= 5  # the DSN box and every snippet
    assert "Waiting for the first event" in html
    assert 'data-poll-url="/acme/backend/first-event.json"' in html
    assert "projects/setup.js" in html


def test_the_poll_answers_false_then_the_first_issue_and_the_page_becomes_the_stream(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    assert client.get("/acme/backend/first-event.json").json() == {"received": False}
    now = timezone.now()
    Issue.objects.create(project=world.project, number=1, title="E", first_seen=now, last_seen=now)
    assert client.get("/acme/backend/first-event.json").json() == {
        "received": True,
        "issueUrl": "/acme/backend/issues/1/",
        "streamUrl": "/acme/backend/issues/",
    }
    assert client.get("/acme/backend/")["Location"] == "/acme/backend/issues/"


def test_a_project_without_an_active_key_says_so(client: Client, world: World) -> None:
    ProjectKey.objects.filter(project=world.project).update(is_active=False)
    client.force_login(world.alice)
    html = client.get("/acme/backend/").content.decode()
    assert "This project has no active key." in html
    assert world.key.dsn not in html


def test_other_organizations_get_404_on_the_page_and_the_poll(client: Client, world: World) -> None:
    Member.objects.create(
        organization=Organization.get_or_create_named("Globex"), user=world.charlie, role=Role.OWNER
    )
    client.force_login(world.charlie)
    assert client.get("/acme/backend/").status_code == 404
    assert client.get("/acme/backend/first-event.json").status_code == 404
    client.logout()
    assert client.get("/acme/backend/first-event.json").status_code == 302  # to sign in


def test_the_organization_home_links_projects_to_their_page(client: Client, world: World) -> None:
    client.force_login(world.bob)
    html = client.get("/acme/").content.decode()
    assert 'href="/acme/backend/"' in html and 'href="/acme/settings/"' in html
    assert 'href="/acme/backend/settings/"' in html
