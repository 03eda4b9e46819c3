"""The in-process DSN key cache: no query per request, few queries for unknown keys."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from django.db import connections

from spyglass.projects import keycache
from spyglass.projects.keycache import KeyCache, KeyInfo, load_keys
from spyglass.test import World, build_world

T = TypeVar("T")


def info(public_key: str, key_id: int = 1) -> KeyInfo:
    return KeyInfo(key_id, 10, public_key, True, None, None)


class Keys:
    """A loader whose answer the test changes, counting its calls."""

    def __init__(self, *keys: str) -> None:
        self.keys = {key: info(key, n) for n, key in enumerate(keys, 1)}
        self.calls = 0

    def __call__(self) -> dict[str, KeyInfo]:
        self.calls += 1
        return dict(self.keys)


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(keycache, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock


def run(coroutine: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(coroutine())


def test_it_loads_the_keys_on_first_use_and_answers_from_memory_after(clock: Clock) -> None:
    loader = Keys("a" * 32)
    cache = KeyCache(ttl=10, loader=loader)

    async def main() -> list[KeyInfo | None]:
        return [await cache.get("a" * 32) for _ in range(50)]

    assert run(main) == [info("a" * 32)] * 50
    assert loader.calls == 1


def test_an_unknown_key_reloads_at_most_once_a_second(clock: Clock) -> None:
    loader = Keys("a" * 32)
    cache = KeyCache(ttl=60, loader=loader)

    async def main() -> None:
        await cache.get("a" * 32)
        for _ in range(20):
            assert await cache.get("b" * 32) is None
        assert loader.calls == 1  # loaded just now: a miss is a miss
        clock.now += 1.5
        loader.keys["b" * 32] = info("b" * 32, 2)
        assert await cache.get("b" * 32) == info("b" * 32, 2)  # a new key, found
        for _ in range(20):
            assert await cache.get("c" * 32) is None
        assert loader.calls == 2
        clock.now += 1.5
        assert await cache.get("c" * 32) is None
        assert loader.calls == 3

    run(main)


def test_concurrent_misses_share_one_reload(clock: Clock) -> None:
    loader = Keys()
    cache = KeyCache(ttl=60, loader=loader)

    async def main() -> list[KeyInfo | None]:
        return await asyncio.gather(*(cache.get(f"{n:032x}") for n in range(30)))

    assert run(main) == [None] * 30
    assert loader.calls == 1


def test_after_the_ttl_it_reloads_in_the_background_and_serves_stale_keys_meanwhile(
    clock: Clock,
) -> None:
    loader = Keys("a" * 32)
    cache = KeyCache(ttl=10, loader=loader)
    release = threading.Event()

    async def main() -> None:
        await cache.get("a" * 32)
        clock.now += 11
        del loader.keys["a" * 32]  # revoked: the next reload will not have it

        def slow_loader() -> dict[str, KeyInfo]:
            release.wait(10)
            return loader()

        cache.loader = slow_loader
        assert await cache.get("a" * 32) == info("a" * 32)  # stale but served at once
        release.set()
        assert cache._reloading is not None
        await cache._reloading
        assert await cache.get("a" * 32) is None

    run(main)
    assert loader.calls == 2


@pytest.fixture
def committed_world(transactional_db: None) -> World:
    return build_world()


def test_load_keys_reads_every_key_from_the_database(committed_world: World) -> None:
    world = committed_world
    world.other_key.rate_limit_count, world.other_key.rate_limit_window = 100, 60
    world.other_key.is_active = False
    world.other_key.save()

    keys = run(lambda: asyncio.to_thread(load_keys))

    assert keys == {
        world.key.public_key: KeyInfo(
            world.key.id, world.project.id, world.key.public_key, True, None, None
        ),
        world.other_key.public_key: KeyInfo(
            world.other_key.id, world.other_project.id, world.other_key.public_key, False, 100, 60
        ),
    }
    connections.close_all()


class Failing:
    """A loader for when the database is down."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, KeyInfo]:
        self.calls += 1
        raise ConnectionError("database unavailable")


def test_while_the_database_is_down_stale_keys_serve_and_reloads_stay_rare(clock: Clock) -> None:
    cache = KeyCache(ttl=10, loader=Keys("a" * 32))
    failing = Failing()

    async def main() -> None:
        await cache.get("a" * 32)
        cache.loader = failing
        clock.now += 11
        for _ in range(50):
            assert await cache.get("a" * 32) == info("a" * 32)
            await asyncio.sleep(0.001)  # let a background reload run (and fail)
            assert await cache.get("b" * 32) is None
        assert failing.calls == 1
        clock.now += 1.5
        assert await cache.get("b" * 32) is None
        assert failing.calls == 2

    run(main)


def test_an_unreachable_database_at_start_costs_at_most_one_attempt_a_second(
    clock: Clock,
) -> None:
    failing = Failing()
    cache = KeyCache(ttl=10, loader=failing)

    async def main() -> None:
        with pytest.raises(ConnectionError):
            await cache.get("a" * 32)
        for _ in range(20):
            assert await cache.get("a" * 32) is None
        assert failing.calls == 1
        clock.now += 1.5
        assert await cache.get("a" * 32) is None
        assert failing.calls == 2

    run(main)
