"""Week rows: written with the minute, hour and day rows, read for a long window's whole
weeks (the same numbers as its day rows, percentiles within the histogram's bound), built
from day rows for data written before they existed."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine

from spyglass.performance import rollup_store, rollups, sketches
from spyglass.performance.models import TransactionRollup
from spyglass.performance.rollup_store import DAY, WEEK, build_week_rows
from spyglass.performance.tests.test_rollups import NOW, store, tx
from spyglass.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    rollup_store._DAYS_CACHE.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    rollup_store._DAYS_CACHE.clear()


@pytest.fixture
def durations(world: World) -> dict[str, list[tuple[datetime, float]]]:
    """40 days of two names in two environments; the durations stored, per name."""
    rng = random.Random(5)
    found: dict[str, list[tuple[datetime, float]]] = {"GET /a": [], "GET /b": []}
    rows = []
    for n in range(800):
        name = ("GET /a", "GET /b")[n % 2]
        duration = rng.lognormvariate(4.5, 1.0)
        start = NOW - timedelta(days=40 * rng.random())
        rows.append(
            tx(
                world.project.id,
                name=name,
                start=start,
                duration_ms=duration,
                user_key=f"id:{rng.randrange(60)}",
                environment=rng.choice(["production", "staging"]),
                status=rng.choice(["ok", "ok", "ok", "internal_error"]),
            )
        )
        if start >= NOW - timedelta(days=30) - timedelta(days=1):
            found[name].append((start, duration))
    for at in range(0, len(rows), 100):
        store(*rows[at : at + 100])  # several batches: week rows merge across them
    return found


def test_a_month_is_read_from_week_rows_and_its_edges_from_day_rows() -> None:
    window, parts = rollup_store._spans(NOW - timedelta(days=30), NOW)
    weeks = [part for part in parts if part[0] == WEEK]
    assert 3 <= len([b for _, first, last in weeks for b in range(first, last, WEEK)]) <= 4
    assert all(first % WEEK == 0 and last % WEEK == 0 for _, first, last in weeks)
    covered = sorted((first, last) for _, first, last in parts)
    assert covered[0][0] == int(window.start.timestamp())
    assert covered[-1][1] == int(window.end.timestamp())
    assert all(a[1] == b[0] for a, b in itertools.pairwise(covered))


def test_week_rows_give_the_numbers_of_the_raw_transactions(
    world: World, durations: dict[str, Any]
) -> None:
    start = NOW - timedelta(days=30)
    table = {
        row.name: row for row in rollups.transaction_table([world.project.id], start=start, end=NOW)
    }
    window = rollup_store._spans(start, NOW)[0]
    exact = rollups.totals_from_transactions(
        [world.project.id],
        "",
        window.start,
        window.end,
        environment=None,
        names=None,
        group=["name"],
    )
    assert set(table) == {"GET /a", "GET /b"}
    for name, row in table.items():
        expected = exact[(name,)]
        assert (row.count, row.failures) == (expected.count, expected.failures)
        assert row.apdex == pytest.approx(expected.apdex)
        assert row.users == sketches.estimate(expected.users)
        values = sorted(d for s, d in durations[name] if window.start <= s < window.end)
        assert len(values) == row.count
        for q, found in ((0.5, row.p50), (0.95, row.p95), (0.99, row.p99)):
            value = values[sketches.nearest_rank(q, len(values))]
            assert found == pytest.approx(value, rel=sketches.RELATIVE_ERROR)


def test_a_late_transaction_in_a_closed_week_counts_at_once(
    world: World, durations: dict[str, Any]
) -> None:
    start = NOW - timedelta(days=30)
    before = {
        r.name: r for r in rollups.transaction_table([world.project.id], start=start, end=NOW)
    }
    store(tx(world.project.id, name="GET /a", start=NOW - timedelta(days=20), duration_ms=9e5))
    after = {r.name: r for r in rollups.transaction_table([world.project.id], start=start, end=NOW)}
    assert after["GET /a"].count == before["GET /a"].count + 1
    assert after["GET /a"].p99 is not None and before["GET /a"].p99 is not None
    assert after["GET /a"].p99 > before["GET /a"].p99


def test_week_rows_are_built_from_day_rows(world: World, durations: dict[str, Any]) -> None:
    columns = ["project_id", "bucket", "name", "environment", "op", "count", "failures"]
    columns += ["satisfied", "tolerable", "histogram", "users", "miserable_users"]
    weeks = TransactionRollup.objects.filter(resolution=WEEK).order_by(
        "bucket", "name", "environment"
    )

    def stored() -> list[tuple[Any, ...]]:
        return [
            (*(bytes(v) if isinstance(v, memoryview) else v for v in row),)
            for row in weeks.values_list(*columns, "duration_sum")
        ]

    written = stored()
    assert written
    days = TransactionRollup.objects.filter(resolution=DAY).count()
    weeks.filter(name="GET /a").delete()  # as if written before week rows existed
    assert build_week_rows() == len([row for row in written if row[2] == "GET /a"])
    rebuilt = stored()
    assert [row[:-1] for row in rebuilt] == [row[:-1] for row in written]
    assert [row[-1] for row in rebuilt] == pytest.approx([row[-1] for row in written])
    assert build_week_rows() == 0  # nothing left to build
    assert TransactionRollup.objects.filter(resolution=DAY).count() == days


def test_series_merge_their_minute_rows_in_the_database(world: World) -> None:
    """Histograms of a series are concatenated per bucket by the database (SQLite's
    group_concat, PostgreSQL's string_agg): the same percentiles as the raw durations."""
    rng = random.Random(9)
    start = NOW - timedelta(hours=3)
    rows = [
        tx(
            world.project.id,
            name=f"GET /{n % 3}",
            start=start + timedelta(seconds=rng.uniform(0, 3 * 3600)),
            duration_ms=rng.lognormvariate(5, 1.2),
        )
        for n in range(600)
    ]
    for at in range(0, len(rows), 50):
        store(*rows[at : at + 50])
    points = rollups.series([world.project.id], start=start, end=NOW, interval_seconds=1800)
    assert len(points) == 6
    for point in points:
        begin = point.start
        values = sorted(
            r.duration_ms for r in rows if begin <= r.start < begin + timedelta(minutes=30)
        )
        assert point.count == len(values) > 50
        for q, found in ((0.5, point.p50), (0.95, point.p95), (0.99, point.p99)):
            value = values[sketches.nearest_rank(q, len(values))]
            assert found == pytest.approx(value, rel=sketches.RELATIVE_ERROR)
