"""Free text in issue search reads each issue's distinct event messages (events migration
0006), kept by triggers on the events: an insert adds or counts a message, a delete uncounts
it and drops it with its last event, a merge moves it, and a period reads the newest event's
time. Event search (an issue's events list) still reads the events themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection

from spyglass.api.tests.factory import NOW, H, add_event, make_issue
from spyglass.events.models import Event
from spyglass.events.query import filter_events
from spyglass.issues import actions
from spyglass.issues.models import Issue
from spyglass.issues.search import issue_queryset
from spyglass.search import Scope, parse
from spyglass.test import World

pytestmark = pytest.mark.django_db


def rows() -> set[tuple[int, str, int]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT issue_id, message, events FROM events_issuemessage")
        return {(int(a), str(b), int(c)) for a, b, c in cursor.fetchall()}


def found(world: World, query: str, period: timedelta | None = None) -> set[int]:
    ast = parse(query, now=NOW, scope=Scope.ISSUE)
    projects = [world.project.pk, world.other_project.pk]
    qs = issue_queryset(ast, project_ids=projects, user=None, now=NOW, period=period)
    return set(qs.values_list("pk", flat=True))


def test_messages_are_counted_per_issue_and_dropped_with_their_last_event(world: World) -> None:
    issue = make_issue(world.project, "E: a", events=0)
    first = add_event(issue, "1" * 32, NOW - 3 * H, message="while processing order 99")
    second = add_event(issue, "2" * 32, NOW - 2 * H, message="while processing order 99")
    add_event(issue, "3" * 32, NOW - H, message="PaymentDeclined: card 4")
    add_event(issue, "4" * 32, NOW - H, message="")
    assert rows() == {
        (issue.pk, "while processing order 99", 2),
        (issue.pk, "PaymentDeclined: card 4", 1),
    }
    assert found(world, "order 99") == {issue.pk}
    assert found(world, "PAYMENTdeclined") == {issue.pk}
    first.delete()
    assert (issue.pk, "while processing order 99", 1) in rows()
    assert found(world, '"processing order"') == {issue.pk}
    Event.objects.filter(pk=second.pk).delete()
    assert {row[1] for row in rows()} == {"PaymentDeclined: card 4"}
    assert found(world, "order 99") == set()


def test_a_merge_moves_the_messages_and_a_period_reads_the_newest_event(world: World) -> None:
    target = make_issue(world.project, "E: target", events=0)
    source = make_issue(world.project, "E: source", events=0)
    add_event(target, "a" * 32, NOW - 30 * H, message="disk full on /var")
    add_event(source, "b" * 32, NOW - 2 * H, message="disk full on /var")
    add_event(source, "c" * 32, NOW - 2 * H, message="socket closed early")
    assert found(world, "socket closed") == {source.pk}
    assert found(world, "disk full", period=timedelta(hours=24)) == {source.pk}
    merged = actions.merge([target, source], None)
    kept = {row for row in rows() if row[0] == merged.pk}
    assert {(message, events) for _, message, events in kept} == {
        ("disk full on /var", 2),
        ("socket closed early", 1),
    }
    assert all(row[0] == merged.pk for row in rows())
    assert found(world, "socket closed") == {merged.pk}
    assert found(world, "disk full", period=timedelta(hours=24)) == {merged.pk}
    assert found(world, "disk full", period=timedelta(hours=1)) == set()


def test_deleting_an_issue_deletes_its_messages(world: World) -> None:
    issue = make_issue(world.project, "E: gone", events=0)
    add_event(issue, "d" * 32, NOW - H, message="transient glitch")
    actions.delete([Issue.objects.get(pk=issue.pk)])
    assert rows() == set()
    assert found(world, "glitch") == set()


def test_long_messages_and_wildcards(world: World) -> None:
    long = "x" * 5000 + " needle " + "y" * 5000
    issue = make_issue(world.project, "E: long", events=0)
    add_event(issue, "e" * 32, NOW - H, message=long)
    add_event(issue, "f" * 32, NOW - H, message=long)
    assert rows() == {(issue.pk, long, 2)}
    assert found(world, "needle") == {issue.pk}
    assert found(world, "x*needle*y") == {issue.pk}
    assert found(world, "needle*z") == set()
    assert found(world, "100%") == set()  # % is literal


def test_event_search_still_reads_the_events(world: World) -> None:
    issue = make_issue(world.project, "E: events", events=0)
    one = add_event(issue, "1" * 32, NOW - H, message="alpha beta")
    add_event(issue, "2" * 32, NOW - H, message="gamma delta")
    assert list(filter_events(issue.events.all(), "alpha")) == [one]


def test_telling_trigrams_prefer_digits_then_case_and_punctuation() -> None:
    from spyglass.issues.search import telling_trigrams

    assert telling_trigrams(["while processing order 99"]) == [" 99", "r 9", "der"]
    assert telling_trigrams(["PaymentDeclined"])[0] == "dec"
    assert telling_trigrams(["ab"]) == []
    assert telling_trigrams(["", "abc", "x"]) == ["abc"]


def test_any_text_is_found_whatever_trigrams_narrow_it(world: World) -> None:
    issue = make_issue(world.project, "E: many", events=0)
    messages = ["Ünïcode ÉCOLE 42", 'quote "x" 7', "tab\there 100%", "a_b_c 9"]
    for n, message in enumerate(messages):
        add_event(issue, f"{n:032x}", NOW - H, message=message)
    # (letters beyond ASCII match in their case on SQLite, in any case on PostgreSQL)
    for text in ["ÉCOLE 42", "Ünïcode ÉC", 'quote \\"x\\" 7', "100%", "a_b_c", "B_C 9"]:
        assert found(world, text) == {issue.pk}, text
    assert found(world, "ÉCOLE 43") == set()
    assert found(world, "a_b_d") == set()
