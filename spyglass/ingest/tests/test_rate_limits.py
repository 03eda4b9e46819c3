"""Per-key rate limits, a full queue, and a hot path that never asks the main database."""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest
import time_machine
from django.db.backends.utils import CursorWrapper

from spyglass.ingest.app import IngestApp
from spyglass.ingest.tests.conftest import (
    EVENT_ID,
    SESSION,
    auth_header,
    build_envelope,
    client_for,
    event_envelope,
    event_payload,
    in_thread,
    item,
    queued,
    queued_envelopes,
    session_envelope,
    update_key,
)
from spyglass.projects import keycache
from spyglass.projects.keycache import KeyCache, KeyInfo, load_keys
from spyglass.projects.models import ProjectKey
from spyglass.queue.writer import GroupCommitWriter
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]

RATE_LIMITS = re.compile(r"^\d+:error;default;security;transaction:key:key_quota$")
# 5 s into a minute: a 60 s window has 55 s left.
FROZEN = datetime(2030, 1, 1, 0, 0, 5, tzinfo=UTC)

OTHER_ID = "0" * 31 + "1"
THIRD_ID = "0" * 31 + "2"


@pytest.fixture
def frozen_time() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(FROZEN, tick=False) as traveller:
        yield traveller


async def post(client: httpx.AsyncClient, world: World, body: bytes) -> httpx.Response:
    return await client.post(
        f"/api/{world.project.id}/envelope/",
        content=body,
        headers=auth_header(world.key.public_key),
    )


async def limit_key(app: IngestApp, world: World, count: int = 2, window: int = 60) -> None:
    await update_key(world.key, app, rate_limit_count=count, rate_limit_window=window)


async def test_it_refuses_events_over_the_key_rate_limit_with_429(
    client: httpx.AsyncClient,
    ingest_app: IngestApp,
    ingest_world: World,
    frozen_time: time_machine.Traveller,
) -> None:
    await limit_key(ingest_app, ingest_world)
    for event_id in (EVENT_ID, OTHER_ID):
        response = await post(client, ingest_world, event_envelope(event_id))
        assert response.status_code == 200
        assert "x-sentry-rate-limits" not in response.headers

    response = await post(client, ingest_world, event_envelope(THIRD_ID))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "55"
    assert 0 < int(response.headers["retry-after"]) <= 60
    assert RATE_LIMITS.match(response.headers["x-sentry-rate-limits"])
    assert response.headers["x-sentry-rate-limits"].startswith("55:")
    assert response.json()["detail"] == response.headers["x-sentry-error"]
    assert "x-sentry-rate-limits" in response.headers["access-control-expose-headers"]
    assert [row.event_id for row in await queued()] == [EVENT_ID, OTHER_ID]

    # The next window takes events again.
    frozen_time.shift(60)
    response = await post(client, ingest_world, event_envelope(THIRD_ID))
    assert response.status_code == 200


async def test_it_strips_the_event_and_queues_the_rest_of_an_envelope_over_the_limit(
    client: httpx.AsyncClient,
    ingest_app: IngestApp,
    ingest_world: World,
    frozen_time: time_machine.Traveller,
) -> None:
    await limit_key(ingest_app, ingest_world, count=1)
    assert (await post(client, ingest_world, event_envelope())).status_code == 200
    body = build_envelope(
        {"event_id": OTHER_ID, "sdk": {"name": "sentry.javascript.node"}},
        item("event", event_payload(OTHER_ID)),
        item("attachment", b"log lines", filename="a.log"),
        item("session", SESSION, length=False),
    )
    response = await post(client, ingest_world, body)
    assert response.status_code == 200
    assert RATE_LIMITS.match(response.headers["x-sentry-rate-limits"])
    _, rest = await queued_envelopes()
    assert [i.type for i in rest.items] == ["session"]
    assert rest.items[0].payload == SESSION
    assert rest.event_id is None
    assert rest.headers["sdk"] == {"name": "sentry.javascript.node"}
    rows = await queued()
    assert rows[1].event_id == ""
    assert rows[1].content_encoding == ""


