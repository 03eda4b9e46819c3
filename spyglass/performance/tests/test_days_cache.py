"""Long windows merge the sketches of closed days once per group and reuse them while those
days' rows are unchanged: the same numbers as merging every row, and a late transaction in a
closed day is counted at once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from spyglass.performance import rollup_store, rollups
from spyglass.performance.models import TransactionRollup
from spyglass.performance.tests.test_rollups import NOW, store, tx
from spyglass.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    rollup_store._DAYS_CACHE.clear()
    with time_machine.travel(NOW, tick=False):
        yield
    rollup_store._DAYS_CACHE.clear()


def table(world: World, **kw: Any) -> list[rollups.TransactionSummary]:
    return rollups.transaction_table(
        [world.project.id], start=NOW - timedelta(days=30), end=NOW, limit=50, **kw
    )


def uncached(world: World, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> Any:
    with monkeypatch.context() as patch:
        patch.setattr(rollup_store, "_closed_days", lambda t, w, n, users: (t.parts, {}))
        return table(world, **kw)


@pytest.fixture
def month(world: World) -> None:
    pid = world.project.id
    rows = []
    for day in range(30):
        at = NOW - timedelta(days=day, hours=1)
        for n in range(3):
            rows.append(
                tx(
                    pid,
                    name=f"GET /{n}",
                    start=at,
                    duration_ms=10.0 * (day + 1) * (n + 1),
                    user_key=f"id:{day % 7}",
                    environment=("production", "staging")[day % 2],
                )
            )
    store(*rows)


@pytest.mark.parametrize("kw", [{}, {"environment": "production"}, {"sort": "-p95"}])
def test_cached_days_give_the_numbers_of_every_row(
    world: World, month: None, monkeypatch: pytest.MonkeyPatch, kw: dict[str, Any]
) -> None:
    expected = uncached(world, monkeypatch, **kw)
    assert table(world, **kw) == expected  # merges and caches the closed days
    assert rollup_store._DAYS_CACHE
    assert table(world, **kw) == expected  # from the cache


def test_a_late_transaction_in_a_closed_day_counts_at_once(
    world: World, month: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = {row.name: row for row in table(world)}
    store(tx(world.project.id, name="GET /0", start=NOW - timedelta(days=20), duration_ms=9e4))
    after = {row.name: row for row in table(world)}
    assert after["GET /0"].count == before["GET /0"].count + 1
    assert after["GET /0"].p99 is not None and before["GET /0"].p99 is not None
    assert after["GET /0"].p99 > before["GET /0"].p99  # the sketch, not only the counter
    assert table(world) == uncached(world, monkeypatch)


def test_stored_windows_give_the_numbers_of_every_row(
    world: World, month: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scheduler's closed windows serve a process's first read (no day row merged),
    with the numbers of merging every row, for any filter and grouping."""
    expected = {
        repr(kw): uncached(world, monkeypatch, **kw)
        for kw in ({}, {"environment": "production"}, {"sort": "-p95"})
    }
    # In each of the 3 windows (14, 30 and 90 days): 3 names in 2 environments, and the 3
    # names in all environments together.
    assert rollup_store.write_closed_windows() == (3 * 2 + 3) * 3
    stored = TransactionRollup.objects.filter(resolution__gt=rollup_store.WINDOW_BASE)
    assert {r.bucket for r in stored} == {
        int((NOW - timedelta(days=d)).timestamp()) // 86400 * 86400
        for d in rollup_store.WINDOW_DAYS
    }
    merged_days: list[object] = []
    real = rollup_store._merge_days

    def merge_days(*args: Any, **kwargs: Any) -> Any:
        merged_days.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(rollup_store, "_merge_days", merge_days)
    for kw in ({}, {"environment": "production"}, {"sort": "-p95"}):
        rollup_store._DAYS_CACHE.clear()
        assert table(world, **kw) == expected[repr(kw)]
    assert merged_days == []
    assert rollup_store.write_closed_windows() == 0  # nothing changed


def test_a_late_transaction_makes_its_stored_window_stale_until_rewritten(
    world: World, month: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    rollup_store.write_closed_windows()
    store(tx(world.project.id, name="GET /0", start=NOW - timedelta(days=20), duration_ms=9e4))
    rollup_store._DAYS_CACHE.clear()
    rows = {row.name: row for row in table(world)}
    assert rows == {row.name: row for row in uncached(world, monkeypatch)}
    assert rows["GET /0"].p99 is not None and rows["GET /0"].p99 > 8e4
    # Only that name's rows are rewritten (its environment's and all environments'), in each
    # window holding the day (30 and 90 days).
    assert rollup_store.write_closed_windows() == 2 * 2


def test_stored_windows_move_with_the_days(world: World, month: None) -> None:
    def ten_days() -> list[rollups.TransactionSummary]:
        start = NOW - timedelta(days=10)
        return rollups.transaction_table([world.project.id], start=start, end=NOW, limit=50)

    def windows() -> set[tuple[int, int]]:
        stored = TransactionRollup.objects.filter(resolution__gt=rollup_store.WINDOW_BASE)
        return set(stored.values_list("resolution", "bucket"))

    unstored = ten_days()
    rollup_store.write_closed_windows()
    before = windows()
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        rollup_store.write_closed_windows()
    after = windows()
    assert len(after) == len(before) == 3 * 2 and not before & after
    assert {bucket - 86400 for _, bucket in after} == {bucket for _, bucket in before}
    # Nothing else reads them: a window they don't fit is as it was.
    assert ten_days() == unstored
