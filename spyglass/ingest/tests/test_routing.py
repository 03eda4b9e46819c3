"""Which paths are the ingest edge's, and what a request records about its sender."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from spyglass.ingest.app import IngestApp
from spyglass.ingest.tests.conftest import auth_header, event_envelope, queued
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]


@pytest.mark.parametrize(
    ("path", "project_id", "kind"),
    [
        ("/api/1/envelope/", "1", "envelope"),
        ("/api/42/store/", "42", "store"),
        ("/api/42/store", "42", "store"),
        ("/api/7/security/", "7", "security"),
        ("/api/7/csp-report/", "7", "csp-report"),
        ("/api/7/minidump/", "7", "minidump"),
        ("/api/123456789012345678/envelope/", "123456789012345678", "envelope"),
    ],
)
def test_it_routes_the_ingest_paths(path: str, project_id: str, kind: str) -> None:
    match = IngestApp.match(path)
    assert match is not None
    assert match.groups() == (project_id, kind)


@pytest.mark.parametrize(
    "path",
    [
        "/api/0/projects/",
        "/api/x/envelope/",
        "/api//envelope/",
        "/api/1/unreal/",
        "/api/1/envelope/extra/",
        "/api/1234567890123456789/envelope/",
        "/api/\u0661/envelope/",  # ARABIC-INDIC DIGIT ONE: int() would read it as 1
        "/api/\uff11/envelope/",  # FULLWIDTH DIGIT ONE
        "/api/1/envelope/\n",
    ],
)
def test_it_leaves_other_paths_to_django(path: str) -> None:
    assert IngestApp.match(path) is None


async def test_it_records_the_socket_peer_and_the_user_agent(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/envelope/",
        content=event_envelope(),
        headers={
            **auth_header(ingest_world.key.public_key),
            "X-Forwarded-For": "198.51.100.1, 10.0.0.1",
            "User-Agent": "sentry.python/2.75.0",
        },
    )
    assert response.status_code == 200
    [row] = await queued()
    assert row.client_ip == "203.0.113.7"  # X-Forwarded-For is not trusted by default
    assert row.user_agent == "sentry.python/2.75.0"


async def test_it_takes_the_first_forwarded_address_when_told_to_trust_it(
    client: httpx.AsyncClient, ingest_world: World, settings: Any
) -> None:
    settings.TRUST_X_FORWARDED_FOR = True
    response = await client.post(
        f"/api/{ingest_world.project.id}/envelope/",
        content=event_envelope(),
        headers={
            **auth_header(ingest_world.key.public_key),
            "X-Forwarded-For": " 198.51.100.1 , 10.0.0.1",
        },
    )
    assert response.status_code == 200
    [row] = await queued()
    assert row.client_ip == "198.51.100.1"


async def call_raw(
    app: IngestApp, path: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Straight into the ASGI app: header bytes that no HTTP client library would send."""
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

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
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"content-length", b"\xb2"),
        (b"content-length", b"9" * 5000),
        (b"content-length", b"-1"),
        (b"content-length", b"abc"),
        (b"content-encoding", b"\xff\xfe"),
        (b"content-type", b"\xff; boundary=\xfe"),
        (b"origin", b"http://\xe9xample.test"),
        (b"user-agent", b"\x00\xff" * 400),
    ],
)
async def test_it_answers_odd_header_bytes_without_a_server_error(
    ingest_app: IngestApp, ingest_world: World, name: bytes, value: bytes
) -> None:
    auth = f"Sentry sentry_key={ingest_world.key.public_key}".encode()
    status, headers, body = await call_raw(
        ingest_app,
        f"/api/{ingest_world.project.id}/envelope/",
        [(b"x-sentry-auth", auth), (name, value)],
        event_envelope(),
    )
    assert status in (200, 400, 413), body
    assert b"access-control-allow-origin" in headers


async def test_it_drops_nul_bytes_from_what_it_records_about_the_sender(
    ingest_app: IngestApp, ingest_world: World, settings: Any
) -> None:
    # PostgreSQL text refuses NUL; one such row would fail every envelope of its group commit.
    settings.TRUST_X_FORWARDED_FOR = True
    auth = f"Sentry sentry_key={ingest_world.key.public_key}".encode()
    status, _, body = await call_raw(
        ingest_app,
        f"/api/{ingest_world.project.id}/envelope/",
        [
            (b"x-sentry-auth", auth),
            (b"user-agent", b"evil\x00agent"),
            (b"x-forwarded-for", b"198.51.100.1\x00"),
        ],
        event_envelope(),
    )
    assert status == 200, body
    [row] = await queued()
    assert row.user_agent == "evilagent"
    assert row.client_ip == "198.51.100.1"
