"""Rollups: written per batch, merged across batches, read back as Sentry's functions."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

import pytest
import time_machine

from spyglass.performance import rollups, sketches
from spyglass.performance.models import (
    ProjectPerformanceSettings,
    Transaction,
    TransactionRollup,
    new_row,
    store_new,
)
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR_START = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
HOUR_END = HOUR_START + timedelta(hours=1)


def tx(project_id: int, **values: Any) -> Transaction:
    fields: dict[str, Any] = {
        "project_id": project_id,
        "event_id": uuid.uuid4().hex,
        "name": "GET /orders",
        "op": "http.server",
        "status": "ok",
        "start": HOUR_START + timedelta(minutes=5),
        "duration_ms": 100.0,
        "received_at": NOW,
        "environment": "production",
        "body": b"",
    }
    fields.update(values)
    return new_row(Transaction, **fields)


def store(*rows: Transaction) -> None:
    """What the digest does with a batch."""
    rollups.record(store_new(rows, "event_id"))


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


class Bounds(TypedDict):
    start: datetime
    end: datetime


def window() -> Bounds:
    return {"start": HOUR_START, "end": HOUR_END}


def test_a_batch_writes_a_minute_an_hour_a_day_and_a_week_row_per_name_and_environment(
    world: World,
) -> None:
    pid = world.project.id
    store(tx(pid), tx(pid), tx(pid, environment="staging"), tx(pid, name="GET /users"))
    rows = TransactionRollup.objects.order_by("resolution", "name", "environment")
    assert [(r.resolution, r.name, r.environment, r.count) for r in rows] == [
        (60, "GET /orders", "production", 2),
        (60, "GET /orders", "staging", 1),
        (60, "GET /users", "production", 1),
        (3600, "GET /orders", "production", 2),
        (3600, "GET /orders", "staging", 1),
        (3600, "GET /users", "production", 1),
        (86400, "GET /orders", "production", 2),
        (86400, "GET /orders", "staging", 1),
        (86400, "GET /users", "production", 1),
        (604800, "GET /orders", "production", 2),
        (604800, "GET /orders", "staging", 1),
        (604800, "GET /users", "production", 1),
    ]
    minute = TransactionRollup.objects.filter(resolution=60).first()
    assert minute is not None
    assert minute.bucket == int((HOUR_START + timedelta(minutes=5)).timestamp())


def test_rows_merge_across_batches_counts_users_and_histograms(world: World) -> None:
    pid = world.project.id
    store(tx(pid, duration_ms=10.0, user_key="id:1"), tx(pid, duration_ms=20.0, user_key="id:2"))
    store(tx(pid, duration_ms=30.0, user_key="id:2"), tx(pid, duration_ms=40.0, status="aborted"))
    hour = TransactionRollup.objects.get(resolution=3600)
    assert (hour.count, hour.failures, hour.satisfied, hour.duration_sum) == (4, 1, 4, 100.0)
    assert sketches.estimate(sketches.decode_registers(hour.users)) == 2
    assert sum(sketches.decode_histogram(hour.histogram).values()) == 4
    assert TransactionRollup.objects.count() == 4  # a minute, an hour, a day and a week row


def test_a_redelivered_transaction_is_not_counted_twice(world: World) -> None:
    same = tx(world.project.id)
    store(same)
    store(tx(world.project.id, event_id=same.event_id))
    assert TransactionRollup.objects.get(resolution=3600).count == 1


def test_apdex_failure_rate_and_user_misery_match_hand_computed_values(world: World) -> None:
    pid = world.project.id
    ProjectPerformanceSettings.objects.create(project=world.project, apdex_threshold_ms=100)
    # T = 100: 3 satisfied (≤100), 2 tolerable (≤400), 1 frustrated (user 3 is miserable).
    durations = [50, 100, 80, 150, 400, 401]
    statuses = ["ok", "cancelled", "unknown", "internal_error", "ok", "deadline_exceeded"]
    users = ["id:1", "id:1", "id:2", "id:2", "id:3", "id:3"]
    store(
        *[
            tx(pid, duration_ms=float(d), status=s, user_key=u)
            for d, s, u in zip(durations, statuses, users, strict=True)
        ]
    )
    [row] = rollups.transaction_table([pid], **window())
    assert row.count == 6
    assert row.failure_rate == pytest.approx(2 / 6)
    assert row.apdex == pytest.approx((3 + 2 / 2) / 6)
    assert row.users == 3
    assert row.miserable_users == 1
    assert row.user_misery == pytest.approx((1 + 5.8875) / (3 + 5.8875 + 111.8625))
    assert row.avg == pytest.approx(sum(durations) / 6)
    assert row.tpm == pytest.approx(6 / 60)
    assert row.op == "http.server"
    values = rollups.aggregate(
        [pid],
        **window(),
        fields=["count()", "failure_rate()", "apdex()", "count_unique(user)", "p100()"],
    )
    assert values == {
        "count()": 6.0,
        "failure_rate()": pytest.approx(2 / 6),
        "apdex()": pytest.approx(4 / 6),
        "count_unique(user)": 3.0,
        "p100()": pytest.approx(401, rel=sketches.RELATIVE_ERROR),
    }


def test_percentiles_over_batches_stay_within_the_bound(world: World) -> None:
    pid = world.project.id
    rng = random.Random(4)
    durations = [rng.lognormvariate(math.log(200), 1.0) for _ in range(600)]
    for start in range(0, 600, 50):  # twelve batches, spread over the hour's minutes
        store(
            *[
                tx(pid, duration_ms=d, start=HOUR_START + timedelta(minutes=(start + i) % 60))
                for i, d in enumerate(durations[start : start + 50])
            ]
        )
    ordered = sorted(durations)
    [row] = rollups.transaction_table([pid], **window())
    for q, found in [(0.5, row.p50), (0.75, row.p75), (0.95, row.p95), (0.99, row.p99)]:
        exact = ordered[sketches.nearest_rank(q, len(ordered))]
        assert found == pytest.approx(exact, rel=sketches.RELATIVE_ERROR)
    # The same from minute rows only (a window that is not whole hours).
    values = rollups.aggregate(
        [pid],
        start=HOUR_START,
        end=HOUR_START + timedelta(minutes=59, seconds=59),
        fields=["p95()"],
    )
    assert values["p95()"] == row.p95


def test_windows_read_hours_and_minute_edges(world: World) -> None:
    pid = world.project.id
    store(
        tx(pid, start=HOUR_START - timedelta(minutes=1)),  # 09:59
        tx(pid, start=HOUR_START + timedelta(minutes=30)),
        tx(pid, start=HOUR_START + timedelta(minutes=61)),  # 11:01
        tx(pid, start=HOUR_START + timedelta(minutes=62)),  # 11:02: outside
    )
    counted = rollups.aggregate(
        [pid],
        start=HOUR_START - timedelta(minutes=1),
        end=HOUR_START + timedelta(minutes=62),
        fields=["count()"],
    )
    assert counted == {"count()": 3.0}


def test_the_table_filters_by_environment_and_query_and_sorts(world: World) -> None:
    pid = world.project.id
    store(
        tx(pid, name="slow", duration_ms=900.0),
        tx(pid, name="fast", duration_ms=5.0),
        tx(pid, name="fast", duration_ms=6.0),
        tx(pid, name="fast", duration_ms=7.0, environment="staging"),
        tx(world.other_project.id, name="other"),
    )
    table = rollups.transaction_table([pid], **window(), sort="-p95")
    assert [(r.name, r.count) for r in table] == [("slow", 1), ("fast", 3)]
    table = rollups.transaction_table([pid], **window(), sort="-count", environment="production")
    assert [(r.name, r.count) for r in table] == [("fast", 2), ("slow", 1)]
    assert [r.name for r in rollups.transaction_table([pid], **window(), sort="name")] == [
        "fast",
        "slow",
    ]
    table = rollups.transaction_table([pid], **window(), query="transaction:fast")
    assert [(r.name, r.count) for r in table] == [("fast", 3)]
    assert rollups.transaction_table([pid], **window(), limit=1, offset=1)[0].name == "slow"
    with pytest.raises(ValueError, match="unknown sort"):
        rollups.transaction_table([pid], **window(), sort="body")


def test_a_query_rollups_cannot_answer_is_computed_from_transactions(world: World) -> None:
    pid = world.project.id
    store(
        tx(pid, op="process_events", status="internal_error", duration_ms=50.0),
        tx(pid, op="process_events", status="ok", duration_ms=70.0),
        tx(pid, op="http.server", status="internal_error"),
    )
    assert not rollups.rollups_answer("op:process_events status:internal_error")
    assert rollups.rollups_answer("event.type:transaction transaction:a environment:b")
    values = rollups.aggregate(
        [pid], **window(), fields=["count()", "p50()"], query="op:process_events"
    )
    assert values["count()"] == 2.0
    assert values["p50()"] == pytest.approx(50.0, rel=sketches.RELATIVE_ERROR)
    table = rollups.transaction_table(
        [pid], **window(), query="op:process_events status:internal_error"
    )
    assert [(r.name, r.count, r.failure_rate) for r in table] == [("GET /orders", 1, 1.0)]


def test_series_has_a_point_per_interval_empty_ones_included(world: World) -> None:
    pid = world.project.id
    store(
        tx(pid, start=HOUR_START + timedelta(minutes=1), duration_ms=10.0),
        tx(pid, start=HOUR_START + timedelta(minutes=2), status="internal_error"),
        tx(pid, start=HOUR_START + timedelta(minutes=31), duration_ms=301.0),
    )
    points = rollups.series([pid], **window(), interval_seconds=1800)
    assert [(p.start, p.count, p.failures) for p in points] == [
        (HOUR_START, 2, 1),
        (HOUR_START + timedelta(minutes=30), 1, 0),
    ]
    assert points[1].p95 == pytest.approx(301.0, rel=sketches.RELATIVE_ERROR)
    hourly = rollups.series(
        [pid],
        start=HOUR_START - timedelta(hours=1),
        end=HOUR_START + timedelta(hours=1),
        interval_seconds=3600,
    )
    assert [(p.count, p.apdex) for p in hourly] == [(0, None), (3, pytest.approx(5 / 6))]
    raw = rollups.series([pid], **window(), interval_seconds=1800, query="status:internal_error")
    assert [p.count for p in raw] == [1, 0]


def test_histogram_bins_cover_the_durations(world: World) -> None:
    pid = world.project.id
    store(*[tx(pid, duration_ms=float(d)) for d in (10, 10, 20, 50, 100)])
    bins = rollups.histogram([pid], start=HOUR_START, end=HOUR_END, name="GET /orders", buckets=10)
    assert len(bins) == 10
    assert sum(b.count for b in bins) == 5
    assert bins[0].count == 2 and bins[-1].count == 1
    assert bins[0].start_ms == pytest.approx(10, rel=0.01)
    assert bins[-1].end_ms == pytest.approx(100, rel=0.01)
    assert rollups.histogram([pid], start=HOUR_START, end=HOUR_END, name="nothing") == []


def test_old_windows_are_read_to_the_hour(world: World) -> None:
    pid = world.project.id
    old = NOW - timedelta(days=30)
    store(tx(pid, start=old + timedelta(minutes=10)), tx(pid, start=old + timedelta(minutes=50)))
    TransactionRollup.objects.filter(resolution=60).delete()  # pruned
    found = rollups.aggregate(
        [pid], start=old + timedelta(minutes=5), end=old + timedelta(minutes=20), fields=["count()"]
    )
    assert found == {"count()": 2.0}


def test_windows_over_a_week_read_whole_days_and_shorter_ones_hours(world: World) -> None:
    pid = world.project.id
    day = datetime(2026, 11, 10, tzinfo=UTC)
    store(
        tx(pid, start=day - timedelta(hours=2)),  # Nov 9, 22:00: outside every window
        tx(pid, start=day + timedelta(hours=1)),  # Nov 10, 01:00
        tx(pid, start=day + timedelta(days=3, hours=5)),
        tx(pid, start=day + timedelta(days=8, hours=23)),  # Nov 18, 23:00
    )
    # Nine days from Nov 10, 00:30: widened to Nov 10 … Nov 19 (whole days).
    start = day + timedelta(minutes=30)
    found = rollups.aggregate(
        [pid], start=start, end=start + timedelta(days=9), fields=["count()", "tpm()"]
    )
    assert found == {"count()": 3.0, "tpm()": pytest.approx(3 / (10 * 1440))}
    # Three days from Nov 10, 00:30: to the hour, so 01:00 is in and 22:00 the day before not.
    found = rollups.aggregate(
        [pid], start=start, end=start + timedelta(days=3, hours=5), fields=["count()"]
    )
    assert found == {"count()": 2.0}
    table = rollups.transaction_table([pid], start=start, end=start + timedelta(days=9))
    assert [(row.name, row.count) for row in table] == [("GET /orders", 3)]


def test_any_percentile_min_max_and_sum_of_durations(world: World) -> None:
    pid = world.project.id
    store(*[tx(pid, duration_ms=float(d)) for d in range(1, 101)])  # 1 … 100 ms
    found = rollups.aggregate(
        [pid],
        **window(),
        fields=[
            "p90()",
            "p90(transaction.duration)",
            "percentile(transaction.duration, 0.25)",
            "min(transaction.duration)",
            "max(transaction.duration)",
            "sum(transaction.duration)",
        ],
    )
    bound = sketches.RELATIVE_ERROR
    assert found["p90()"] == found["p90(transaction.duration)"] == pytest.approx(90, rel=bound)
    assert found["percentile(transaction.duration, 0.25)"] == pytest.approx(25, rel=bound)
    assert found["min(transaction.duration)"] == pytest.approx(1, rel=bound)
    assert found["max(transaction.duration)"] == pytest.approx(100, rel=bound)
    assert found["sum(transaction.duration)"] == 5050.0
    with pytest.raises(ValueError, match="unknown field"):
        rollups.aggregate([pid], **window(), fields=["percentile(transaction.duration, 2)"])
