"""The issue write endpoints of /api/0/: PUT and DELETE of one issue, bulk PUT / DELETE of a
project's issues, comments; scopes, validation and 404s for what the user can't see."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from django.test import Client

from spyglass.api.tests.factory import auth, make_issue, token_for
from spyglass.events.models import Event
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueHash,
    IssueSeen,
    Resolution,
    Snooze,
    Status,
)
from spyglass.projects.models import Member, Organization, Role, Team
from spyglass.releases.models import Release
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

WRITE = ("event:read", "event:write", "event:admin")


def call(
    method: str, url: str, token: str, body: Any = None, **params: str | list[str]
) -> tuple[int, Any]:
    client = Client()
    query = ""
    if params:
        from urllib.parse import urlencode

        query = "?" + urlencode(params, doseq=True)
    response = client.generic(
        method,
        url + query,
        orjson.dumps(body) if body is not None else b"",
        content_type="application/json",
        headers=auth(token),
    )
    content = response.content
    return response.status_code, orjson.loads(content) if content else None


@pytest.fixture
def token(world: World) -> str:
    return token_for(world.bob, WRITE)


def test_put_resolves_in_a_release_and_answers_the_issue(world: World, token: str) -> None:
    issue = make_issue(world.project, "ValueError: x")
    Release.objects.create(organization=world.org, version="api@2.0").projects.add(world.project)
    status, body = call(
        "PUT",
        f"/api/0/issues/{issue.id}/",
        token,
        {"status": "resolved", "statusDetails": {"inRelease": "api@2.0"}},
    )
    assert status == 200
    assert body["id"] == str(issue.id) and body["shortId"] == issue.short_id
    assert body["status"] == "resolved" and body["statusDetails"] == {"inRelease": "api@2.0"}
    resolution = Resolution.objects.get(issue=issue)
    assert (resolution.kind, resolution.release) == (Resolution.Kind.IN_RELEASE, "api@2.0")
    status, body = call(
        "PUT", f"/api/0/issues/{issue.id}/", token, {"status": "resolvedInNextRelease"}
    )
    assert body["statusDetails"] == {"inNextRelease": True}
    status, body = call("PUT", f"/api/0/issues/{issue.id}/", token, {"status": "unresolved"})
    assert body["status"] == "unresolved" and body["statusDetails"] == {}
    assert not Resolution.objects.filter(issue=issue).exists()
    status, body = call(
        "PUT",
        f"/api/0/issues/{issue.id}/",
        token,
        {"status": "resolved", "statusDetails": {"inRelease": "nope@9"}},
    )
    assert status == 400 and "Unknown release" in body["detail"]


def test_put_ignores_with_sentrys_conditions(world: World, token: str) -> None:
    issue = make_issue(world.project, "ValueError: x", times_seen=3)
    status, body = call(
        "PUT",
        f"/api/0/issues/{issue.id}/",
        token,
        {"status": "ignored", "statusDetails": {"ignoreCount": 10, "ignoreWindow": 60}},
    )
    assert status == 200 and body["status"] == "ignored"
    assert body["substatus"] == "archived_until_condition_met"
    assert (
        body["statusDetails"]["ignoreCount"] == 10 and body["statusDetails"]["ignoreWindow"] == 60
    )
    snooze = Snooze.objects.get(issue=issue)
    assert (snooze.count, snooze.window, snooze.times_seen_at_snooze) == (10, 60, 3)
    _, body = call(
        "PUT",
        f"/api/0/issues/{issue.id}/",
        token,
        {"status": "ignored", "substatus": "archived_until_escalating", "statusDetails": {}},
    )
    assert body["substatus"] == "archived_until_escalating"
    _, body = call("PUT", f"/api/0/issues/{issue.id}/", token, {"status": "ignored"})
    assert body["substatus"] == "archived_forever"
    status, body = call(
        "PUT",
        f"/api/0/issues/{issue.id}/",
        token,
        {"status": "ignored", "statusDetails": {"ignoreCount": -1}},
    )
    assert status == 400


def test_put_assigns_bookmarks_subscribes_marks_seen_and_sets_priority(
    world: World, token: str
) -> None:
    issue = make_issue(world.project, "ValueError: x")
    team = Team.objects.create(organization=world.org, name="Core", slug="core")
    world.project.teams.add(team)
    url = f"/api/0/issues/{issue.id}/"
    status, body = call("PUT", url, token, {"assignedTo": f"user:{world.alice.pk}"})
    assert status == 200
    assert body["assignedTo"] == {
        "type": "user",
        "id": str(world.alice.pk),
        "name": "alice@example.com",
        "email": "alice@example.com",
    }
    _, body = call("PUT", url, token, {"assignedTo": f"team:{team.pk}"})
    assert body["assignedTo"] == {"type": "team", "id": str(team.pk), "name": "core"}
    _, body = call("PUT", url, token, {"assignedTo": "alice@example.com"})
    assert body["assignedTo"]["type"] == "user"
    _, body = call("PUT", url, token, {"assignedTo": ""})
    assert body["assignedTo"] is None and not IssueAssignee.objects.exists()
    status, body = call("PUT", url, token, {"assignedTo": "charlie@example.com"})
    assert status == 400
    _, body = call(
        "PUT",
        url,
        token,
        {"isBookmarked": True, "isSubscribed": False, "hasSeen": True, "priority": "low"},
    )
    assert body["isBookmarked"] is True and body["isSubscribed"] is False
    assert body["hasSeen"] is True and body["priority"] == "low"
    assert IssueBookmark.objects.filter(issue=issue, user=world.bob).exists()
    assert IssueSeen.objects.filter(issue=issue, user=world.bob).exists()
    issue.refresh_from_db()
    assert issue.priority_locked_at is not None
    assert call("PUT", url, token, {"priority": "urgent"})[0] == 400
    assert call("PUT", url, token, {"status": "exploded"})[0] == 400
    assert set(Activity.objects.filter(issue=issue).values_list("kind", flat=True)) == {
        "assigned",
        "unassigned",
        "set_priority",
    }


def test_delete_one_issue(world: World, token: str) -> None:
    issue = make_issue(world.project, "ValueError: x")
    assert Event.objects.filter(issue=issue).exists()
    status, _ = call("DELETE", f"/api/0/issues/{issue.id}/", token)
    assert status == 202
    assert not Issue.objects.filter(id=issue.id).exists()
    assert not Event.objects.filter(issue_id=issue.id).exists()


def test_writes_need_write_scopes(world: World) -> None:
    issue = make_issue(world.project, "ValueError: x")
    reader = token_for(world.bob)
    assert call("PUT", f"/api/0/issues/{issue.id}/", reader, {"status": "resolved"})[0] == 403
    writer = token_for(world.bob, ("event:read", "event:write"))
    assert call("DELETE", f"/api/0/issues/{issue.id}/", writer)[0] == 403
    assert call("POST", f"/api/0/issues/{issue.id}/comments/", reader, {"text": "x"})[0] == 403
    issue.refresh_from_db()
    assert issue.status == Status.UNRESOLVED
    # GET of comments only reads.
    assert call("GET", f"/api/0/issues/{issue.id}/comments/", reader)[0] == 200


def test_bulk_update_by_ids_and_by_query(world: World, token: str) -> None:
    one = make_issue(world.project, "ValueError: one")
    two = make_issue(world.project, "KeyError: two")
    front = make_issue(world.other_project, "TypeError: front")
    url = "/api/0/projects/acme/backend/issues/"
    status, body = call("PUT", url, token, {"status": "resolved"}, id=[str(one.id), str(front.id)])
    assert status == 200 and body["status"] == "resolved"
    one.refresh_from_db()
    front.refresh_from_db()
    assert one.status == Status.RESOLVED and front.status == Status.UNRESOLVED
    status, body = call("PUT", url, token, {"isBookmarked": True}, query="KeyError")
    assert status == 200 and body == {"isBookmarked": True}
    assert list(IssueBookmark.objects.values_list("issue_id", flat=True)) == [two.id]
    assert call("PUT", url, token, {"status": "resolved"}, id="abc")[0] == 400
    assert call("PUT", url, token, {"status": "resolved"}, query='"unclosed')[0] == 400
    assert call("PUT", url, token, {"status": "resolved"}, id=str(front.id))[0] == 204


def test_bulk_merge_and_delete(world: World, token: str) -> None:
    big = make_issue(world.project, "ValueError: big", times_seen=10)
    small = make_issue(world.project, "ValueError: small", times_seen=2)
    IssueHash.objects.create(project=world.project, hash="b" * 32, issue=small)
    url = "/api/0/projects/acme/backend/issues/"
    status, body = call("PUT", url, token, {"merge": 1}, id=[str(big.id), str(small.id)])
    assert status == 200
    assert body == {"merge": {"parent": str(big.id), "children": [str(small.id)]}}
    big.refresh_from_db()
    assert big.times_seen == 12 and IssueHash.objects.get(hash="b" * 32).issue_id == big.id
    assert call("PUT", url, token, {"merge": 1}, id=str(big.id))[0] == 400
    other = make_issue(world.project, "ValueError: other")
    assert call("DELETE", url, token)[0] == 400  # ids required
    status, _ = call("DELETE", url, token, id=[str(big.id), str(other.id)])
    assert status == 204
    assert not Issue.objects.filter(project=world.project).exists()


def test_comments_list_add_edit_delete(world: World, token: str) -> None:
    issue = make_issue(world.project, "ValueError: x")
    url = f"/api/0/issues/{issue.id}/comments/"
    status, body = call("POST", url, token, {"text": "<b>looking</b>"})
    assert status == 201
    assert body["type"] == "note" and body["data"] == {"text": "<b>looking</b>"}
    assert body["user"]["email"] == "bob@example.com" and body["dateCreated"].endswith("Z")
    note = body["id"]
    assert call("POST", url, token, {"text": "  "})[0] == 400
    assert call("POST", url, token, {"text": 5})[0] == 400
    status, body = call("GET", url, token)
    assert status == 200 and [c["id"] for c in body] == [note]
    status, body = call("PUT", f"{url}{note}/", token, {"text": "fixed"})
    assert status == 200 and body["data"]["text"] == "fixed"
    alice = token_for(world.alice, WRITE)
    assert call("PUT", f"{url}{note}/", alice, {"text": "hijack"})[0] == 404
    assert call("DELETE", f"{url}{note}/", alice)[0] == 404
    assert call("DELETE", f"{url}{note}/", token)[0] == 204
    assert call("GET", url, token)[1] == []
    status, body = call("PUT", f"/api/0/issues/{issue.id}/", token, {"hasSeen": False})
    assert body["numComments"] == 0


def test_another_organizations_user_gets_404_on_every_write(world: World) -> None:
    issue = make_issue(world.project, "ValueError: x")
    eve = make_user("eve@umbrella.example")
    umbrella = Organization.get_or_create_named("Umbrella")
    Member.objects.create(organization=umbrella, user=eve, role=Role.OWNER)
    theirs = make_project(umbrella, "Backend")
    token = token_for(eve, WRITE)
    note = Activity.objects.create(issue=issue, kind="note", user=eve, data={"text": "x"})
    for method, url, body in [
        ("PUT", f"/api/0/issues/{issue.id}/", {"status": "resolved"}),
        ("DELETE", f"/api/0/issues/{issue.id}/", None),
        ("GET", f"/api/0/issues/{issue.id}/comments/", None),
        ("POST", f"/api/0/issues/{issue.id}/comments/", {"text": "x"}),
        ("PUT", f"/api/0/issues/{issue.id}/comments/{note.id}/", {"text": "y"}),
        ("DELETE", f"/api/0/issues/{issue.id}/comments/{note.id}/", None),
        ("PUT", "/api/0/projects/acme/backend/issues/", {"status": "resolved"}),
        ("DELETE", "/api/0/projects/acme/backend/issues/", None),
        ("PUT", "/api/0/issues/99999999/", {"status": "resolved"}),
        ("PUT", "/api/0/issues/abc/", {"status": "resolved"}),
    ]:
        assert call(method, url, token, body)[0] == 404, (method, url)
    # Through their own project, our ids are simply not found.
    their = f"/api/0/projects/umbrella/{theirs.slug}/issues/"
    assert call("PUT", their, token, {"status": "resolved"}, id=str(issue.id))[0] == 204
    assert call("DELETE", their, token, id=str(issue.id))[0] == 204
    assert call("PUT", their, token, {"merge": 1}, id=str(issue.id))[0] == 204
    issue.refresh_from_db()
    assert issue.status == Status.UNRESOLVED
