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
