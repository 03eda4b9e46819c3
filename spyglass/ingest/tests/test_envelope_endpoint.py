from __future__ import annotations

import httpx
import orjson
import pytest

from spyglass.ingest.tests.conftest import auth_header, queued
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def envelope(event_id: str = EVENT_ID, message: str = "hello") -> bytes:
    payload = orjson.dumps({"event_id": event_id, "message": message, "level": "error"})
    return (
        orjson.dumps({"event_id": event_id})
        + b"\n"
        + orjson.dumps({"type": "event", "length": len(payload)})
        + b"\n"
        + payload
        + b"\n"
    )


async def test_it_queues_an_envelope_and_answers_its_event_id(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/envelope/",
        content=envelope(),
        headers=auth_header(ingest_world.key.public_key),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": EVENT_ID}
    [row] = await queued()
    assert row.project_id == ingest_world.project.id
    assert row.key_id == ingest_world.key.id
    assert row.event_id == EVENT_ID
    assert bytes(row.body) == envelope()
    assert row.client_ip == "203.0.113.7"
