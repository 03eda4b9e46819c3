from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from spyglass.digest.store import store_events
from spyglass.digest.types import ProcessedEvent
from spyglass.events.bodies import read_body
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.issues import state
from spyglass.issues.models import Activity, Issue, IssueHash, Resolution, Status, Substatus
from spyglass.releases.models import Release
from spyglass.test import World

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 22, 12, 0, 30, tzinfo=UTC)
HASH_A, HASH_B, HASH_C = "a" * 32, "b" * 32, "c" * 32


def processed(world: World, n: int = 1, **fields: Any) -> ProcessedEvent:
    event = ProcessedEvent(
        project_id=world.project.id,
        event_id=f"{n:032x}",
        event={"event_id": f"{n:032x}", "message": "boom", "level": "error"},
        timestamp=T0,
        received_at=T0,
        type="error",
        title="ZeroDivisionError: division by zero",
        culprit="app.views in divide",
        metadata={"type": "ZeroDivisionError", "value": "division by zero"},
        level="error",
        platform="python",
        release="",
        environment="production",
        dist="",
        transaction="/divide",
        message="",
        trace_id="",
        user_key=f"id:{n}",
        sdk_name="sentry.python",
        sdk_version="2.75.0",
        logger="",
        tags=[("level", "error"), ("environment", "production"), ("user", f"id:{n}")],
        grouping_config="newstyle:2023-01-11",
        hashes=[HASH_A],
    )
    return replace(event, **fields)


def store(*events: ProcessedEvent, now: datetime = T0) -> Any:
    return store_events(list(events), now)


def test_a_new_hash_creates_an_issue_with_the_events_title_and_first_number(
    world: World,
) -> None:
    result = store(processed(world))
    issue = Issue.objects.get()
    assert result.new_issues == [issue.id]
    assert (issue.number, issue.short_id) == (1, "BACKEND-1")
    assert issue.title == "ZeroDivisionError: division by zero"
    assert issue.culprit == "app.views in divide"
    assert (issue.first_seen, issue.last_seen, issue.times_seen) == (T0, T0, 1)
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.NEW)
    assert IssueHash.objects.get().hash == HASH_A
    event = Event.objects.get()
    body = read_body(event.body)
    assert body["event_id"] == event.event_id == f"{1:032x}"
    assert (event.issue_id, event.environment, event.user_key) == (issue.id, "production", "id:1")


def test_the_same_hash_adds_to_the_issue_and_takes_the_latest_title(world: World) -> None:
    store(processed(world, 1))
    later = T0 + timedelta(minutes=5)
    store(processed(world, 2, timestamp=later, title="ZeroDivisionError: float division"))
    issue = Issue.objects.get()
    assert (issue.times_seen, issue.last_seen, issue.first_seen) == (2, later, T0)
    assert issue.title == "ZeroDivisionError: float division"
    assert Event.objects.filter(issue=issue).count() == 2


def test_any_known_hash_of_the_event_finds_its_issue(world: World) -> None:
    store(processed(world, 1, hashes=[HASH_B]))
    store(processed(world, 2, hashes=[HASH_A, HASH_B]))
    assert Issue.objects.count() == 1
    assert set(IssueHash.objects.values_list("hash", flat=True)) == {HASH_A, HASH_B}


def test_different_hashes_make_different_issues_numbered_in_order(world: World) -> None:
    store(processed(world, 1, hashes=[HASH_A]), processed(world, 2, hashes=[HASH_C]))
    assert list(Issue.objects.order_by("number").values_list("number", flat=True)) == [1, 2]


def test_an_event_delivered_twice_is_stored_once(world: World) -> None:
    first = store(processed(world, 1), processed(world, 1))
    second = store(processed(world, 1))
    assert (first.duplicates, second.duplicates) == (1, 1)
    assert Event.objects.count() == 1
    assert Issue.objects.get().times_seen == 1


def test_tag_values_users_and_time_buckets_are_counted(world: World) -> None:
    store(
        processed(world, 1),
        processed(world, 2),
        processed(world, 3, user_key="id:1", tags=[("user", "id:1")]),
    )
    issue = Issue.objects.get()
    users = dict(
        IssueTagValue.objects.filter(issue=issue, key="user").values_list("value", "times_seen")
    )
    assert users == {"id:1": 2, "id:2": 1}
    assert issue.users_seen == 2
    counts = dict(IssueCount.objects.filter(issue=issue).values_list("resolution", "count"))
    assert counts == {60: 3, 3600: 3}
    minute = IssueCount.objects.get(issue=issue, resolution=60)
    assert minute.bucket == int(T0.timestamp()) - 30


def test_an_event_for_a_resolved_issue_regresses_it(world: World) -> None:
    store(processed(world, 1))
    issue = Issue.objects.get()
    state.resolve(issue)
    result = store(processed(world, 2, timestamp=T0 + timedelta(hours=1)))
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.REGRESSED)
    assert result.state_changes == [(issue.id, "set_regression")]
    assert Activity.objects.filter(issue=issue, kind="set_regression").exists()


def test_resolved_in_next_release_stays_resolved_for_old_releases_and_regresses_on_new(
    world: World,
) -> None:
    store(processed(world, 1, release="api@1.0.0"))
    issue = Issue.objects.get()
    state.resolve_in_next_release(issue)
    store(processed(world, 2, release="api@1.0.0", timestamp=T0 + timedelta(minutes=1)))
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    store(processed(world, 3, release="api@1.1.0", timestamp=T0 + timedelta(minutes=2)))
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.REGRESSED)
    assert not Resolution.objects.filter(issue=issue).exists()


def test_releases_named_by_events_are_created_for_the_project(world: World) -> None:
    store(processed(world, 1, release="api@2.0.0"))
    release = Release.objects.get()
    assert release.version == "api@2.0.0"
    assert list(release.projects.values_list("id", flat=True)) == [world.project.id]
    assert Issue.objects.get().first_release == "api@2.0.0"


@pytest.mark.django_db(transaction=True)
def test_a_release_of_a_batch_that_rolled_back_is_created_by_the_next_batch(
    world: World,
) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        store(processed(world, 1, release="api@3.0.0"))
        raise RuntimeError("the batch fails after storing")
    assert not Release.objects.exists()
    store(processed(world, 2, release="api@3.0.0"))
    release = Release.objects.get()
    assert list(release.projects.values_list("id", flat=True)) == [world.project.id]


@pytest.mark.django_db(transaction=True)
def test_a_committed_release_is_trusted_for_a_while_without_asking_the_database(
    world: World,
) -> None:
    store(processed(world, 1, release="api@4.0.0"))
    with CaptureQueriesContext(connection) as queries:
        store(processed(world, 2, release="api@4.0.0"))
    assert not [q for q in queries.captured_queries if "releases_release" in q["sql"]]
