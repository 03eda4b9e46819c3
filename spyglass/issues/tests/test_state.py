from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from spyglass.issues import state
from spyglass.issues.models import (
    Activity,
    Issue,
    Priority,
    Resolution,
    Snooze,
    Status,
    Substatus,
    base32,
)
from spyglass.releases.models import Release
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def make_issue(world: World, **fields: object) -> Issue:
    defaults: dict[str, object] = {
        "project": world.project,
        "number": Issue.objects.count() + 1,
        "title": "ZeroDivisionError: division by zero",
        "first_seen": NOW - timedelta(days=1),
        "last_seen": NOW - timedelta(hours=1),
        "times_seen": 5,
        "active_at": NOW - timedelta(days=1),
    }
    defaults.update(fields)
    return Issue.objects.create(**defaults)


def facts(
    release: str = "", *, within: int = 0, average: float = 0.0, when: datetime = NOW
) -> state.EventFacts:
    return state.EventFacts(
        timestamp=when,
        release=release,
        release_dates={},
        events_within=lambda minutes: within,
        hourly_average_7d=lambda: average,
    )


def new_event(issue: Issue, event: state.EventFacts) -> list[str]:
    resolution = Resolution.objects.filter(issue=issue).first()
    snooze = Snooze.objects.filter(issue=issue).first()
    return state.on_new_event(issue, event, resolution, snooze)


def add_release(world: World, version: str) -> None:
    Release.objects.create(organization=world.org, version=version).projects.add(world.project)


def test_short_ids_use_crockfords_base32_like_sentry() -> None:
    assert [base32(n) for n in (1, 31, 32, 1000)] == ["1", "Z", "10", "Z8"]


def test_a_new_issues_priority_follows_its_level() -> None:
    assert state.initial_priority("fatal") == Priority.HIGH
    assert state.initial_priority("error") == Priority.HIGH
    assert state.initial_priority("warning") == Priority.MEDIUM
    assert state.initial_priority("info") == Priority.LOW


def test_an_event_regresses_a_plainly_resolved_issue(world: World) -> None:
    issue = make_issue(world, priority=Priority.MEDIUM)
    state.resolve(issue)
    assert issue.status == Status.RESOLVED
    assert new_event(issue, facts("api@1.0.0")) == ["set_regression"]
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.REGRESSED)
    assert issue.priority == Priority.HIGH  # regressions bump the priority one step
    assert issue.active_at == NOW


def test_resolved_in_next_release_ignores_events_from_that_release_and_older(
    world: World,
) -> None:
    add_release(world, "api@1.0.0")
    add_release(world, "api@0.9.0")
    issue = make_issue(world)
    state.resolve_in_next_release(issue)
    assert Resolution.objects.get(issue=issue).release == "api@1.0.0"
    for release in ("api@1.0.0", "api@0.9.0", ""):
        assert new_event(issue, facts(release)) == []
        assert issue.status == Status.RESOLVED
    assert new_event(issue, facts("api@1.1.0")) == ["set_regression"]
    assert issue.substatus == Substatus.REGRESSED


def test_resolved_in_release_x_regresses_on_x_and_newer_but_not_older(world: World) -> None:
    issue = make_issue(world)
    state.resolve_in_release(issue, "api@2.0.0")
    assert new_event(issue, facts("api@1.9.0")) == []
    assert new_event(issue, facts("api@2.0.0")) == ["set_regression"]
    state.resolve_in_release(issue, "api@2.0.0")
    assert new_event(issue, facts("api@2.1.0")) == ["set_regression"]


def test_archived_forever_stays_archived(world: World) -> None:
    issue = make_issue(world)
    state.archive(issue, state.ArchiveCondition(forever=True))
    assert new_event(issue, facts(within=10_000, average=1)) == []
    assert (issue.status, issue.substatus) == (Status.IGNORED, Substatus.FOREVER)


def test_archived_until_escalating_wakes_on_ten_times_the_usual_volume(world: World) -> None:
    issue = make_issue(world, priority=Priority.LOW)
    state.archive(issue, state.ArchiveCondition())
    assert issue.substatus == Substatus.UNTIL_ESCALATING
    assert new_event(issue, facts(within=29, average=3.0)) == []
    assert new_event(issue, facts(within=30, average=3.0)) == ["set_escalating"]
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.ESCALATING)
    assert issue.priority == Priority.MEDIUM


