"""Retention: what is older than each kind's setting goes, in chunks; the rest stays."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from spyglass.core.scheduler import JOBS
from spyglass.performance.models import Span, Transaction, TransactionRollup, new_row
from spyglass.performance.rollup_store import DAY, WEEK
from spyglass.performance.tasks import prune_performance
from spyglass.performance.tests.test_rollups import NOW, store, tx
from spyglass.test import World

pytestmark = pytest.mark.django_db


def span(project_id: int, span_id: str, days_ago: float) -> Span:
    row = new_row(
        Span,
        project_id=project_id,
        trace_id="a" * 32,
        span_id=span_id,
        start=NOW - timedelta(days=days_ago),
        duration_ms=1.0,
        attributes=b"",
    )
    row.save()
    return row


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


@override_settings(
    RETENTION_TRANSACTIONS_DAYS=30,
    RETENTION_SPANS_DAYS=10,
    RETENTION_MINUTE_ROLLUPS_DAYS=7,
    RETENTION_ROLLUPS_DAYS=395,
)
def test_each_kind_is_kept_for_its_own_days(world: World) -> None:
    pid = world.project.id
    store(*[tx(pid, start=NOW - timedelta(days=31) + timedelta(minutes=10 + n)) for n in range(5)])
    store(tx(pid, start=NOW - timedelta(days=29)), tx(pid, start=NOW - timedelta(days=400)))
    store(tx(pid, start=NOW - timedelta(days=410)))
    span(pid, "1" * 16, 11)
    span(pid, "2" * 16, 9)
    pruned = prune_performance(chunk=2)  # several chunks
    assert (pruned.transactions, pruned.spans) == (7, 1)
    assert Transaction.objects.get().start == NOW - timedelta(days=29)
    assert Span.objects.get().span_id == "2" * 16
    # Minute rows older than 7 days are gone, hour rows older than 395 days too.
    assert not TransactionRollup.objects.filter(resolution=60).exists()
    hours = TransactionRollup.objects.filter(resolution=3600)
    assert sorted(r.count for r in hours) == [1, 5]
    days = TransactionRollup.objects.filter(resolution=DAY)
    assert sorted(r.bucket for r in days) == sorted({r.bucket // DAY * DAY for r in hours})
    # A week row goes once its whole week is older than 395 days.
    cutoff = (NOW - timedelta(days=395)).timestamp()
    weeks = TransactionRollup.objects.filter(resolution=WEEK).values_list("bucket", flat=True)
    assert weeks and all(bucket + WEEK > cutoff for bucket in weeks)
    old_weeks = {int((NOW - timedelta(days=d)).timestamp()) // WEEK * WEEK for d in (400, 410)}
    gone = {bucket for bucket in old_weeks if bucket + WEEK <= cutoff}
    assert gone and not gone & set(weeks)
    assert pruned.hour_rollups == 2 * 2 + len(gone)  # the hour and day rows of both, weeks
    assert prune_performance() == type(pruned)()  # nothing left to do


def test_the_scheduler_runs_it() -> None:
    assert "prune-performance" in {job.name for job in JOBS}


@override_settings(RETENTION_TRANSACTIONS_DAYS=30)
def test_performance_issues_occurrences_go_with_the_transactions(world: World) -> None:
    from spyglass.issues.models import Category, Issue
    from spyglass.perfissues.models import Occurrence

    issue = Issue.objects.create(
        project=world.project,
        number=1,
        category=Category.PERFORMANCE,
        title="N+1 Query",
        first_seen=NOW,
        last_seen=NOW,
    )
    for n, days in enumerate((31, 40, 29)):
        Occurrence.objects.create(
            issue=issue,
            project=world.project,
            detector="n_plus_one_db_queries",
            transaction_event_id=f"{n:032x}",
            transaction_name="GET /authors",
            timestamp=NOW - timedelta(days=days),
            duration_ms=100.0,
        )
    pruned = prune_performance(chunk=1)
    assert pruned.occurrences == 2
    assert Occurrence.objects.get().timestamp == NOW - timedelta(days=29)
    assert Issue.objects.filter(id=issue.id).exists()  # the issue stays