async def test_it_never_limits_envelopes_without_events(
    client: httpx.AsyncClient,
    ingest_app: IngestApp,
    ingest_world: World,
    frozen_time: time_machine.Traveller,
) -> None:
    await limit_key(ingest_app, ingest_world, count=1)
    assert (await post(client, ingest_world, event_envelope())).status_code == 200
    assert (await post(client, ingest_world, event_envelope(OTHER_ID))).status_code == 429
    for _ in range(3):
        response = await post(client, ingest_world, session_envelope())
        assert response.status_code == 200
        assert response.json() == {}
    check_in = build_envelope({}, item("check_in", b'{"check_in_id":"%s"}' % (b"a" * 32)))
    assert (await post(client, ingest_world, check_in)).status_code == 200
    assert len(await queued()) == 5


async def test_it_counts_store_requests_against_the_same_limit(
    client: httpx.AsyncClient,
    ingest_app: IngestApp,
    ingest_world: World,
    frozen_time: time_machine.Traveller,
) -> None:
    await limit_key(ingest_app, ingest_world, count=1)
    assert (await post(client, ingest_world, event_envelope())).status_code == 200
    response = await client.post(
        f"/api/{ingest_world.project.id}/store/",
        content=b'{"message": "legacy"}',
        headers=auth_header(ingest_world.key.public_key),
    )
    assert response.status_code == 429
    assert RATE_LIMITS.match(response.headers["x-sentry-rate-limits"])


async def test_it_does_not_limit_a_key_without_a_rate_limit(
    client: httpx.AsyncClient, ingest_world: World, frozen_time: time_machine.Traveller
) -> None:
    for n in range(5):
        response = await post(client, ingest_world, event_envelope(f"{n:032x}"))
        assert response.status_code == 200
        assert "x-sentry-rate-limits" not in response.headers


# -- a full queue --------------------------------------------------------------------------


async def test_it_answers_429_while_the_queue_is_full(
    client: httpx.AsyncClient, ingest_app: IngestApp, ingest_world: World
) -> None:
    # One envelope first: the writer thread has then made its own depth check.
    assert (await post(client, ingest_world, event_envelope())).status_code == 200
    ingest_app.writer.full = True
    response = await post(client, ingest_world, event_envelope(OTHER_ID))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "10"
    assert response.json()["detail"] == response.headers["x-sentry-error"]
    assert len(await queued()) == 1
    ingest_app.writer.full = False
    assert (await post(client, ingest_world, event_envelope(OTHER_ID))).status_code == 200


async def test_it_sees_the_queue_full_at_its_maximum_depth(
    client: httpx.AsyncClient, make_app: Callable[..., IngestApp], ingest_world: World
) -> None:
    assert (await post(client, ingest_world, event_envelope())).status_code == 200
    app = make_app(writer=GroupCommitWriter(window=0.0, max_depth=1))
    for _ in range(1000):  # the writer thread checks the depth as it starts (10 s at most)
        if app.writer.full:
            break
        await anyio.sleep(0.01)
    assert app.writer.full
    async with client_for(app) as small:
        response = await post(small, ingest_world, event_envelope(OTHER_ID))
    assert response.status_code == 429
    assert "retry-after" in response.headers
    assert len(await queued()) == 1


# -- the key cache ---------------------------------------------------------------------------


class CountingLoader:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, KeyInfo]:
        self.calls += 1
        return load_keys()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The key cache's clock only (asyncio keeps the real one)."""
    fake = FakeClock()
    monkeypatch.setattr(keycache, "time", types.SimpleNamespace(monotonic=fake.monotonic))
    return fake


