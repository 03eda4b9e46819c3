"""A performance issue's page shows an occurrence (its transaction, evidence and the links
to the older and newer ones) and its events list lists the occurrences."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

import pytest
import sentry_sdk
from django.test import Client

from spyglass.issues.models import Issue
from spyglass.perfissues.models import Occurrence
from spyglass.perfissues.tests.test_record import digest, n_plus_one
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def issue(world: World, django_capture_on_commit_callbacks: Any) -> Issue:
    digest(world, n_plus_one, 3, django_capture_on_commit_callbacks)
    return Issue.objects.get()


def url(world: World, issue: Issue, tail: str = "") -> str:
    return f"/{world.org.slug}/{world.project.slug}/issues/{issue.number}/{tail}"


def test_the_issue_page_shows_the_latest_occurrence_and_walks_to_older_ones(
    world: World, issue: Issue, client: Client
) -> None:
    client.force_login(world.bob)
    rows = list(Occurrence.objects.filter(issue=issue).order_by("-timestamp", "-id"))
    assert len(rows) == 3
    page = client.get(url(world, issue)).content.decode()
    assert "No stored event" not in page
    assert f'Occurrence <span class="mono">{rows[0].transaction_event_id}' in page
    assert "GET /authors" in page and "Duration" in page and "Span evidence" in page
    waterfall = f"/{world.org.slug}/{world.project.slug}/performance/events/"
    assert waterfall + rows[0].transaction_event_id + "/" in page
    assert f"?occurrence={rows[1].transaction_event_id}#event" in page  # older
    assert "Newer" not in page
    # The oldest one: newer and latest links, no older.
    oldest = client.get(url(world, issue) + f"?occurrence={rows[2].transaction_event_id}")
    text = oldest.content.decode()
    assert f'Occurrence <span class="mono">{rows[2].transaction_event_id}' in text
    assert f"?occurrence={rows[1].transaction_event_id}#event" in text and "Latest" in text
    assert "Older<" not in text.replace(" ", "")
    # An unknown (or another issue's) occurrence is a 404.
    assert client.get(url(world, issue) + "?occurrence=" + "0" * 32).status_code == 404
    # The waterfall it links to exists.
    assert client.get(waterfall + rows[0].transaction_event_id + "/").status_code == 200


def test_the_events_list_of_a_performance_issue_lists_its_occurrences(
    world: World, issue: Issue, client: Client
) -> None:
    client.force_login(world.bob)
    page = client.get(url(world, issue, "events/")).content.decode()
    ids = [o.transaction_event_id for o in Occurrence.objects.filter(issue=issue)]
    for event_id in ids:
        assert f"?occurrence={event_id}#event" in page
        assert f"/performance/events/{event_id}/" in page
    assert len(re.findall(r"<tr>", page)) == 1 + len(ids)
    assert "No stored events" not in page


def test_another_organization_gets_404_for_the_page_and_the_list(
    world: World, issue: Issue, client: Client
) -> None:
    other = Organization.get_or_create_named("Other")
    make_project(other, "Elsewhere")
    Member.objects.create(organization=other, user=world.charlie, role=Role.OWNER)
    client.force_login(world.charlie)
    occurrence = Occurrence.objects.filter(issue=issue).first()
    assert occurrence is not None
    assert client.get(url(world, issue)).status_code == 404
    assert client.get(url(world, issue, "events/")).status_code == 404
    tail = f"?occurrence={occurrence.transaction_event_id}"
    assert client.get(url(world, issue) + tail).status_code == 404


def tagged_n_plus_one() -> None:
    with sentry_sdk.isolation_scope() as scope:  # the tag stays in this test
        scope.set_tag("region", "eu west")
        n_plus_one(name="GET /tagged")


def test_the_occurrence_shows_its_transactions_tags_and_raw_json(
    world: World, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    """As an error issue's event: the transaction's tags (its fields and those it was sent
    with), each a link to the transactions with that value, and its stored JSON."""
    digest(world, tagged_n_plus_one, 1, django_capture_on_commit_callbacks)
    issue = Issue.objects.get()
    [occurrence] = Occurrence.objects.filter(issue=issue)
    client.force_login(world.bob)
    page = client.get(url(world, issue)).content.decode()
    chips = dict(re.findall(r'<span class="k">([^<]+)</span><span class="v">([^<]+)</span>', page))
    assert chips["transaction"] == "GET /tagged"
    assert chips["transaction.op"] == "http.server"
    assert chips["region"] == "eu west"
    assert chips["environment"] == "production"  # the SDK's default
    overview = f"/{world.org.slug}/{world.project.slug}/performance/"
    link = re.search(rf'href="({overview}\?query=[^"]*region[^"]*)"', page)
    assert link is not None
    assert unquote(link[1].replace("&amp;", "&")).endswith('region:"eu west"')
    found = client.get(link[1].replace("&amp;", "&"))
    assert found.status_code == 200 and "GET /tagged" in found.content.decode()
    raw = f"/{world.org.slug}/{world.project.slug}/performance/events/"
    raw += f"{occurrence.transaction_event_id}/json/"
    assert f'href="{raw}"' in page
    response = client.get(raw)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = json.loads(response.content)
    assert body["transaction"] == "GET /tagged"
    assert dict(body["tags"])["region"] == "eu west"
    assert len(body["spans"]) == 7
    # Someone who is not a member of the organization gets a 404, as for the page.
    client.force_login(world.charlie)
    assert client.get(raw).status_code == 404
