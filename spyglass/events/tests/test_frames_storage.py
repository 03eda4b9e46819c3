"""Frames texts are stored once per issue (``events_issueframes``) and events name theirs by
id (``events_event.frames_id``, events migration 0010): the digest's upsert, the triggers
that follow deleted and moved events, the migration that moved the per-event texts."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from spyglass.digest import counters
from spyglass.digest.counters import count_frames
from spyglass.events.frames import SEP
from spyglass.events.models import Event
from spyglass.events.query import filter_events
from spyglass.issues import actions
from spyglass.issues.models import Issue
from spyglass.test import World, check_frames_index

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
A = f"{SEP}3handler{SEP}1app/views.py{SEP}"
B = f"{SEP}3worker{SEP}5/usr/lib/libc.so{SEP}"
BEFORE, AFTER = ("events", "0009_issue_frames_index"), ("events", "0010_event_frames_id")


def texts() -> dict[tuple[int, str], int]:
    """{(issue, text): events} of every issue's row."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT issue_id, frames, events FROM events_issueframes")
        return {(issue, text): n for issue, text, n in cursor.fetchall()}


def issue(world: World, number: int) -> Issue:
    return Issue.objects.create(
        project=world.project, number=number, title=f"E{number}", first_seen=NOW, last_seen=NOW
    )


def event(issue: Issue, n: int, text: str, **fields: Any) -> Event:
    """An event stored as the digest stores it: its text counted into its issue's rows."""
    ids = count_frames([(issue.pk, text, NOW)])
    return Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=f"{n:032x}",
        timestamp=NOW - timedelta(minutes=n),
        received_at=NOW,
        title=issue.title,
        frames_id=ids.get((issue.pk, text)),
        body=b"",
        **fields,
    )


def test_one_upsert_returns_every_texts_row_id(world: World, monkeypatch: Any) -> None:
    monkeypatch.setattr(counters, "FRAMES_ROWS", 2)  # three statements for five rows
    one, two = issue(world, 1), issue(world, 2)
    stored = [(one.pk, A, NOW), (one.pk, A, NOW), (one.pk, B, NOW), (two.pk, A, NOW)]
    stored += [(two.pk, B, NOW), (two.pk, "", NOW)]
    ids = count_frames(stored)
    assert sorted(ids) == sorted({(one.pk, A), (one.pk, B), (two.pk, A), (two.pk, B)})
    assert len(set(ids.values())) == 4
    assert texts() == {(one.pk, A): 2, (one.pk, B): 1, (two.pk, A): 1, (two.pk, B): 1}
    again = count_frames([(one.pk, A, NOW)])  # the same row, counted once more
    assert again == {(one.pk, A): ids[(one.pk, A)]}
    assert texts()[(one.pk, A)] == 3
    assert count_frames([(one.pk, B, NOW)], count=False) == {(one.pk, B): ids[(one.pk, B)]}
    assert texts()[(one.pk, B)] == 1


def test_texts_no_event_names_are_deleted(world: World) -> None:
    one, two, three = issue(world, 1), issue(world, 2), issue(world, 3)
    first, second = event(one, 1, A), event(one, 2, A)
    event(one, 3, B)
    event(two, 4, A)
    event(three, 5, B)
    event(three, 6, "")
    assert first.frames_id == second.frames_id
    assert texts() == {(one.pk, A): 2, (one.pk, B): 1, (two.pk, A): 1, (three.pk, B): 1}

    first.delete()  # one of two: the row stays
    assert texts()[(one.pk, A)] == 1
    Event.objects.filter(pk=second.pk).delete()  # the last one: the row goes
    assert (one.pk, A) not in texts()

    # merged: the moved events name the target's rows, the sources' rows go
    target = actions.merge([Issue.objects.get(pk=one.pk), Issue.objects.get(pk=two.pk)], None)
    assert target.pk == one.pk
    assert texts() == {(one.pk, A): 1, (one.pk, B): 1, (three.pk, B): 1}
    rows = {i for (i,) in Event.objects.filter(issue=one).values_list("frames_id")}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM events_issueframes WHERE issue_id = %s", [one.pk])
        assert rows == {i for (i,) in cursor.fetchall()}

    actions.delete([Issue.objects.get(pk=three.pk)])
    assert texts() == {(one.pk, A): 1, (one.pk, B): 1}
    actions.delete([Issue.objects.get(pk=one.pk)])
    assert texts() == {}
    check_frames_index()  # the trigram table follows the rows


