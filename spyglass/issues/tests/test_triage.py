"""Triage: assign, bookmark, subscribe, comment, link, resolve in a release, merge, unmerge,
delete; the issue page's panels, a tag's values, similar issues, the organization stream;
access (another organization's user gets 404 everywhere, guessed ids too) and CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from django.test import Client

from spyglass.events.bodies import compress
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.feedback.models import UserFeedback
from spyglass.issues import actions, state
from spyglass.issues.actions import ActionError
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueHash,
    IssueLink,
    IssueSubscription,
    Resolution,
    Snooze,
    Status,
    Substatus,
)
from spyglass.issues.similar import similar_issues, title_shape
from spyglass.projects.models import Member, Organization, Role, Team
from spyglass.releases.models import Release
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BASE = "/acme/backend/issues/"
XSS = '<script>window.__xss=1</script>"><img src=x onerror=alert(1)>'


def make_issue(world: World, number: int, **fields: object) -> Issue:
    project = fields.pop("project", world.project)
    values: dict[str, object] = {
        "title": f"ValueError: bad input {number}",
        "first_seen": NOW - timedelta(days=2),
        "last_seen": NOW - timedelta(hours=number),
        "times_seen": 0,
        "metadata": {"type": "ValueError"},
    }
    values.update(fields)
    return Issue.objects.create(project=project, number=number, **values)  # type: ignore[misc]


def frames_body(*functions: str) -> dict[str, Any]:
    frames = [
        {"filename": f"app/{f}.py", "module": f"app.{f}", "function": f, "in_app": True}
        for f in functions
    ]
    return {"exception": {"values": [{"type": "ValueError", "stacktrace": {"frames": frames}}]}}


def add_event(
    issue: Issue,
    n: int,
    *,
    at: datetime | None = None,
    hash_: str = "",
    tags: list[list[str]] | None = None,
    body: dict[str, Any] | None = None,
) -> Event:
    """A stored event, with the counters the digest would keep for it."""
    at = at or NOW - timedelta(minutes=n)
    tags = tags if tags is not None else [["environment", "production"], ["user", f"id:{n}"]]
    event = Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=f"{issue.id:04x}{n:028x}",
        timestamp=at,
        received_at=at,
        title=issue.title,
        primary_hash=hash_,
        tags=tags,
        body=compress(issue.project_id, orjson.dumps(body or {})),
    )
    for key, value in tags:
        row, _ = IssueTagValue.objects.get_or_create(
            issue=issue, key=key, value=value, defaults={"first_seen": at, "last_seen": at}
        )
        row.times_seen += 1
        row.save()
    seconds = int(at.timestamp())
    for resolution in (60, 3600):
        count, _ = IssueCount.objects.get_or_create(
            issue=issue, resolution=resolution, bucket=seconds - seconds % resolution
        )
        count.count += 1
        count.save()
    issue.times_seen += 1
    issue.users_seen = IssueTagValue.objects.filter(issue=issue, key="user").count()
    issue.save()
    return event


def url(issue: Issue, suffix: str = "") -> str:
    return f"/{issue.project.organization.slug}/{issue.project.slug}/issues/{issue.number}/{suffix}"


def act(client: Client, issue: Issue, **data: str) -> Any:
    return client.post(url(issue, "act/"), data)


@pytest.fixture
def bob(client: Client, world: World) -> Client:
    client.force_login(world.bob)
    return client


# -- assignment -----------------------------------------------------------------------------
def test_assign_to_a_member_then_a_team_then_nobody(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    team = Team.objects.create(organization=world.org, name="Core", slug="core")
    world.project.teams.add(team)
    response = act(bob, issue, action="assign", assignee=f"user:{world.alice.pk}")
    assert response.status_code == 302
    assert IssueAssignee.objects.get(issue=issue).user == world.alice
    # The assignee follows the issue from now on.
    assert actions.is_subscribed(issue, world.alice)
    act(bob, issue, action="assign", assignee=f"team:{team.pk}")
    row = IssueAssignee.objects.get(issue=issue)
    assert (row.user, row.team) == (None, team)
    act(bob, issue, action="assign", assignee="")
    assert not IssueAssignee.objects.filter(issue=issue).exists()
    kinds = list(issue.activities.order_by("id").values_list("kind", flat=True))
    assert kinds == ["assigned", "assigned", "unassigned"]
    assert issue.activities.order_by("id").first().user == world.bob  # type: ignore[union-attr]
    page = bob.get(url(issue)).content.decode()
    assert "assigned this issue to #core" in page


def test_assigning_the_same_person_again_records_nothing(world: World) -> None:
    issue = make_issue(world, 1)
    to = actions.find_assignee(world.project, f"user:{world.bob.pk}")
    assert to is not None
    actions.assign(issue, to, world.alice)
    actions.assign(issue, to, world.alice)
    assert issue.activities.count() == 1


def test_only_members_and_the_projects_teams_can_be_assigned(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    stranger_team = Team.objects.create(organization=world.org, name="Other", slug="other")
    elsewhere = Organization.get_or_create_named("Umbrella")
    foreign_team = Team.objects.create(organization=elsewhere, name="Spies", slug="spies")
    for actor in [
        f"user:{world.charlie.pk}",  # in no organization
        "charlie@example.com",
        f"team:{stranger_team.pk}",  # the organization's, but not the project's
        f"team:{foreign_team.pk}",
        "user:999999",
        "nonsense",
    ]:
        response = act(bob, issue, action="assign", assignee=actor)
        assert response.status_code == 302
        assert not IssueAssignee.objects.filter(issue=issue).exists(), actor
    assert actions.find_assignee(world.project, "ALICE@example.com") is not None


# -- bookmarks, subscriptions -----------------------------------------------------------------
def test_bookmark_subscribes_and_an_explicit_unsubscribe_sticks(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    act(bob, issue, action="bookmark")
    assert IssueBookmark.objects.filter(issue=issue, user=world.bob).exists()
    assert actions.is_subscribed(issue, world.bob)
    act(bob, issue, action="unsubscribe")
    assert not actions.is_subscribed(issue, world.bob)
    act(bob, issue, action="comment", text="still looking")
    assert not actions.is_subscribed(issue, world.bob)  # commenting doesn't undo it
    act(bob, issue, action="subscribe")
    assert actions.subscribers(issue) == [world.bob]
    act(bob, issue, action="unbookmark")
    assert not IssueBookmark.objects.filter(issue=issue).exists()
    page = bob.get(url(issue)).content.decode()
    assert 'value="bookmark" aria-pressed="false"' in page
    assert 'value="unsubscribe" aria-pressed="true"' in page


# -- comments ---------------------------------------------------------------------------------
def test_comments_are_plain_escaped_text_editable_and_deletable_by_their_author(
    client: Client, world: World
) -> None:
    issue = make_issue(world, 1)
    client.force_login(world.bob)
    act(client, issue, action="comment", text=XSS + "\nline two")
    note = Activity.objects.get(issue=issue, kind="note")
    assert note.data["text"] == XSS + "\nline two" and note.user == world.bob
    assert IssueSubscription.objects.get(issue=issue, user=world.bob).reason == "commented"
    page = client.get(url(issue)).content.decode()
    assert "<script>window.__xss" not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "line two" in page and 'value="comment-edit"' in page
    # Someone else can't edit or delete it, even knowing its id.
    client.force_login(world.alice)
    act(client, issue, action="comment-edit", comment=str(note.pk), text="hijacked")
    act(client, issue, action="comment-delete", comment=str(note.pk))
    note.refresh_from_db()
    assert note.data["text"].startswith("<script>")
    assert 'value="comment-edit"' not in client.get(url(issue)).content.decode()
    client.force_login(world.bob)
    act(client, issue, action="comment-edit", comment=str(note.pk), text="  fixed  ")
    note.refresh_from_db()
    assert note.data["text"] == "fixed" and "edited" in note.data
    act(client, issue, action="comment-delete", comment=str(note.pk))
    assert not Activity.objects.filter(kind="note").exists()


def test_an_empty_or_huge_comment_is_refused(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    act(bob, issue, action="comment", text="   ")
    act(bob, issue, action="comment", text="x" * (actions.MAX_COMMENT + 1))
    assert not Activity.objects.filter(kind="note").exists()
    response = act(bob, issue, action="comment", text="")
    assert "A comment needs some text." in bob.get(response.url).content.decode()


# -- links ------------------------------------------------------------------------------------
def test_links_must_be_http_urls_and_can_be_removed(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    for bad in ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "/relative", "ftp://x.example/"]:
        act(bob, issue, action="link", url=bad, title="t")
    assert not IssueLink.objects.exists()
    act(bob, issue, action="link", url="https://tracker.example/PROJ-12", title=XSS)
    link = IssueLink.objects.get(issue=issue)
    page = bob.get(url(issue)).content.decode()
    assert 'href="https://tracker.example/PROJ-12"' in page and "<script>window" not in page
    assert Activity.objects.filter(issue=issue, kind="link_issue").exists()
    act(bob, issue, action="unlink", link=str(link.pk))
    assert not IssueLink.objects.exists()


# -- resolve in a release ---------------------------------------------------------------------
def test_resolve_in_one_of_the_projects_releases(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    Release.objects.create(organization=world.org, version="api@2.0").projects.add(world.project)
    Release.objects.create(organization=world.org, version="web@9.9").projects.add(
        world.other_project
    )
    page = bob.get(url(issue)).content.decode()
    assert '<option value="api@2.0">' in page and "web@9.9" not in page
    act(bob, issue, action="resolve-in-release", release="web@9.9")
    issue.refresh_from_db()
    assert issue.status == Status.UNRESOLVED
    act(bob, issue, action="resolve-in-release", release="api@2.0")
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    resolution = Resolution.objects.get(issue=issue)
    assert (resolution.kind, resolution.release) == (Resolution.Kind.IN_RELEASE, "api@2.0")
    assert "resolved this issue in release api@2.0" in bob.get(url(issue)).content.decode()


# -- merge ------------------------------------------------------------------------------------
def test_merge_moves_everything_into_the_issue_with_most_events(bob: Client, world: World) -> None:
    big, small, third = make_issue(world, 1), make_issue(world, 2), make_issue(world, 3)
    for n in range(3):
        add_event(big, n, hash_="a" * 32)
    add_event(small, 10, hash_="b" * 32, tags=[["environment", "production"], ["user", "id:0"]])
    add_event(small, 11, hash_="b" * 32, tags=[["environment", "staging"], ["user", "id:99"]])
    for issue, hash_ in [(big, "a"), (small, "b"), (third, "c")]:
        IssueHash.objects.create(project=world.project, hash=hash_ * 32, issue=issue)
    feedback = UserFeedback.objects.create(
        project=world.project,
        feedback_id="f" * 32,
        issue=small,
        comments="it broke",
        created_at=NOW,
    )
    actions.bookmark(small, world.alice)
    actions.comment(small, world.alice, "seen on staging")
    other_project_issue = make_issue(world, 9, project=world.other_project)
    response = bob.post(
        BASE + "bulk/",
        {"action": "merge", "issue": [str(small.id), str(big.id), str(other_project_issue.id)]},
    )
    assert response.status_code == 302
    assert not Issue.objects.filter(id=small.id).exists()
    assert Issue.objects.filter(id=other_project_issue.id).exists()  # not this project's
    big.refresh_from_db()
    assert big.times_seen == 5 and big.users_seen == 4  # id:0, id:1, id:2, id:99
    assert Event.objects.filter(issue=big).count() == 5
    assert set(big.hashes.values_list("hash", flat=True)) == {"a" * 32, "b" * 32}
    tags = dict(
        IssueTagValue.objects.filter(issue=big, key="environment").values_list(
            "value", "times_seen"
        )
    )
    assert tags == {"production": 4, "staging": 1}
    assert IssueTagValue.objects.get(issue=big, key="user", value="id:0").times_seen == 2
    hourly = IssueCount.objects.filter(issue=big, resolution=3600)
    assert sum(hourly.values_list("count", flat=True)) == 5
    feedback.refresh_from_db()
    assert feedback.issue == big
    assert IssueBookmark.objects.filter(issue=big, user=world.alice).exists()
    kinds = set(big.activities.values_list("kind", flat=True))
    assert {"merge", "merge_into", "note"} <= kinds
    moved = big.activities.get(kind="merge_into")
    assert moved.data["source"] == f"BACKEND-{small.number}"
    assert (
        f"merged BACKEND-{small.number} into BACKEND-{big.number}"
        in bob.get(url(big)).content.decode()
    )
    merge = big.activities.get(kind="merge")
    assert merge.data["issues"] == [f"BACKEND-{small.number}"] and merge.user == world.bob
    # A new event with the merged-away hash finds the surviving issue through its hash.
    assert IssueHash.objects.get(hash="b" * 32).issue_id == big.id
    third.refresh_from_db()


def test_merge_needs_two_issues_of_one_project(world: World) -> None:
    one = make_issue(world, 1)
    with pytest.raises(ActionError):
        actions.merge([one], None)
    other = make_issue(world, 2, project=world.other_project)
    with pytest.raises(ActionError):
        actions.merge([one, other], None)
    feedback = make_issue(world, 3, category="feedback")
    with pytest.raises(ActionError):
        actions.merge([one, feedback], None)
    with pytest.raises(ActionError):
        actions.merge([feedback, make_issue(world, 4, category="feedback")], None)


# -- unmerge ----------------------------------------------------------------------------------
def test_unmerge_splits_a_fingerprint_off_with_its_events(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    for n in range(3):
        add_event(issue, n, hash_="a" * 32)
    for n in range(3, 5):
        add_event(issue, n, hash_="b" * 32, tags=[["environment", "staging"], ["user", "id:7"]])
    IssueHash.objects.create(project=world.project, hash="a" * 32, issue=issue)
    IssueHash.objects.create(project=world.project, hash="b" * 32, issue=issue)
    page = bob.get(url(issue)).content.decode()
    assert "b" * 32 in page and 'value="unmerge"' in page
    act(bob, issue, action="unmerge", hash="b" * 32)
    new = Issue.objects.exclude(id=issue.id).get(project=world.project)
    issue.refresh_from_db()
    assert (issue.times_seen, new.times_seen) == (3, 2)
    assert (issue.users_seen, new.users_seen) == (3, 1)
    assert IssueHash.objects.get(hash="b" * 32).issue_id == new.id
    assert not IssueTagValue.objects.filter(issue=issue, value="staging").exists()
    assert IssueTagValue.objects.get(issue=new, value="staging").times_seen == 2
    assert (
        sum(IssueCount.objects.filter(issue=new, resolution=60).values_list("count", flat=True))
        == 2
    )
    assert (
        sum(IssueCount.objects.filter(issue=issue, resolution=60).values_list("count", flat=True))
        == 3
    )
    assert new.activities.filter(kind="unmerge_source").exists()
    assert issue.activities.filter(kind="unmerge_destination").exists()
    # The last fingerprint can't be split off.
    with pytest.raises(ActionError):
        actions.unmerge(issue, "a" * 32, None)
    with pytest.raises(ActionError):
        actions.unmerge(issue, "c" * 32, None)


# -- delete -----------------------------------------------------------------------------------
def test_delete_asks_first_then_removes_the_issue_its_events_and_hashes(
    bob: Client, world: World
) -> None:
    issue = make_issue(world, 1)
    add_event(issue, 1, hash_="a" * 32)
    IssueHash.objects.create(project=world.project, hash="a" * 32, issue=issue)
    feedback = UserFeedback.objects.create(
        project=world.project, feedback_id="f" * 32, issue=issue, comments="x", created_at=NOW
    )
    page = bob.get(url(issue, "delete/")).content.decode()
    assert "Delete 1 issue?" in page and "1 event" in page
    assert Issue.objects.filter(id=issue.id).exists()
    response = bob.post(url(issue, "delete/"))
    assert response.status_code == 302 and response["Location"] == BASE
    assert not Issue.objects.filter(id=issue.id).exists()
    assert not Event.objects.exists() and not IssueHash.objects.exists()
    assert not IssueTagValue.objects.exists() and not IssueCount.objects.exists()
    feedback.refresh_from_db()
    assert feedback.issue is None


def test_bulk_delete_shows_a_confirmation_and_deletes_on_confirm(bob: Client, world: World) -> None:
    one, two, keep = make_issue(world, 1), make_issue(world, 2), make_issue(world, 3)
    ids = [str(one.id), str(two.id)]
    response = bob.post(BASE + "bulk/", {"action": "delete", "issue": ids, "next": BASE})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Delete 2 issues?" in page and 'name="confirmed" value="yes"' in page
    assert Issue.objects.count() == 3
    bob.post(BASE + "bulk/", {"action": "delete", "issue": ids, "confirmed": "yes"})
    assert list(Issue.objects.values_list("id", flat=True)) == [keep.id]


# -- bulk triage ------------------------------------------------------------------------------
def test_bulk_assign_bookmark_and_resolve_in_next_release(bob: Client, world: World) -> None:
    one, two = make_issue(world, 1), make_issue(world, 2)
    ids = [str(one.id), str(two.id)]
    bob.post(BASE + "bulk/", {"action": f"assign:user:{world.alice.pk}", "issue": ids})
    assert IssueAssignee.objects.filter(user=world.alice).count() == 2
    bob.post(BASE + "bulk/", {"action": "bookmark", "issue": ids})
    assert IssueBookmark.objects.filter(user=world.bob).count() == 2
    page = bob.get(BASE).content.decode()
    assert "assigned to alice@example.com" in page and "bookmarked" in page
    bob.post(BASE + "bulk/", {"action": "unassign", "issue": ids})
    assert not IssueAssignee.objects.exists()
    bob.post(BASE + "bulk/", {"action": "resolve-in-next-release", "issue": ids})
    assert Resolution.objects.filter(kind=Resolution.Kind.IN_NEXT_RELEASE).count() == 2
    Release.objects.create(organization=world.org, version="api 2.0").projects.add(world.project)
    Release.objects.create(organization=world.org, version="web@1").projects.add(
        world.other_project
    )
    page = bob.get(BASE).content.decode()
    assert 'value="resolve-in-release:api 2.0"' in page and "web@1" not in page
    bob.post(BASE + "bulk/", {"action": "resolve-in-release:web@1", "issue": ids})
    assert not Resolution.objects.filter(release="web@1").exists()
    bob.post(BASE + "bulk/", {"action": "resolve-in-release:api 2.0", "issue": ids})
    assert (
        Resolution.objects.filter(kind=Resolution.Kind.IN_RELEASE, release="api 2.0").count() == 2
    )
    response = bob.post(BASE + "bulk/", {"action": "assign:user:999999", "issue": ids})
    assert response.status_code == 302


def test_archive_until_10_events_from_the_issue_page(bob: Client, world: World) -> None:
    issue = make_issue(world, 1, times_seen=4)
    act(bob, issue, action="archive-10-events")
    issue.refresh_from_db()
    assert issue.status == Status.IGNORED
    assert issue.snooze.count == 10 and issue.snooze.times_seen_at_snooze == 4


@pytest.mark.parametrize("users", [10, 100])
def test_archive_until_more_users_from_the_issue_page_wakes_on_that_many_new_users(
    bob: Client, world: World, users: int
) -> None:
    issue = make_issue(world, 1, users_seen=3)
    page = bob.get(url(issue)).content.decode()
    assert f'value="archive-{users}-users"' in page and f"Until {users} more users" in page
    response = act(bob, issue, action=f"archive-{users}-users")
    assert response.status_code == 302
    issue = Issue.objects.get(pk=issue.pk)
    assert (issue.status, issue.substatus) == (Status.IGNORED, Substatus.UNTIL_CONDITION_MET)
    snooze = issue.snooze
    assert (snooze.user_count, snooze.users_seen_at_snooze) == (users, 3)
    assert snooze.count is None and snooze.until is None and snooze.user_window is None

    def new_event() -> list[str]:
        facts = state.EventFacts(
            timestamp=NOW,
            release="",
            release_dates={},
            events_within=lambda minutes: 0,
            hourly_average_7d=lambda: 0.0,
        )
        return state.on_new_event(issue, facts, None, Snooze.objects.get(issue=issue))

    issue.users_seen = 3 + users - 1
    assert new_event() == [] and issue.status == Status.IGNORED
    issue.users_seen = 3 + users
    assert new_event() == ["set_escalating"]
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.ESCALATING)


def test_priority_from_the_issue_page(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    act(bob, issue, action="priority-low")
    issue.refresh_from_db()
    assert issue.get_priority_display() == "low" and issue.priority_locked_at is not None


# -- access -----------------------------------------------------------------------------------
ISSUE_ACTIONS = [
    {"action": "assign", "assignee": "user:1"},
    {"action": "bookmark"},
    {"action": "subscribe"},
    {"action": "comment", "text": "hi"},
    {"action": "link", "url": "https://x.example/1"},
    {"action": "resolve"},
    {"action": "unmerge", "hash": "a" * 32},
]


def test_another_organizations_user_gets_404_everywhere(client: Client, world: World) -> None:
    issue = make_issue(world, 1)
    add_event(issue, 1, hash_="a" * 32, tags=[["environment", "production"]])
    IssueHash.objects.create(project=world.project, hash="a" * 32, issue=issue)
    IssueHash.objects.create(project=world.project, hash="b" * 32, issue=issue)
    outsider = make_user("eve@umbrella.example")
    umbrella = Organization.get_or_create_named("Umbrella")
    Member.objects.create(organization=umbrella, user=outsider, role=Role.OWNER)
    theirs = make_project(umbrella, "Backend")
    client.force_login(outsider)
    gets = ["", "delete/", "similar/", "tags/environment/"]
    for suffix in gets:
        assert client.get(url(issue, suffix)).status_code == 404, suffix
    for data in ISSUE_ACTIONS:
        assert client.post(url(issue, "act/"), data).status_code == 404, data
    assert client.post(url(issue, "delete/")).status_code == 404
    assert client.get("/acme/issues/").status_code == 404
    assert (
        client.post(BASE + "bulk/", {"action": "delete", "issue": [str(issue.id)]}).status_code
        == 404
    )
    # Their own project, our issue's id or number: nothing found, nothing changed.
    their_base = f"/umbrella/{theirs.slug}/issues/"
    assert client.get(f"{their_base}{issue.number}/").status_code == 404
    assert client.post(f"{their_base}{issue.number}/act/", {"action": "resolve"}).status_code == 404
    for action in ["delete", "merge", "bookmark", f"assign:user:{outsider.pk}"]:
        client.post(
            their_base + "bulk/",
            {"action": action, "confirmed": "yes", "issue": [str(issue.id)]},
        )
    issue.refresh_from_db()
    assert issue.status == Status.UNRESOLVED
    assert not IssueBookmark.objects.exists() and not IssueAssignee.objects.exists()
    assert not Activity.objects.filter(issue=issue).exists()
    assert IssueHash.objects.filter(issue=issue).count() == 2


def test_actions_need_post_and_a_csrf_token(world: World) -> None:
    issue = make_issue(world, 1)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(world.bob)
    assert strict.get(url(issue, "act/")).status_code == 405
    for data in ISSUE_ACTIONS:
        assert strict.post(url(issue, "act/"), data).status_code == 403
    assert strict.post(url(issue, "delete/")).status_code == 403
    assert Issue.objects.filter(id=issue.id).exists()
    assert strict.post(url(issue, "act/")).status_code == 403
    anonymous = Client()
    assert anonymous.post(url(issue, "act/"), {"action": "resolve"}).status_code == 302
    client = Client()
    client.force_login(world.bob)
    assert client.post(url(issue, "act/"), {"action": "explode"}).status_code == 400


# -- tag values -------------------------------------------------------------------------------
def test_all_values_of_a_tag_paginated_with_shares_and_stream_links(
    bob: Client, world: World
) -> None:
    issue = make_issue(world, 1, times_seen=200)
    for n in range(60):
        IssueTagValue.objects.create(
            issue=issue,
            key="url",
            value=f'https://a.example/"{n}"',
            times_seen=60 - n,
            first_seen=NOW,
            last_seen=NOW,
        )
    response = bob.get(url(issue, "tags/url/"))
    assert response.status_code == 200
    values = response.context["values"]
    assert len(values) == 50 and values[0]["times_seen"] == 60 and values[0]["percent"] == 30
    assert (
        values[0]["url"] == "/acme/backend/issues/?query="
        "tags%5Burl%5D%3A%22https%3A%2F%2Fa.example%2F%5C%220%5C%22%22"
    )
    page2 = bob.get(url(issue, "tags/url/") + "?page=2")
    assert len(page2.context["values"]) == 10
    assert bob.get(url(issue, "tags/nothing/")).status_code == 404
    # The link finds the issue.
    other = make_issue(world, 2)
    IssueTagValue.objects.create(
        issue=other,
        key="url",
        value="https://a.example/",
        times_seen=1,
        first_seen=NOW,
        last_seen=NOW,
    )
    stream = bob.get(values[0]["url"])
    assert [row["issue"].id for row in stream.context["rows"]] == [issue.id]


# -- similar issues ---------------------------------------------------------------------------
def test_similar_issues_share_the_exception_type_and_frames_or_title_shape(
    bob: Client, world: World
) -> None:
    issue = make_issue(world, 1, title="ValueError: user 42 not found")
    add_event(issue, 1, body=frames_body("checkout", "pay", "charge"))
    frames = make_issue(world, 2, title="ValueError: something else")
    add_event(frames, 2, body=frames_body("checkout", "pay", "charge", "retry"))
    shape = make_issue(world, 3, title="ValueError: user 7 not found")
    add_event(shape, 3, body=frames_body("login"))
    unrelated = make_issue(world, 4, title="ValueError: nope")
    add_event(unrelated, 4, body=frames_body("login"))
    other_type = make_issue(
        world, 5, title="KeyError: user 42 not found", metadata={"type": "KeyError"}
    )
    add_event(other_type, 5, body=frames_body("checkout", "pay", "charge"))
    found = similar_issues(issue)
    assert [(s.issue.number, s.same_title_shape) for s in found] == [(2, False), (3, True)]
    assert found[0].percent == 75
    page = bob.get(url(issue, "similar/")).content.decode()
    assert "75% in-app frames in common" in page and "same title shape" in page
    assert title_shape("KeyError: 'user_1' at 0xdeadbeef") == title_shape("KeyError: 'x' at 0x1")


# -- the organization's stream ----------------------------------------------------------------
def test_the_organization_stream_lists_every_project_and_filters_by_project(
    bob: Client, world: World
) -> None:
    make_issue(world, 1)
    make_issue(world, 1, project=world.other_project, title="TypeError: frontend", last_seen=NOW)
    response = bob.get("/acme/issues/")
    assert response.status_code == 200
    titles = [row["issue"].title for row in response.context["rows"]]
    assert titles == ["TypeError: frontend", "ValueError: bad input 1"]
    page = response.content.decode()
    assert "/acme/frontend/issues/1/" in page and "/acme/backend/issues/1/" in page
    only = bob.get("/acme/issues/", {"project": "frontend"})
    assert [row["issue"].title for row in only.context["rows"]] == ["TypeError: frontend"]
    searched = bob.get("/acme/issues/", {"query": "TypeError"})
    assert [row["issue"].title for row in searched.context["rows"]] == ["TypeError: frontend"]
    bad = bob.get("/acme/issues/", {"query": '"unclosed'})
    assert bad.context["search_error"] is not None


# -- the issue page's panels ------------------------------------------------------------------
def test_the_issue_page_shows_feedback_activity_and_fingerprints(bob: Client, world: World) -> None:
    issue = make_issue(world, 1)
    IssueHash.objects.create(project=world.project, hash="a" * 32, issue=issue)
    UserFeedback.objects.create(
        project=world.project,
        feedback_id="f" * 32,
        issue=issue,
        name=XSS,
        comments="The page " + XSS,
        created_at=NOW,
    )
    state.resolve(issue, world.alice)
    page = bob.get(url(issue)).content.decode()
    assert "User feedback" in page and "The page &lt;script&gt;" in page
    assert "<script>window" not in page
    assert "marked this issue resolved" in page and "a" * 32 in page
    assert 'value="unmerge"' not in page  # a single fingerprint can't be split off


def test_the_issue_page_marks_the_issue_seen_writing_at_most_every_few_minutes(
    bob: Client, world: World
) -> None:
    from spyglass.issues.models import IssueSeen

    issue = make_issue(world, 1)
    bob.get(url(issue))
    first = IssueSeen.objects.get(issue=issue, user=world.bob).last_seen
    bob.get(url(issue))
    assert IssueSeen.objects.get(issue=issue, user=world.bob).last_seen == first
    IssueSeen.objects.filter(issue=issue).update(last_seen=first - timedelta(minutes=10))
    bob.get(url(issue))
    assert IssueSeen.objects.get(issue=issue, user=world.bob).last_seen > first
    assert not IssueSeen.objects.filter(user=world.alice).exists()
