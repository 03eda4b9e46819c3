"""Who may send: every auth source, and the refusals Relay gives."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from spyglass.ingest.app import IngestApp
from spyglass.ingest.tests.conftest import (
    EVENT_ID,
    auth_header,
    build_envelope,
    event_envelope,
    event_payload,
    item,
    queued,
    update_key,
)
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]


def envelope_url(world: World, project_id: int | None = None) -> str:
    return f"/api/{project_id or world.project.id}/envelope/"


async def assert_refused(response: httpx.Response, status: int, detail: str) -> None:
    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert response.headers["x-sentry-error"] == response.json()["detail"]
    assert await queued() == []


def sources(key: str) -> list[tuple[dict[str, str], dict[str, str]]]:
    """(headers, query) pairs, one per auth source."""
    basic = base64.b64encode(f"{key}:".encode()).decode()
    return [
        ({"X-Sentry-Auth": f"Sentry sentry_key={key}, sentry_version=7"}, {}),
        ({"X-Sentry-Auth": f"sentry sentry_key={key},sentry_version=7.0"}, {}),
        ({"Authorization": f"Sentry sentry_key={key}, sentry_version=7"}, {}),
        ({"Authorization": f"Basic {basic}"}, {}),
        ({}, {"sentry_key": key, "sentry_version": "7", "sentry_client": "x/1"}),
    ]


@pytest.mark.parametrize("source", range(5))
async def test_it_authenticates_from_each_source(
    client: httpx.AsyncClient, ingest_world: World, source: int
) -> None:
    headers, query = sources(ingest_world.key.public_key)[source]
    response = await client.post(
        envelope_url(ingest_world), params=query, headers=headers, content=event_envelope()
    )
    assert response.status_code == 200, response.text
    [row] = await queued()
    assert row.key_id == ingest_world.key.id


async def test_it_refuses_a_request_without_auth_with_401(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(envelope_url(ingest_world), content=event_envelope())
    await assert_refused(response, 401, "missing authorization")


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"X-Sentry-Auth": "Sentry sentry_key=K", "Authorization": "Sentry sentry_key=K"}, {}),
        ({"X-Sentry-Auth": "Sentry sentry_key=K"}, {"sentry_key": "K"}),
    ],
)
async def test_it_refuses_conflicting_auth_with_401(
    client: httpx.AsyncClient,
    ingest_world: World,
    headers: dict[str, str],
    query: dict[str, str],
) -> None:
    key = ingest_world.key.public_key
    headers = {name: value.replace("=K", f"={key}") for name, value in headers.items()}
    query = {name: key for name in query}
    response = await client.post(
        envelope_url(ingest_world), params=query, headers=headers, content=event_envelope()
    )
    await assert_refused(response, 401, "multiple authorization payloads")


async def test_it_refuses_an_unknown_key_with_401(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world), headers=auth_header("f" * 32), content=event_envelope()
    )
    await assert_refused(response, 401, "unknown public key")


async def test_it_refuses_a_disabled_key_with_403(
    client: httpx.AsyncClient, ingest_app: IngestApp, ingest_world: World
) -> None:
    await update_key(ingest_world.key, ingest_app, is_active=False)
    response = await client.post(
        envelope_url(ingest_world),
        headers=auth_header(ingest_world.key.public_key),
        content=event_envelope(),
    )
    await assert_refused(response, 403, "key disabled")


async def test_it_refuses_the_key_of_another_project_with_403(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world),
        headers=auth_header(ingest_world.other_key.public_key),
        content=event_envelope(),
    )
    await assert_refused(response, 403, "ProjectId")


async def test_it_refuses_a_project_that_does_not_exist_with_403(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world, 999_999),
        headers=auth_header(ingest_world.key.public_key),
        content=event_envelope(),
    )
    await assert_refused(response, 403, "ProjectId")


async def test_it_refuses_a_too_new_protocol_version_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world),
        headers={
            "X-Sentry-Auth": f"Sentry sentry_key={ingest_world.key.public_key}, sentry_version=9"
        },
        content=event_envelope(),
    )
    await assert_refused(response, 400, "unsupported protocol version")


@pytest.mark.parametrize(
    "value", ["Sentry sentry_version=7", "Sentry sentry_key=k, sentry_version=\u00b2", "garbage"]
)
async def test_it_refuses_a_malformed_auth_header_with_401(
    client: httpx.AsyncClient, ingest_world: World, value: str
) -> None:
    response = await client.post(
        envelope_url(ingest_world),
        headers={b"X-Sentry-Auth": value.encode("latin-1")},
        content=event_envelope(),
    )
    await assert_refused(response, 401, "")


def dsn_envelope(dsn: Any) -> bytes:
    return build_envelope({"event_id": EVENT_ID, "dsn": dsn}, item("event", event_payload()))


async def test_it_authenticates_from_the_envelope_header_dsn(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world), content=dsn_envelope(ingest_world.key.dsn)
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": EVENT_ID}
    [row] = await queued()
    assert row.key_id == ingest_world.key.id


async def test_it_refuses_an_envelope_dsn_for_another_project_with_403(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    # The other project's key, sent to this project's endpoint.
    response = await client.post(
        envelope_url(ingest_world), content=dsn_envelope(ingest_world.other_key.dsn)
    )
    await assert_refused(response, 403, "ProjectId")


async def test_it_refuses_an_envelope_dsn_whose_project_is_not_its_keys(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    # This project's key, but a DSN naming the other project.
    dsn = f"http://{ingest_world.key.public_key}@spyglass.test/{ingest_world.other_project.id}"
    response = await client.post(envelope_url(ingest_world), content=dsn_envelope(dsn))
    await assert_refused(response, 403, "ProjectId")


@pytest.mark.parametrize(
    "dsn", [None, 42, "", "not a dsn", "http://[broken/1", "http://k@spyglass.test/\u00b2"]
)
async def test_it_refuses_an_envelope_without_auth_or_a_usable_dsn_with_401(
    client: httpx.AsyncClient, ingest_world: World, dsn: Any
) -> None:
    response = await client.post(envelope_url(ingest_world), content=dsn_envelope(dsn))
    await assert_refused(response, 401, "")


async def test_it_uses_request_auth_and_ignores_the_envelope_dsn_when_both_are_there(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        envelope_url(ingest_world),
        headers=auth_header(ingest_world.key.public_key),
        content=dsn_envelope(ingest_world.other_key.dsn),
    )
    assert response.status_code == 200, response.text


# -- the body is not read before auth has passed ------------------------------------------


class CountingReceive:
    """An ASGI receive() that serves a huge body in chunks and counts what it served."""

    def __init__(self, chunks: int, chunk: bytes = b"x" * 65536) -> None:
        self.calls = 0
        self.chunks = chunks
        self.chunk = chunk

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        more = self.calls < self.chunks
        return {"type": "http.request", "body": self.chunk, "more_body": more}


async def call(
    app: IngestApp, path: str, headers: list[tuple[bytes, bytes]], receive: CountingReceive
) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": ("203.0.113.7", 1234),
    }
    await app(scope, receive, send)
    start = sent[0]
    return start["status"], dict(start["headers"])


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        (b"Sentry sentry_key=ffffffffffffffffffffffffffffffff", 401),
        (b"Sentry sentry_version=7", 401),
        (b"Sentry sentry_key=OTHER", 403),
    ],
)
async def test_it_answers_a_bad_key_without_reading_the_body(
    ingest_app: IngestApp, ingest_world: World, auth: bytes, status: int
) -> None:
    auth = auth.replace(b"OTHER", ingest_world.other_key.public_key.encode())
    receive = CountingReceive(chunks=100_000)  # 6 GiB, if anyone read it
    code, headers = await call(
        ingest_app,
        envelope_url(ingest_world),
        [(b"x-sentry-auth", auth), (b"content-length", str(100_000 * 65536).encode())],
        receive,
    )
    assert code == status
    assert receive.calls == 0
    assert b"x-sentry-error" in headers


async def test_it_refuses_an_announced_oversize_body_without_reading_it(
    ingest_app: IngestApp, ingest_world: World
) -> None:
    receive = CountingReceive(chunks=100_000)
    code, _ = await call(
        ingest_app,
        envelope_url(ingest_world),
        [
            (b"x-sentry-auth", f"Sentry sentry_key={ingest_world.key.public_key}".encode()),
            (b"content-length", str(100_000 * 65536).encode()),
        ],
        receive,
    )
    assert code == 413
    assert receive.calls == 0


async def test_it_stops_reading_a_streamed_body_at_the_limit(
    ingest_app: IngestApp, ingest_world: World
) -> None:
    receive = CountingReceive(chunks=100_000)
    code, _ = await call(
        ingest_app,
        envelope_url(ingest_world),
        [(b"x-sentry-auth", f"Sentry sentry_key={ingest_world.key.public_key}".encode())],
        receive,
    )
    assert code == 413
    assert receive.calls <= ingest_app.limits.max_envelope_size // 65536 + 1
    assert await queued() == []