def test_archived_until_n_more_events_counts_from_the_archive(world: World) -> None:
    issue = make_issue(world, times_seen=5)
    state.archive(issue, state.ArchiveCondition(count=3))
    issue.times_seen = 7
    assert new_event(issue, facts()) == []
    issue.times_seen = 8
    assert new_event(issue, facts()) == ["set_escalating"]


def test_archived_until_n_events_in_a_window_uses_the_window(world: World) -> None:
    issue = make_issue(world)
    state.archive(issue, state.ArchiveCondition(count=100, window=60))
    assert new_event(issue, facts(within=99)) == []
    assert new_event(issue, facts(within=100)) == ["set_escalating"]


def test_archived_for_a_duration_reopens_after_it(world: World) -> None:
    issue = make_issue(world)
    state.archive(issue, state.ArchiveCondition(until=NOW + timedelta(hours=1)))
    assert new_event(issue, facts(when=NOW + timedelta(minutes=59))) == []
    assert new_event(issue, facts(when=NOW + timedelta(hours=1))) == ["set_unresolved"]
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.ONGOING)


def test_archived_until_n_more_users_counts_users(world: World) -> None:
    issue = make_issue(world, users_seen=4)
    state.archive(issue, state.ArchiveCondition(user_count=2))
    issue.users_seen = 5
    assert new_event(issue, facts()) == []
    issue.users_seen = 6
    assert new_event(issue, facts()) == ["set_escalating"]


def test_a_person_setting_the_priority_stops_automatic_changes(world: World) -> None:
    issue = make_issue(world, priority=Priority.LOW)
    state.set_priority(issue, Priority.LOW)
    state.resolve(issue)
    new_event(issue, facts())
    assert issue.priority == Priority.LOW


def test_each_action_is_recorded_as_activity(world: World) -> None:
    issue = make_issue(world)
    state.resolve(issue, world.alice)
    state.reopen(issue, world.alice)
    state.archive(issue, state.ArchiveCondition(forever=True))
    kinds = list(Activity.objects.filter(issue=issue).order_by("id").values_list("kind", flat=True))
    assert kinds == ["set_resolved", "set_unresolved", "set_ignored"]


def test_new_issues_become_ongoing_after_seven_days(world: World) -> None:
    fresh = make_issue(world, substatus=Substatus.NEW, active_at=NOW - timedelta(days=6))
    old = make_issue(world, substatus=Substatus.NEW, active_at=NOW - timedelta(days=8))
    assert state.mark_ongoing(NOW) == 1
    fresh.refresh_from_db()
    old.refresh_from_db()
    assert (fresh.substatus, old.substatus) == (Substatus.NEW, Substatus.ONGOING)


def test_auto_resolve_resolves_issues_quiet_for_the_age(world: World) -> None:
    quiet = make_issue(world, last_seen=NOW - timedelta(hours=25))
    busy = make_issue(world, last_seen=NOW - timedelta(hours=1))
    with time_machine.travel(NOW, tick=False):
        assert state.auto_resolve(world.project.id, timedelta(hours=24)) == 1
    quiet.refresh_from_db()
    busy.refresh_from_db()
    assert (quiet.status, busy.status) == (Status.RESOLVED, Status.UNRESOLVED)
    assert Activity.objects.filter(issue=quiet, kind="set_resolved_by_age").exists()


def test_the_scheduler_auto_resolves_only_projects_that_ask_for_it(world: World) -> None:
    from spyglass.core.scheduler import auto_resolve_issues

    quiet = make_issue(world, last_seen=NOW - timedelta(hours=50))
    other = make_issue(world, project=world.other_project, last_seen=NOW - timedelta(hours=50))
    world.project.resolve_age_hours = 48
    world.project.save()
    with time_machine.travel(NOW, tick=False):
        auto_resolve_issues()
    quiet.refresh_from_db()
    other.refresh_from_db()
    assert (quiet.status, other.status) == (Status.RESOLVED, Status.UNRESOLVED)
