"""Bulk actions on the organization's stream: the project stream's actions on issues of
several projects; merge only within one project; an assignee or release must fit every
selected issue's project; ids of another organization are ignored and outsiders get 404."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from spyglass.events.models import Event
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueAssignee,
    IssueBookmark,
    Resolution,
    Snooze,
    Status,
)
from spyglass.issues.tests.test_triage import add_event, make_issue
from spyglass.projects.models import Member, Organization, Role, Team
from spyglass.releases.models import Release
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

STREAM = "/acme/issues/"
BULK = "/acme/issues/bulk/"


@pytest.fixture
def bob(client: Client, world: World) -> Client:
    client.force_login(world.bob)
    return client


def ids(*issues: Issue) -> list[str]:
    return [str(issue.id) for issue in issues]


def post(client: Client, action: str, *issues: Issue, **extra: Any) -> Any:
    return client.post(BULK, {"action": action, "issue": ids(*issues), **extra}, follow=True)


def said(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_the_stream_offers_the_bulk_actions_with_members_and_org_releases(
    bob: Client, world: World
) -> None:
    make_issue(world, 1)
    make_issue(world, 1, project=world.other_project)
    Release.objects.create(organization=world.org, version="web@2").projects.add(
        world.other_project
    )
    page = bob.get(STREAM).content.decode()
    assert f'action="{BULK}"' in page and "csrfmiddlewaretoken" in page
    for action in ["resolve", "archive-24h", "merge", "delete", "bookmark", "priority-high"]:
        assert f'value="{action}"' in page, action
    assert f'value="assign:user:{world.alice.pk}"' in page
    assert 'value="resolve-in-release:web@2"' in page
    assert page.count('name="issue"') == 2 and 'class="select-all"' in page


def test_status_assign_and_bookmark_act_on_issues_of_several_projects(
    bob: Client, world: World
) -> None:
    one, two = make_issue(world, 1), make_issue(world, 1, project=world.other_project)
    response = post(bob, "resolve", one, two, next=f"{STREAM}?tab=unresolved")
    assert response.redirect_chain[-1][0] == f"{STREAM}?tab=unresolved"
    assert said(response) == ["2 issues resolved."]
    assert set(Issue.objects.values_list("status", flat=True)) == {Status.RESOLVED}
    post(bob, "reopen", one, two)
    post(bob, "archive-10-events", one, two)
    assert set(Issue.objects.values_list("status", flat=True)) == {Status.IGNORED}
    post(bob, "reopen", one, two)
    response = post(bob, "archive-100-users", one, two)
    assert said(response) == ["2 issues archived until 100 more users."]
    assert set(Snooze.objects.values_list("user_count", flat=True)) == {100}
    response = post(bob, f"assign:user:{world.alice.pk}", one, two)
    assert said(response) == ["2 issues assigned to alice@example.com."]
    assert IssueAssignee.objects.filter(user=world.alice).count() == 2
    post(bob, "bookmark", one, two)
    assert IssueBookmark.objects.filter(user=world.bob).count() == 2
    page = bob.get(STREAM, {"tab": "archived"}).content.decode()
    assert page.count("assigned to alice@example.com") == 2 and "★" in page
    response = post(bob, "unassign", one, two)
    assert said(response) == ["2 issues unassigned."] and not IssueAssignee.objects.exists()
    post(bob, "priority-low", one, two)
    assert {i.get_priority_display() for i in Issue.objects.all()} == {"low"}
    post(bob, "resolve-in-next-release", one, two)
    assert Resolution.objects.filter(kind=Resolution.Kind.IN_NEXT_RELEASE).count() == 2


def test_an_assignee_or_release_must_fit_every_selected_issues_project(
    bob: Client, world: World
) -> None:
    one, two = make_issue(world, 1), make_issue(world, 1, project=world.other_project)
    team = Team.objects.create(organization=world.org, name="API", slug="api")
    team.projects.add(world.project)  # a team of Backend only
    response = post(bob, f"assign:team:{team.pk}", one, two)
    assert "not of Frontend" in said(response)[0]
    assert not IssueAssignee.objects.exists()
    post(bob, f"assign:team:{team.pk}", one)
    assert IssueAssignee.objects.get().team == team
    stranger = make_user("mallory@example.com")
    post(bob, f"assign:user:{stranger.pk}", one, two)
    assert IssueAssignee.objects.count() == 1
    Release.objects.create(organization=world.org, version="api@1").projects.add(world.project)
    response = post(bob, "resolve-in-release:api@1", one, two)
    assert said(response) == ["api@1 is not a release of Frontend."]
    assert not Resolution.objects.exists()
    post(bob, "resolve-in-release:api@1", one)
    assert Resolution.objects.get().release == "api@1"


def test_merge_refuses_issues_of_two_projects_and_merges_within_one(
    bob: Client, world: World
) -> None:
    one, two = make_issue(world, 1), make_issue(world, 2)
    add_event(one, 1)
    other = make_issue(world, 1, project=world.other_project)
    response = post(bob, "merge", one, two, other)
    assert said(response) == [
        "Only issues of one project can be merged; the selected ones are in Backend, Frontend."
    ]
    assert Issue.objects.count() == 3 and not Activity.objects.exists()
    response = post(bob, "merge", one, two)
    assert said(response) == [f"2 issues merged into {one.short_id}."]
    assert set(Issue.objects.values_list("id", flat=True)) == {one.id, other.id}


def test_delete_confirms_listing_each_issues_project_then_deletes(
    bob: Client, world: World
) -> None:
    one, other = make_issue(world, 1), make_issue(world, 1, project=world.other_project)
    add_event(other, 1)
    keep = make_issue(world, 2)
    response = bob.post(BULK, {"action": "delete", "issue": ids(one, other), "next": STREAM})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete 2 issues?" in page and "with 1 event" in page
    assert "Backend" in page and "Frontend" in page and f'action="{BULK}"' in page
    assert Issue.objects.count() == 3
    response = post(bob, "delete", one, other, confirmed="yes")
    assert said(response) == ["2 issues and their events were deleted."]
    assert list(Issue.objects.values_list("id", flat=True)) == [keep.id]
    assert not Event.objects.exists()


def test_another_organizations_ids_are_ignored_and_outsiders_get_404(
    client: Client, world: World
) -> None:
    ours = make_issue(world, 1)
    umbrella = Organization.get_or_create_named("Umbrella")
    outsider = make_user("eve@umbrella.example")
    Member.objects.create(organization=umbrella, user=outsider, role=Role.OWNER)
    theirs = make_issue(world, 1, project=make_project(umbrella, "Backend"))
    client.force_login(outsider)
    for action in ["resolve", "delete", "merge", "bookmark"]:
        data = {"action": action, "confirmed": "yes", "issue": ids(ours)}
        assert client.post(BULK, data).status_code == 404
    # Their own organization's stream, our issue's id: nothing found, nothing changed.
    for action in ["resolve", "merge", "bookmark", f"assign:user:{outsider.pk}"]:
        client.post("/umbrella/issues/bulk/", {"action": action, "issue": ids(ours, theirs)})
    client.post(
        "/umbrella/issues/bulk/", {"action": "delete", "confirmed": "yes", "issue": ids(ours)}
    )
    ours.refresh_from_db()
    assert ours.status == Status.UNRESOLVED
    assert not IssueAssignee.objects.filter(issue=ours).exists()
    assert not IssueBookmark.objects.filter(issue=ours).exists()
    assert not Activity.objects.filter(issue=ours).exists()
    theirs.refresh_from_db()
    assert theirs.status == Status.RESOLVED  # their own issue, in the same requests, was
    # A member of both organizations acts only on the issues of the one in the address.
    both = Client()
    both.force_login(world.bob)
    Member.objects.create(organization=umbrella, user=world.bob, role=Role.MEMBER)
    response = post(both, "reopen", ours, theirs)
    assert said(response) == ["1 issue reopened."]


def test_the_bulk_form_needs_post_a_known_action_a_csrf_token_and_a_selection(
    world: World,
) -> None:
    issue = make_issue(world, 1)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.bob)
    assert strict.get(BULK).status_code == 405
    assert strict.post(BULK, {"action": "resolve", "issue": ids(issue)}).status_code == 403
    client = Client()
    client.force_login(world.bob)
    assert client.post(BULK, {"action": "explode", "issue": ids(issue)}).status_code == 400
    response = post(client, "resolve")
    assert said(response) == ["Select issues first."]
    evil = client.post(
        BULK, {"action": "resolve", "issue": ids(issue), "next": "https://x.example/"}
    )
    assert evil["Location"] == STREAM
    assert Client().post(BULK, {"action": "resolve"}).status_code == 302  # to sign in
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
