"""Workflow email: assignment, regression and comments reach the right people, by their
preferences, over real SMTP."""

from __future__ import annotations

from typing import Any

from django.test import override_settings

from spyglass.issues import actions, signals
from spyglass.issues.actions import Assignee
from spyglass.issues.models import Issue
from spyglass.notifications import outbox
from spyglass.notifications.models import Delivery, NotificationPreference
from spyglass.notifications.tests.factories import make_issue
from spyglass.notifications.tests.receivers import smtp_receiver
from spyglass.projects.models import Member, Team
from spyglass.test import World, make_user


def recipients() -> list[str]:
    return sorted(Delivery.objects.values_list("user__email", flat=True))


def test_assignment_emails_the_assignee_over_smtp(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    issue = make_issue(world.project)
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(issue, Assignee(user=world.bob), world.alice)
    assert recipients() == ["bob@example.com"]
    with (
        smtp_receiver() as smtp,
        override_settings(
            EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST=smtp.host,
            EMAIL_PORT=smtp.port,
        ),
    ):
        outbox.run_once("test", 10)
    [(_, to, message)] = smtp.messages
    assert to == ["bob@example.com"]
    assert message["Subject"] == f"[backend] {issue.short_id} was assigned to you"
    part = message.get_body(("plain",))
    assert part is not None
    text = part.get_content()
    assert f"alice@example.com assigned {issue.title} to you." in text
    assert f"http://127.0.0.1:8000/acme/backend/issues/{issue.number}/" in text


def test_assigning_yourself_sends_nothing_and_preferences_are_kept(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    issue = make_issue(world.project)
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(issue, Assignee(user=world.alice), world.alice)
    assert recipients() == []
    NotificationPreference.objects.create(user=world.bob, assigned=False)
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(issue, Assignee(user=world.bob), world.alice)
    assert recipients() == []


def test_team_assignment_emails_the_teams_members(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    issue = make_issue(world.project)
    team = Team.objects.create(organization=world.org, name="Payments", slug="payments")
    world.project.teams.add(team)
    Member.objects.get(user=world.bob).teams.add(team)
    with django_capture_on_commit_callbacks(execute=True):
        actions.assign(issue, Assignee(team=team), world.alice)
    assert recipients() == ["bob@example.com"]


def test_comments_reach_followers_but_not_the_author(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    issue = make_issue(world.project)
    dave = make_user("dave@example.com")
    Member.objects.create(organization=world.org, user=dave)
    actions.subscribe(issue, world.bob)
    actions.subscribe(issue, dave)
    actions.subscribe(issue, world.charlie)  # not a member of the organization
    with django_capture_on_commit_callbacks(execute=True):
        actions.comment(issue, world.bob, "Looking into it")
    assert recipients() == ["dave@example.com"]
    delivery = Delivery.objects.filter(user=dave).get()
    assert delivery.notification["title"] == f"New comment on {issue.short_id}"
    assert delivery.notification["text"] == "bob@example.com wrote: Looking into it"


def test_regressions_reach_followers_who_want_them(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    issue = make_issue(world.project)
    actions.subscribe(issue, world.alice)
    actions.subscribe(issue, world.bob)
    NotificationPreference.objects.create(user=world.alice, regression=False)
    with django_capture_on_commit_callbacks(execute=True):
        signals.record(Issue.objects.get(pk=issue.pk), "set_regression", None, version="1.3")
    assert recipients() == ["bob@example.com"]
    assert Delivery.objects.get().notification["title"].startswith("Regression: ")
