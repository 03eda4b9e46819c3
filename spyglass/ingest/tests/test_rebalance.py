"""After `spyglass serve` starts another web process, the busy ones answer for a moment with
`Connection: close`, so their keep-alive clients reconnect and spread over the processes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from spyglass.ingest import io
from spyglass.ingest.tests.conftest import auth_header, event_envelope
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]


@pytest.fixture(autouse=True)
def no_closing() -> Iterator[None]:
    yield
    io.close_connections(seconds=0.0)


async def _post(client: httpx.AsyncClient, world: World) -> httpx.Response:
    return await client.post(
        f"/api/{world.project.id}/envelope/",
        content=event_envelope(),
        headers=auth_header(world.key.public_key),
    )


async def test_responses_keep_the_connection_until_asked_then_close_it_for_a_moment(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    before = await _post(client, ingest_world)
    assert before.status_code == 200
    assert "connection" not in before.headers

    io.close_connections(seconds=60.0)
    during = await _post(client, ingest_world)
    assert during.status_code == 200  # still accepted, only not kept alive
    assert during.headers["connection"] == "close"
    health = await client.options(f"/api/{ingest_world.project.id}/envelope/")
    assert health.headers["connection"] == "close"  # preflights too: any edge response

    io.close_connections(seconds=0.0)  # the moment is over
    after = await _post(client, ingest_world)
    assert after.status_code == 200
    assert "connection" not in after.headers
