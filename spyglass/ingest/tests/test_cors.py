"""Browser SDKs: CORS preflight and CORS headers on every answer."""

from __future__ import annotations

import httpx
import pytest

from spyglass.ingest.tests.conftest import auth_header, event_envelope
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]

ORIGIN = "http://127.0.0.1:37635"
ALLOWED = {
    "x-sentry-auth",
    "x-requested-with",
    "x-forwarded-for",
    "origin",
    "referer",
    "accept",
    "content-type",
    "authentication",
    "authorization",
    "content-encoding",
    "transfer-encoding",
}
EXPOSED = {"x-sentry-error", "x-sentry-rate-limits", "retry-after"}


def header_set(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


@pytest.mark.parametrize(
    ("kind", "methods"),
    [
        ("envelope", {"POST"}),
        ("store", {"POST", "GET"}),
        ("security", {"POST"}),
        ("csp-report", {"POST"}),
        ("minidump", {"POST"}),
    ],
)
async def test_it_answers_a_preflight_for_every_endpoint(
    client: httpx.AsyncClient, ingest_world: World, kind: str, methods: set[str]
) -> None:
    response = await client.options(
        f"/api/{ingest_world.project.id}/{kind}/",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-sentry-auth",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert header_set(response.headers["access-control-allow-methods"]) == {
        m.lower() for m in methods
    }
    assert header_set(response.headers["access-control-allow-headers"]) >= ALLOWED
    assert header_set(response.headers["access-control-expose-headers"]) >= EXPOSED
    assert response.headers["access-control-max-age"] == "3600"
    assert "origin" in header_set(response.headers["vary"])


async def test_it_answers_a_preflight_without_auth_or_origin(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.options(f"/api/{ingest_world.project.id}/envelope/")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


async def test_it_sends_cors_headers_on_success(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    # As @sentry/browser sends: a "simple" request, auth in the query string.
    response = await client.post(
        f"/api/{ingest_world.project.id}/envelope/",
        params={"sentry_key": ingest_world.key.public_key, "sentry_version": "7"},
        headers={"Origin": ORIGIN, "Content-Type": "text/plain;charset=UTF-8"},
        content=event_envelope(),
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert header_set(response.headers["access-control-expose-headers"]) >= EXPOSED


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, event_envelope(), 401),
        ({"X-Sentry-Auth": "Sentry sentry_key=" + "f" * 32}, event_envelope(), 401),
        ({"X-Sentry-Auth": "KEY"}, b"not an envelope", 400),
    ],
)
async def test_it_sends_cors_headers_on_errors(
    client: httpx.AsyncClient,
    ingest_world: World,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    if headers.get("X-Sentry-Auth") == "KEY":
        headers = auth_header(ingest_world.key.public_key)
    response = await client.post(
        f"/api/{ingest_world.project.id}/envelope/",
        headers={**headers, "Origin": ORIGIN},
        content=body,
    )
    assert response.status_code == status
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert header_set(response.headers["access-control-expose-headers"]) >= EXPOSED
    assert response.headers["x-sentry-error"]


async def test_it_refuses_a_method_an_endpoint_does_not_take_with_405(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.get(
        f"/api/{ingest_world.project.id}/envelope/",
        headers={**auth_header(ingest_world.key.public_key), "Origin": ORIGIN},
    )
    assert response.status_code == 405
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.json()["detail"] == response.headers["x-sentry-error"]
