"""User feedback as Sentry files it: each ``feedback`` item is an issue of its own (category
feedback, never grouped); a legacy ``user_report`` only joins the issue of its event."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.digest.tests.test_items import CAPTURED, contexts, item, outcomes, run, stored_event
from spyglass.feedback.models import UserFeedback
from spyglass.issues.models import Category, Issue, Priority, Status, Substatus
from spyglass.test import World

pytestmark = pytest.mark.django_db


def feedback(event_id: str, message: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "timestamp": CAPTURED.timestamp(),
        "level": "info",
        "platform": "javascript",
        "release": "web@2.0.0",
        "contexts": {"feedback": {"message": message, **fields}},
    }


def test_node_feedback_gets_an_issue_of_its_own_and_keeps_the_issue_of_its_event(
    world: World,
) -> None:
    event = stored_event(world, "f0a2e69a266f4d02a96b663e97ad91c6")
    run(contexts(world, "node/feedback", only="feedback"))
    row = UserFeedback.objects.get()
    assert row.issue_id == event.issue_id  # what it is about
    issue = row.feedback_issue
    assert issue is not None and issue.id != event.issue_id
    assert (issue.category, issue.type, issue.title) == (
        Category.FEEDBACK,
        "feedback",
        "User Feedback",
    )
    assert issue.metadata == {
        "title": "User Feedback",
        "value": "The checkout button does nothing",
        "message": "The checkout button does nothing",
        "name": "Alice",
        "contact_email": "alice@example.com",
        "source": "new_feedback_envelope",
        "associated_event_id": event.event_id,
    }
    assert issue.culprit == "https://shop.example.invalid/cart"
    assert (issue.status, issue.substatus, issue.priority) == (
        Status.UNRESOLVED,
        Substatus.NEW,
        Priority.MEDIUM,
    )
    assert (issue.times_seen, issue.users_seen, issue.level) == (1, 1, "info")
    assert issue.first_seen == issue.last_seen == row.created_at
    assert issue.number == 2  # after the event's issue: short ids never repeat
    assert issue.own_feedback == row


def test_each_feedback_is_its_own_issue_even_with_the_same_words(world: World) -> None:
    batch = run(
        [
            item(world, "feedback", feedback("a" * 32, "Love it")),
            item(world, "feedback", feedback("b" * 32, "Love it")),
        ]
    )
    issues = Issue.objects.filter(category=Category.FEEDBACK).order_by("number")
    assert [i.number for i in issues] == [1, 2]
    assert [i.platform for i in issues] == ["javascript", "javascript"]
    assert [i.first_release for i in issues] == ["web@2.0.0", "web@2.0.0"]
    assert issues[0].users_seen == 0  # anonymous feedback counts no user
    assert sorted(UserFeedback.objects.values_list("feedback_id", "feedback_issue__number")) == [
        ("a" * 32, 1),
        ("b" * 32, 2),
    ]
    assert outcomes(batch) == {("user_report_v2", "accepted", ""): 2}


def test_a_feedback_sent_again_keeps_its_one_issue(world: World) -> None:
    # An SDK that resends (a new queue row, so the ledger does not know it), or a repeat in
    # one batch.
    first = feedback("a" * 32, "Slow page")
    run([item(world, "feedback", first), item(world, "feedback", first)])
    run([item(world, "feedback", {**first, "contexts": {"feedback": {"message": "Very slow"}}})])
    row = UserFeedback.objects.get()
    assert row.comments == "Very slow"
    assert Issue.objects.get() == row.feedback_issue


def test_feedback_in_several_projects_numbers_each_projects_issues(world: World) -> None:
    other = item(world, "feedback", feedback("b" * 32, "Hi"))
    other.project_id = world.other_project.id
    run([item(world, "feedback", feedback("a" * 32, "Hi")), other])
    assert sorted(Issue.objects.values_list("project_id", "number")) == sorted(
        [(world.project.id, 1), (world.other_project.id, 1)]
    )


def test_a_user_report_joins_its_events_issue_and_opens_none(world: World) -> None:
    event = stored_event(world, "c" * 32)
    report = {"event_id": "c" * 32, "name": "Bob", "comments": "It broke"}
    run([item(world, "user_report", report)])
    row = UserFeedback.objects.get()
    assert (row.issue_id, row.feedback_issue) == (event.issue_id, None)
    assert Issue.objects.count() == 1


def test_deleting_a_feedback_issue_deletes_its_feedback(world: World) -> None:
    run([item(world, "feedback", feedback("a" * 32, "Bye"))])
    Issue.objects.get().delete()
    assert not UserFeedback.objects.exists()