class SqlLog:
    """Every SQL statement any thread runs through Django's cursor wrapper (the ORM's
    path to the main database)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        execute, executemany = CursorWrapper.execute, CursorWrapper.executemany

        def logged_execute(cursor: CursorWrapper, sql: str, params: Any = None) -> Any:
            self.statements.append(sql)
            return execute(cursor, sql, params)

        def logged_executemany(cursor: CursorWrapper, sql: str, param_list: Any) -> Any:
            self.statements.append(sql)
            return executemany(cursor, sql, param_list)

        monkeypatch.setattr(CursorWrapper, "execute", logged_execute)
        monkeypatch.setattr(CursorWrapper, "executemany", logged_executemany)

    def outside_the_queue(self) -> list[str]:
        queue_tables = ("spyglass_queue", "spyglass_rate_counter")
        control = ("BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK", "COMMIT", "SET ")
        return [
            sql
            for sql in self.statements
            if not any(table in sql for table in queue_tables)
            and not sql.strip().upper().startswith(control)
        ]


async def test_it_serves_requests_from_the_key_cache_without_asking_the_main_database(
    make_app: Callable[..., IngestApp],
    ingest_world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loader = CountingLoader()
    app = make_app(keys=KeyCache(ttl=60, loader=loader))
    log = SqlLog()
    log.install(monkeypatch)
    async with client_for(app) as client:
        assert (await post(client, ingest_world, event_envelope())).status_code == 200
        assert loader.calls == 1
        assert log.outside_the_queue()  # the warm-up loaded the keys: the log sees them
        log.statements.clear()
        for n in range(20):
            response = await post(client, ingest_world, event_envelope(f"{n + 1:032x}"))
            assert response.status_code == 200
    assert loader.calls == 1
    assert log.outside_the_queue() == []
    # The writer queues through the driver directly (not Django's cursors), so the log's
    # silence above is about the main database only; the queue did take every envelope.
    assert len(await queued()) == 21


async def test_it_reloads_keys_for_an_unknown_key_at_most_once_a_second(
    make_app: Callable[..., IngestApp], ingest_world: World, clock: FakeClock
) -> None:
    loader = CountingLoader()
    app = make_app(keys=KeyCache(ttl=60, loader=loader))
    stranger = auth_header("f" * 32)
    url = f"/api/{ingest_world.project.id}/envelope/"
    async with client_for(app) as client:
        assert (await post(client, ingest_world, event_envelope())).status_code == 200
        assert loader.calls == 1

        async def flood() -> None:
            for _ in range(10):
                response = await client.post(url, content=event_envelope(), headers=stranger)
                assert response.status_code == 401

        await flood()
        assert loader.calls == 1  # loaded just now
        clock.now += 1.5
        await flood()
        assert loader.calls == 2  # one reload for ten misses
        clock.now += 0.5
        await flood()
        assert loader.calls == 2
        clock.now += 0.6
        await flood()
        assert loader.calls == 3


async def test_it_finds_a_new_key_after_the_miss_interval(
    make_app: Callable[..., IngestApp], ingest_world: World, clock: FakeClock
) -> None:
    app = make_app(keys=KeyCache(ttl=60))
    async with client_for(app) as client:
        assert (await post(client, ingest_world, event_envelope())).status_code == 200
        new_key = await in_thread(
            lambda: ProjectKey.objects.create(project=ingest_world.project, label="new")
        )
        clock.now += 1.5
        response = await client.post(
            f"/api/{ingest_world.project.id}/envelope/",
            content=event_envelope(OTHER_ID),
            headers=auth_header(new_key.public_key),
        )
        assert response.status_code == 200


async def test_it_keeps_serving_stale_keys_while_a_ttl_reload_runs(
    make_app: Callable[..., IngestApp], ingest_world: World, clock: FakeClock
) -> None:
    loader = CountingLoader()
    app = make_app(keys=KeyCache(ttl=10, loader=loader))
    async with client_for(app) as client:
        assert (await post(client, ingest_world, event_envelope())).status_code == 200
        clock.now += 11
        assert (await post(client, ingest_world, event_envelope(OTHER_ID))).status_code == 200
        reloading = app.keys._reloading
        assert reloading is not None
        await reloading
    assert loader.calls == 2


async def test_it_answers_503_when_no_keys_can_be_loaded(
    make_app: Callable[..., IngestApp], ingest_world: World
) -> None:
    def unreachable() -> dict[str, KeyInfo]:
        raise ConnectionError("the database is down")

    app = make_app(keys=KeyCache(ttl=60, loader=unreachable))
    async with client_for(app) as client:
        response = await post(client, ingest_world, event_envelope())
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"detail": "service unavailable"}
