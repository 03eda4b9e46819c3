"""The issue page's queries rewritten for the 300 ms budget (bench/web_pages.py) keep their
answers: event navigation across events that share a timestamp, and the stored events of
each fingerprint."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count
from django.test import Client

from spyglass.events.models import Event
from spyglass.issues.models import IssueHash
from spyglass.issues.tests.test_issue_page import NOW, PAGE, body, make_event, make_issue
from spyglass.test import World

pytestmark = pytest.mark.django_db


def test_older_and_newer_walk_events_that_share_a_timestamp_by_id(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project)
    ids = ["1" * 32, "2" * 32, "3" * 32, "4" * 32, "5" * 32]
    times = [NOW - timedelta(minutes=1), NOW, NOW, NOW, NOW + timedelta(minutes=1)]
    for event_id, at in zip(ids, times, strict=True):
        make_event(issue, event_id, at, body(event_id=event_id))
    client.force_login(world.bob)
    walked = []
    response = client.get(PAGE)
    while True:
        walked.append(response.context["event"].event_id)
        older = response.context["nav"]["older"]
        if older is None:
            break
        response = client.get(PAGE + "?event=" + older)
    assert walked == ids[::-1]
    middle = client.get(PAGE + "?event=" + "3" * 32).context["nav"]
    assert middle == {"older": "2" * 32, "newer": "4" * 32, "oldest": "1" * 32}


def test_fingerprints_show_their_stored_events(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    for n in range(3):
        event = make_event(issue, f"{n:032x}", NOW + timedelta(minutes=n), body())
        Event.objects.filter(pk=event.pk).update(primary_hash="a" * 32)
    IssueHash.objects.create(project=world.project, hash="a" * 32, issue=issue)
    client.force_login(world.bob)
    hashes = client.get(PAGE).context["hashes"]
    assert [(h["hash"], h["events"]) for h in hashes] == [("a" * 32, 3)]

    # merged: each fingerprint with the events whose primary hash it is
    Event.objects.filter(event_id=f"{0:032x}").update(primary_hash="b" * 32)
    IssueHash.objects.create(project=world.project, hash="b" * 32, issue=issue)
    hashes = client.get(PAGE).context["hashes"]
    assert sorted((h["hash"], h["events"]) for h in hashes) == [("a" * 32, 2), ("b" * 32, 1)]


def test_an_issue_without_fingerprints_lists_none(client: Client, world: World) -> None:
    make_event(make_issue(world.project), "a" * 32, NOW, body())
    client.force_login(world.bob)
    assert client.get(PAGE).context["hashes"] == []


def test_the_merged_fingerprint_counts_read_an_issue_and_hash_index() -> None:
    """A merged issue's per-fingerprint counts group its events by primary hash: the
    (issue_id, primary_hash) index serves that without reading the event rows."""
    from django.db import connection

    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Event._meta.db_table)
    indexed = [c["columns"] for c in constraints.values() if c["index"]]
    assert ["issue_id", "primary_hash"] in indexed
    if connection.vendor == "sqlite":
        sql, params = (
            Event.objects.filter(issue_id=1)
            .values_list("primary_hash")
            .annotate(n=Count("id"))
            .values_list("primary_hash", "n")
            .query.sql_with_params()
        )
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "COVERING INDEX event_issue_hash" in plan and "TEMP B-TREE" not in plan
