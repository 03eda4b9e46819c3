"""Issue search's triage keys (`is:assigned|unassigned|bookmarked|linked|unlinked`,
`assigned:`, `assigned_or_suggested:`, `bookmarks:`, `subscribed:`) on the seeded issues of
`test_search.py`, with assignees, bookmarks, subscriptions and links: a table of queries, who
searches, and the issues each finds. (The language's other keys: `test_search.py`'s table.)"""

from __future__ import annotations

import pytest

from spyglass.accounts.models import User
from spyglass.issues.models import (
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueLink,
    IssueSubscription,
)
from spyglass.issues.search import issue_queryset
from spyglass.issues.tests.test_search import LABELS, NOW, SEEDS, TABLE, seed_issues
from spyglass.projects.models import Member, Team
from spyglass.search import Scope, parse
from spyglass.test import World

pytestmark = pytest.mark.django_db

ALL = set(LABELS)
ASSIGNED = {"db", "zero", "cron"}

# (query, who searches, the labels it finds)
TRIAGE: list[tuple[str, str, set[str]]] = [
    ("is:assigned", "alice", ASSIGNED),
    ("is:unassigned", "alice", ALL - ASSIGNED),
    ("!is:assigned", "alice", ALL - ASSIGNED),
    ("is:unresolved is:unassigned", "alice", {"keyerror", "cache", "typeerror", "nplus1"}),
    ("assigned:me", "alice", {"db"}),
    ("assigned:me", "bob", {"cron"}),
    ("assigned:me", "charlie", set()),
    ("assigned_to:me", "alice", {"db"}),
    ("!assigned:me", "alice", ALL - {"db"}),
    ("assigned:my_teams", "bob", {"zero"}),
    ("assigned:my_teams", "alice", set()),
    ("assigned:[me, my_teams]", "bob", {"zero", "cron"}),
    ("assigned:#backend", "alice", {"zero"}),
    ("assigned:#BACKEND", "alice", {"zero"}),
    ("assigned:#frontend", "alice", set()),
    ("assigned:alice@example.com", "bob", {"db"}),
    ("assigned:ALICE@example.com", "bob", {"db"}),
    ("assigned:Bob", "alice", {"cron"}),
    ("assigned:nobody@example.com", "alice", set()),
    ("assigned:none", "alice", ALL - ASSIGNED),
    ("assigned:[none, me]", "alice", (ALL - ASSIGNED) | {"db"}),
    ("assigned_or_suggested:#backend", "alice", {"zero"}),
    ("assigned:me OR assigned:#backend", "alice", {"db", "zero"}),
    ("bookmarks:me", "alice", {"keyerror", "db"}),
    ("bookmarks:me", "bob", {"typeerror"}),
    ("bookmarks:alice@example.com", "bob", {"keyerror", "db"}),
    ("is:bookmarked", "alice", {"keyerror", "db"}),
    ("is:bookmarked", "charlie", set()),
    ("is:[new, bookmarked]", "alice", {"db", "typeerror", "keyerror"}),
    ("!is:bookmarked level:error", "alice", {"zero", "typeerror", "chunk", "cron"}),
    ("subscribed:me", "alice", {"keyerror"}),
    ("subscribed:me", "bob", set()),  # bob unsubscribed
    ("is:linked", "alice", {"timeout"}),
    ("is:unlinked", "alice", ALL - {"timeout"}),
    ("is:linked OR is:bookmarked", "bob", {"timeout", "typeerror"}),
    ("is:unresolved assigned:none level:error", "alice", {"keyerror", "typeerror"}),
]


def _triage(world: World) -> None:
    by_label = {seed.label: Issue.objects.get(title=seed.title) for seed in SEEDS}
    team = Team.objects.create(organization=world.org, name="Backend", slug="backend")
    Member.objects.get(user=world.bob).teams.add(team)
    world.bob.name = "Bob"
    world.bob.save(update_fields=["name"])
    IssueAssignee.objects.create(issue=by_label["db"], user=world.alice)
    IssueAssignee.objects.create(issue=by_label["zero"], team=team)
    IssueAssignee.objects.create(issue=by_label["cron"], user=world.bob)
    for label, user in [("keyerror", world.alice), ("db", world.alice), ("typeerror", world.bob)]:
        IssueBookmark.objects.create(issue=by_label[label], user=user)
    IssueSubscription.objects.create(issue=by_label["keyerror"], user=world.alice)
    IssueSubscription.objects.create(issue=by_label["keyerror"], user=world.bob, is_active=False)
    IssueLink.objects.create(issue=by_label["timeout"], url="https://tracker.example.com/1")


@pytest.fixture
def triaged(world: World) -> World:
    seed_issues(world)
    _triage(world)
    return world


def _found(world: World, query: str, user: User) -> set[str]:
    ast = parse(query, now=NOW, scope=Scope.ISSUE)
    projects = [world.project.id, world.other_project.id]
    by_title = {seed.title: seed.label for seed in SEEDS}
    rows = issue_queryset(ast, project_ids=projects, user=user, now=NOW)
    return {by_title[title] for title in rows.values_list("title", flat=True)}


@pytest.mark.parametrize(
    ("query", "who", "expected"), TRIAGE, ids=[f"{q} ({w})" for q, w, _ in TRIAGE]
)
def test_triage_keys(triaged: World, query: str, who: str, expected: set[str]) -> None:
    user = getattr(triaged, who)
    assert _found(triaged, query, user) == expected


def test_with_the_language_table_there_are_more_than_100_queries() -> None:
    assert len(TABLE) + len(TRIAGE) >= 100


def test_without_a_user_me_matches_nothing(triaged: World) -> None:
    ast = parse("assigned:me OR bookmarks:me OR is:bookmarked", now=NOW, scope=Scope.ISSUE)
    rows = issue_queryset(ast, project_ids=[triaged.project.id], user=None, now=NOW)
    assert list(rows) == []


def test_another_organizations_team_is_not_searched(triaged: World) -> None:
    from spyglass.projects.models import Organization

    other = Organization.get_or_create_named("Globex")
    Team.objects.create(organization=other, name="Backend", slug="backend-2")
    assert _found(triaged, "assigned:#backend-2", triaged.alice) == set()