def test_event_search_matches_the_events_whose_text_matches(world: World) -> None:
    one = issue(world, 1)
    event(one, 1, A)
    event(one, 2, B)
    event(one, 3, "")

    def found(query: str) -> set[str]:
        rows = filter_events(Event.objects.filter(issue=one), query)
        return {f"{int(e.event_id, 16)}" for e in rows}

    assert found("stack.function:handler") == {"1"}
    assert found("!stack.function:handler") == {"2", "3"}
    assert found("has:stack.package") == {"2"}
    assert found("!has:stack.package") == {"1", "3"}
    assert found("stack.filename:app/*.py") == {"1"}
    assert found("stack.function:nosuch") == set()  # no issue's text has it
    assert found("!stack.function:nosuch") == {"1", "2", "3"}
    assert found("stack.function:handle") == set()  # its trigrams are there, not the value
    assert found("stack.function:[handler, worker]") == {"1", "2"}


@pytest.fixture(autouse=True)
def no_texts(db: None) -> Iterator[None]:
    """No rows left by other transactional tests: a flush empties the models' tables only."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_issueframes")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_issueframes")


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_each_events_text_to_its_issues_row(world: World) -> None:
    one, two = issue(world, 1), issue(world, 2)
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        apps = executor.loader.project_state(BEFORE).apps
        old = apps.get_model("events", "Event")
        for n, (issue_id, text) in enumerate([(one.pk, A), (one.pk, A), (two.pk, A)], 1):
            old.objects.create(
                project_id=world.project.pk,
                issue_id=issue_id,
                event_id=f"{n:032x}",
                timestamp=NOW,
                received_at=NOW,
                title="E",
                frames=text,
                body=b"",
            )
        old.objects.create(
            project_id=world.project.pk,
            issue_id=two.pk,
            event_id=f"{4:032x}",
            timestamp=NOW,
            received_at=NOW,
            title="E",
            body=b"",
        )
        # the digest counted issue one's events (migration 0008); two's row is missing
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_issueframes (issue_id, frames, events, last_seen)"
                " VALUES (%s, %s, 2, %s)",
                [one.pk, A, connection.ops.adapt_datetimefield_value(NOW)],
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())

    assert texts() == {(one.pk, A): 2, (two.pk, A): 1}
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, issue_id FROM events_issueframes")
        row_of = {issue_id: row for row, issue_id in cursor.fetchall()}
    named = dict(Event.objects.values_list("event_id", "frames_id"))
    assert named == {
        f"{1:032x}": row_of[one.pk],
        f"{2:032x}": row_of[one.pk],
        f"{3:032x}": row_of[two.pk],
        f"{4:032x}": None,
    }
    columns = {
        c.name
        for c in connection.introspection.get_table_description(connection.cursor(), "events_event")
    }
    assert "frames" not in columns
    assert "frames_id" in columns

    # the triggers of migrations 0005, 0006 and 0010 are all there, and work
    if connection.vendor == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s"
    else:
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = %s::regclass"
    with connection.cursor() as cursor:
        cursor.execute(sql, ["events_event"])
        triggers = {name for (name,) in cursor.fetchall()}
    expected = {"events_issueframes_remove", "events_issueframes_move"}
    if connection.vendor == "sqlite":
        expected |= {
            "events_issueframes_refer",
            "events_event_fts_insert",
            "events_event_fts_delete",
            "events_event_fts_update",
            "events_issuemessage_add",
            "events_issuemessage_remove",
            "events_issuemessage_move",
        }
    else:
        expected |= {"events_issuemessage_sync"}
    assert expected <= triggers

    Event.objects.filter(event_id=f"{3:032x}").update(issue=one)  # moved
    assert texts() == {(one.pk, A): 3}
    assert Event.objects.get(event_id=f"{3:032x}").frames_id == row_of[one.pk]
    assert {e.issue_id for e in filter_events(Event.objects.all(), "message:E")} == {
        one.pk,
        two.pk,
    }  # the events' own search text (0005) still follows them
    Event.objects.filter(issue=one).delete()
    assert texts() == {}
    check_frames_index()  # the trigram table follows the rows
