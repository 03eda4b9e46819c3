from __future__ import annotations

import dataclasses
import gzip
import re
import zlib
from collections.abc import AsyncIterator

import brotli
import httpx
import orjson
import pytest
import zstandard

from spyglass.ingest.app import IngestApp
from spyglass.ingest.tests.conftest import (
    SESSION,
    auth_header,
    build_envelope,
    event_payload,
    item,
    queued,
    queued_envelopes,
    queued_items,
    session_envelope,
)
from spyglass.protocol.envelope import parse_envelope
from spyglass.protocol.tests.sdk_fixtures import Capture, envelope_captures, store_captures
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


HYPHENATED = "9ec79c33-ec99-42ab-8353-589fcb2e04dc"


def url(world: World) -> str:
    return f"/api/{world.project.id}/envelope/"


async def post(
    client: httpx.AsyncClient, world: World, body: bytes, **headers: str
) -> httpx.Response:
    return await client.post(
        url(world), content=body, headers={**auth_header(world.key.public_key), **headers}
    )


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-sentry-envelope", "text/plain;charset=UTF-8", "application/json"],
)
async def test_it_accepts_an_envelope_with_any_or_no_content_type(
    client: httpx.AsyncClient, ingest_world: World, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await post(client, ingest_world, envelope(), **headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": EVENT_ID}
    assert len(await queued()) == 1


def compress(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        return gzip.compress(data)
    if encoding == "deflate":
        return zlib.compress(data)
    if encoding == "br":
        compressed: bytes = brotli.compress(data, quality=5)
        return compressed
    return zstandard.ZstdCompressor().compress(data)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_it_stores_a_compressed_envelope_as_sent(
    client: httpx.AsyncClient, ingest_world: World, encoding: str
) -> None:
    body = compress(encoding, envelope())
    response = await post(client, ingest_world, body, **{"Content-Encoding": encoding})
    assert response.status_code == 200, response.text
    assert response.json() == {"id": EVENT_ID}
    [row] = await queued_items()
    assert row.content_encoding == encoding
    assert row.body == body
    assert row.envelope_bytes() == envelope()


async def test_it_answers_a_hyphenated_envelope_event_id_as_32_hex(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = build_envelope({"event_id": HYPHENATED}, item("event", event_payload(EVENT_ID)))
    response = await post(client, ingest_world, body)
    assert response.json() == {"id": EVENT_ID}
    [row] = await queued()
    assert row.event_id == EVENT_ID


async def test_it_takes_the_event_id_from_the_event_when_the_header_has_none(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = build_envelope({"sdk": {"name": "x"}}, item("event", event_payload(HYPHENATED)))
    response = await post(client, ingest_world, body)
    assert response.json() == {"id": EVENT_ID}
    [queued_envelope] = await queued_envelopes()
    # Written into the header, where the digest and attachments look for it.
    assert queued_envelope.event_id == EVENT_ID
    assert queued_envelope.headers["sdk"] == {"name": "x"}
    assert [i.payload for i in queued_envelope.items] == [event_payload(HYPHENATED)]


async def test_it_makes_up_an_event_id_for_an_event_without_one(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = build_envelope({}, item("event", event_payload(None), length=False))
    response = await post(client, ingest_world, body)
    assert response.status_code == 200
    event_id = response.json()["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", event_id)
    [row] = await queued()
    assert row.event_id == event_id
    [queued_envelope] = await queued_envelopes()
    assert queued_envelope.event_id == event_id


async def test_it_answers_an_envelope_without_an_event_with_an_empty_object(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await post(client, ingest_world, session_envelope())
    assert response.status_code == 200
    assert response.json() == {}
    [row] = await queued()
    assert row.event_id == ""
    assert bytes(row.body) == session_envelope()


async def test_it_accepts_an_envelope_without_items(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await post(client, ingest_world, b"{}\n")
    assert response.status_code == 200
    assert response.json() == {}


async def test_it_keeps_unknown_item_types(client: httpx.AsyncClient, ingest_world: World) -> None:
    body = build_envelope(
        {"event_id": EVENT_ID},
        item("event", event_payload()),
        item("brand_new_thing", b"\x00\x01 whatever", future=True),
    )
    response = await post(client, ingest_world, body)
    assert response.status_code == 200
    [queued_envelope] = await queued_envelopes()
    assert [i.type for i in queued_envelope.items] == ["event", "brand_new_thing"]


async def assert_error(response: httpx.Response, status: int, detail: str = "") -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert isinstance(body["detail"], str)
    assert detail in body["detail"]
    assert response.headers["x-sentry-error"] == body["detail"]
    assert await queued() == []


async def test_it_refuses_two_event_items_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = build_envelope({}, item("event", event_payload()), item("transaction", b"{}"))
    await assert_error(await post(client, ingest_world, body), 400, "duplicate event items")


async def test_it_refuses_an_event_item_over_1_mib_with_413(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    payload = event_payload(extra={"blob": "x" * (1024 * 1024)})
    body = build_envelope({"event_id": EVENT_ID}, item("event", payload))
    await assert_error(await post(client, ingest_world, body), 413, "size limits")


async def test_it_refuses_an_envelope_over_the_size_limit_with_413(
    client: httpx.AsyncClient, ingest_app: IngestApp, ingest_world: World
) -> None:
    ingest_app.limits = dataclasses.replace(ingest_app.limits, max_envelope_size=4096)
    body = build_envelope({}, *[item("session", SESSION)] * 40)
    assert len(body) > 4096
    await assert_error(await post(client, ingest_world, body), 413)
    # Even when the client announces nothing and streams it.
    await assert_error(
        await client.post(
            url(ingest_world),
            content=chunked(body, 1000),
            headers=auth_header(ingest_world.key.public_key),
        ),
        413,
    )
    # Compressed below the limit, over it once decoded.
    compressed = gzip.compress(body)
    assert len(compressed) < 4096
    await assert_error(
        await post(client, ingest_world, compressed, **{"Content-Encoding": "gzip"}), 413
    )


async def chunked(body: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_it_refuses_a_zip_bomb_with_413_and_queues_nothing(
    client: httpx.AsyncClient, ingest_world: World, encoding: str
) -> None:
    bomb = compress(encoding, b"{}\n" + bytes(32 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    await assert_error(
        await post(client, ingest_world, bomb, **{"Content-Encoding": encoding}), 413
    )


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
async def test_it_refuses_a_truncated_compressed_body_with_400(
    client: httpx.AsyncClient, ingest_world: World, encoding: str
) -> None:
    body = compress(encoding, envelope())[:-6]
    await assert_error(
        await post(client, ingest_world, body, **{"Content-Encoding": encoding}), 400
    )


async def test_it_refuses_an_unknown_content_encoding_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await post(client, ingest_world, envelope(), **{"Content-Encoding": "lzma"})
    await assert_error(response, 400, "content encoding")


@pytest.mark.parametrize(
    "body", [b"", b"not an envelope", b"[]\n", b'{}\n{"type":"event","length":999}\n{}\n']
)
async def test_it_refuses_a_malformed_envelope_with_400(
    client: httpx.AsyncClient, ingest_world: World, body: bytes
) -> None:
    await assert_error(await post(client, ingest_world, body), 400)


# -- real SDK requests -----------------------------------------------------------------------


def replayed(case: Capture, world: World) -> tuple[str, httpx.QueryParams, dict[str, str]]:
    """A captured request's path, query and headers, for this world's project and key."""
    path = case.path.replace("/api/1/", f"/api/{world.project.id}/")
    key = world.key.public_key
    query = httpx.QueryParams([(n, key if n == "sentry_key" else v) for n, v in case.query])
    skip = {"host", "content-length", "transfer-encoding", "connection"}
    headers = {
        name: value.replace("sentry_key=publickey", f"sentry_key={key}")
        for name, value in case.headers
        if name.lower() not in skip
    }
    return path, query, headers


@pytest.mark.parametrize("case", envelope_captures() + store_captures(), ids=lambda c: c.name)
async def test_it_accepts_every_captured_sdk_request(
    client: httpx.AsyncClient, ingest_world: World, case: Capture
) -> None:
    path, query, headers = replayed(case, ingest_world)
    content: bytes | AsyncIterator[bytes] = case.raw
    if case.header("transfer-encoding") == "chunked":
        content = chunked(case.raw, 1024)
    response = await client.post(path, params=query, headers=headers, content=content)
    assert response.status_code == 200, response.text
    [row] = await queued_items()
    if case.kind == "store":
        sent = orjson.loads(case.raw)
        assert response.json() == {"id": sent["event_id"]}
        [queued_envelope] = await queued_envelopes()
        assert orjson.loads(queued_envelope.items[0].payload) == sent
        return
    sent_envelope = parse_envelope(case.decoded)
    expected = sent_envelope.event_id
    assert response.json() == ({"id": expected} if expected else {})
    assert row.event_id == (expected or "")
    # Unchanged envelopes are stored exactly as sent, compression included.
    assert row.content_encoding == case.content_encoding.lower()
    assert row.body == case.raw
    assert row.envelope_bytes() == case.decoded
    assert row.user_agent == (case.header("user-agent") or "")
