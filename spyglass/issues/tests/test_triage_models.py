from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from spyglass.issues import state
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueSubscription,
)
from spyglass.issues.signals import issue_activity, record
from spyglass.projects.models import Team
from spyglass.test import World

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_issue(world: World) -> Issue:
    return Issue.objects.create(
        project=world.project, number=1, title="E", first_seen=NOW, last_seen=NOW
    )


@pytest.mark.django_db
def test_assignee_is_a_user_or_a_team_never_both_nor_none(world: World) -> None:
    issue = make_issue(world)
    team = Team.objects.create(organization=world.org, name="Core", slug="core")
    for fields in ({}, {"user": world.bob, "team": team}):
        with pytest.raises(IntegrityError), transaction.atomic():
            IssueAssignee.objects.create(issue=issue, **fields)
    IssueAssignee.objects.create(issue=issue, team=team)
    assert issue.assignee.team == team


@pytest.mark.django_db
def test_one_bookmark_and_one_subscription_per_user(world: World) -> None:
    issue = make_issue(world)
    IssueBookmark.objects.create(issue=issue, user=world.bob)
    IssueSubscription.objects.create(issue=issue, user=world.bob, reason="bookmarked")
    with pytest.raises(IntegrityError), transaction.atomic():
        IssueBookmark.objects.create(issue=issue, user=world.bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        IssueSubscription.objects.create(issue=issue, user=world.bob)


@pytest.mark.django_db(transaction=True)
def test_activity_signal_is_sent_after_commit_only(world: World) -> None:
    issue = make_issue(world)
    seen: list[Activity] = []

    def receiver(sender: object, activity: Activity, **_: object) -> None:
        seen.append(activity)

    issue_activity.connect(receiver)
    try:
        with transaction.atomic():
            state.resolve(issue, world.alice)
            assert seen == []  # not before the commit
        assert [a.kind for a in seen] == ["set_resolved"]
        with pytest.raises(RuntimeError), transaction.atomic():
            record(issue, "note", world.alice, text="rolled back")
            raise RuntimeError
        assert len(seen) == 1  # a rolled-back activity is never announced
        # An activity created directly (as the digest does) is announced too.
        Activity.objects.create(issue=issue, kind="set_regression")
        assert [a.kind for a in seen] == ["set_resolved", "set_regression"]
    finally:
        issue_activity.disconnect(receiver)
