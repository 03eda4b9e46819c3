"""Findings in digested transactions become performance issues grouped by pattern."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sentry_sdk
from django.utils import timezone

from spyglass.digest.batch import process_batch
from spyglass.digest.tests.sdk import queued, sdk
from spyglass.events.models import IssueCount, IssueTagValue
from spyglass.issues import state
from spyglass.issues.models import Category, Issue, IssueHash, Status, Substatus
from spyglass.issues.search import issue_queryset
from spyglass.perfissues.models import DetectorSettings, Occurrence, PatternCount
from spyglass.search import Scope, parse
from spyglass.test import World

pytestmark = pytest.mark.django_db

BOOKS = "SELECT id, title FROM books WHERE author_id = ?"


def n_plus_one(name: str = "GET /authors", repeats: int = 6, each_ms: float = 12) -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    with sentry_sdk.start_transaction(op="http.server", name=name, start_timestamp=start) as tx:
        at = start
        first = tx.start_child(op="db", name="SELECT id, name FROM authors", start_timestamp=at)
        at += timedelta(milliseconds=5)
        first.finish(end_timestamp=at)
        for _ in range(repeats):
            span = tx.start_child(op="db", name=BOOKS, start_timestamp=at)
            at += timedelta(milliseconds=each_ms)
            span.finish(end_timestamp=at)
        tx.finish(end_timestamp=at + timedelta(milliseconds=3))


def slow_query() -> None:
    start = datetime.now(UTC) - timedelta(seconds=5)
    with sentry_sdk.start_transaction(op="task", name="nightly", start_timestamp=start) as tx:
        span = tx.start_child(op="db", name="SELECT * FROM big", start_timestamp=start)
        span.finish(end_timestamp=start + timedelta(milliseconds=700))
        tx.finish(end_timestamp=start + timedelta(milliseconds=800))


def digest(world: World, capture: Callable[..., Any], times: int, commits: Any, **kw: Any) -> None:
    with sdk(traces_sample_rate=1.0) as sent:
        for _ in range(times):
            capture(**kw)
    with commits(execute=True):
        process_batch(queued(world.project.id, sent.envelopes, key_id=world.key.id))


def test_a_true_n_plus_one_becomes_one_performance_issue_with_evidence(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    digest(world, n_plus_one, 3, django_capture_on_commit_callbacks)
    issue = Issue.objects.get()
    assert (issue.category, issue.title, issue.culprit) == (
        Category.PERFORMANCE,
        "N+1 Query",
        "GET /authors",
    )
    assert issue.metadata["issue_type"] == "performance_n_plus_one_db_queries"
    assert issue.metadata["value"] == BOOKS
    assert issue.times_seen == 3 and issue.number == 1
    assert issue.short_id == f"{world.project.slug.upper()}-1"
    occurrences = list(Occurrence.objects.filter(issue=issue))
    assert len(occurrences) == 3
    evidence = occurrences[0].evidence
    assert [s["description"] for s in evidence["offenders"]] == [BOOKS] * 6
    assert evidence["causes"][0]["description"] == "SELECT id, name FROM authors"
    assert evidence["parent"]["op"] == "http.server"
    assert IssueHash.objects.get(issue=issue).grouping_config.startswith("performance")
    assert IssueCount.objects.filter(issue=issue, resolution=3600).get().count == 3


def test_the_same_pattern_in_another_transaction_is_another_issue_but_values_are_not(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks, repeats=5, each_ms=11)
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks, repeats=9)
    assert Issue.objects.count() == 1
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks, name="GET /books")
    # The parent differs (the transaction's span): grouped apart, as Sentry does.
    assert Issue.objects.count() == 2


def test_below_the_thresholds_nothing_is_recorded(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    digest(world, n_plus_one, 2, django_capture_on_commit_callbacks, repeats=4)
    assert not Issue.objects.exists() and not Occurrence.objects.exists()


def test_a_detector_turned_off_in_the_project_settings_records_nothing(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    DetectorSettings.objects.create(project=world.project, disabled=["n_plus_one_db_queries"])
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks)
    assert not Issue.objects.exists()
    DetectorSettings.objects.filter(project=world.project).update(
        disabled=[], thresholds={"n_plus_one_db_queries": {"count": 7}}
    )
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks)
    assert not Issue.objects.exists()
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks, repeats=7)
    assert Issue.objects.count() == 1


def test_a_slow_query_becomes_an_issue_only_once_seen_often_within_a_day(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    DetectorSettings.objects.create(
        project=world.project, thresholds={"slow_db_query": {"occurrences": 3}}
    )
    digest(world, slow_query, 2, django_capture_on_commit_callbacks)
    assert not Issue.objects.exists()
    assert PatternCount.objects.get().count == 2
    digest(world, slow_query, 2, django_capture_on_commit_callbacks)
    issue = Issue.objects.get()
    assert issue.title == "Slow DB Query" and issue.times_seen == 2


def test_a_resolved_performance_issue_regresses_when_seen_again(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks)
    issue = Issue.objects.get()
    state.resolve(issue)
    issue.save()
    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks)
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.REGRESSED)
    assert issue.times_seen == 2


def test_a_transaction_whose_body_cannot_be_read_costs_only_its_own_findings(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    from spyglass.perfissues.hook import detect_in
    from spyglass.performance.models import Transaction

    digest(world, n_plus_one, 2, django_capture_on_commit_callbacks)
    first, second = Transaction.objects.order_by("id")
    first.body = b"not zstd"
    Occurrence.objects.all().delete()
    Issue.objects.all().delete()
    assert len(detect_in([first, second])) == 1
    assert Occurrence.objects.get().transaction_event_id == second.event_id


def test_an_issue_another_worker_created_meanwhile_is_used_not_created_again(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    from spyglass.perfissues.detectors import DETECTORS, sort_spans
    from spyglass.perfissues.hook import _classic
    from spyglass.perfissues.record import _issue, issue_hash
    from spyglass.performance.models import Transaction

    digest(world, n_plus_one, 1, django_capture_on_commit_callbacks)
    existing = Issue.objects.get()
    tx = Transaction.objects.get()
    info, root = _classic(tx)
    (problem,) = DETECTORS["n_plus_one_db_queries"].detect(
        info, sort_spans(info, root), DETECTORS["n_plus_one_db_queries"].defaults()
    )
    # The first lookup found no hash; by the time this worker holds the counter, one exists.
    found, is_new = _issue(tx, problem, issue_hash(problem.fingerprint), tx.start)
    assert found is not None and found.id == existing.id and not is_new
    assert Issue.objects.count() == 1


def test_a_performance_issue_has_tag_distributions_and_is_found_by_tag_searches(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    with sdk(traces_sample_rate=1.0, release="shop@2.0", environment="production") as sent:
        sentry_sdk.set_tag("region", "eu-west")
        sentry_sdk.set_user({"id": "u-1"})
        for _ in range(3):
            n_plus_one()
    with django_capture_on_commit_callbacks(execute=True):
        process_batch(queued(world.project.id, sent.envelopes, key_id=world.key.id))
    issue = Issue.objects.get(category=Category.PERFORMANCE)
    rows = IssueTagValue.objects.filter(issue=issue)
    tags = {(t.key, t.value): t.times_seen for t in rows if t.key != "server_name"}
    assert rows.filter(key="server_name", times_seen=3).exists()  # the SDK's, the host's name
    assert tags == {
        ("level", "info"): 3,
        ("environment", "production"): 3,
        ("release", "shop@2.0"): 3,
        ("transaction", "GET /authors"): 3,
        ("user", "id:u-1"): 3,
        ("region", "eu-west"): 3,
    }
    for query, found in [
        ("release:shop@2.0 environment:production", [issue.id]),
        ("region:eu-west transaction:*authors", [issue.id]),
        ("environment:staging", []),
        ("issue.category:performance user.id:u-1", [issue.id]),
    ]:
        ast = parse(query, now=timezone.now(), scope=Scope.ISSUE)
        matches = issue_queryset(ast, project_ids=[world.project.id], user=None, now=timezone.now())
        assert list(matches.values_list("id", flat=True)) == found, query
    # ... and a stream kept to an environment shows it.
    kept = issue_queryset(
        parse("", now=timezone.now(), scope=Scope.ISSUE),
        project_ids=[world.project.id],
        user=None,
        now=timezone.now(),
        environment="production",
    )
    assert list(kept) == [issue]
