"""Minimal ASGI plumbing for the ingest edge: headers, body reading, responses, CORS."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson

from spyglass.protocol.encoding import make_decoder
from spyglass.protocol.errors import IngestError, PayloadTooLarge

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

CORS_ALLOW_HEADERS = (
    b"x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, content-type,"
    b" authentication, authorization, content-encoding, transfer-encoding"
)
CORS_EXPOSE_HEADERS = b"x-sentry-error, x-sentry-rate-limits, retry-after"
CLOSE = (b"connection", b"close")
REBALANCE_SECONDS = 2.0

# Until this moment (time.monotonic()) every response closes its connection after it.
_closing_until = 0.0


def close_connections(seconds: float = REBALANCE_SECONDS) -> None:
    """For ``seconds``, answer with ``Connection: close``: clients reconnect, and the kernel
    spreads their new connections over every process accepting on the socket. `spyglass
    serve` asks for it (SIGUSR1) when it has started another web process: keep-alive
    clients would otherwise stay with the busy ones."""
    global _closing_until
    _closing_until = time.monotonic() + seconds


def request_headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
    }


def cors_headers(origin: str | None) -> Headers:
    allow = origin.encode("latin-1") if origin else b"*"
    return [
        (b"access-control-allow-origin", allow),
        (b"access-control-expose-headers", CORS_EXPOSE_HEADERS),
        (b"vary", b"Origin"),
    ]


def preflight_headers(origin: str | None, methods: bytes) -> Headers:
    return [
        *cors_headers(origin),
        (b"access-control-allow-methods", methods),
        (b"access-control-allow-headers", CORS_ALLOW_HEADERS),
        (b"access-control-max-age", b"3600"),
    ]


async def send_response(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Headers
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *headers,
                *((CLOSE,) if _closing_until and time.monotonic() < _closing_until else ()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, data: object, headers: Headers) -> None:
    await send_response(send, status, orjson.dumps(data), b"application/json", headers)


async def send_error(send: Send, error: IngestError, headers: Headers) -> None:
    extra = [(b"x-sentry-error", error.detail.encode("utf-8", "replace")[:1000])]
    if error.retry_after is not None:
        extra.append((b"retry-after", str(error.retry_after).encode()))
    if error.rate_limits:
        extra.append((b"x-sentry-rate-limits", error.rate_limits.encode()))
    await send_json(send, error.status, {"detail": error.detail}, [*headers, *extra])


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> tuple[bytes, bytes]:
    """(raw body as sent, decoded body). Both are bounded by ``limit``."""
    content_length = headers.get("content-length")
    # ASCII digits, and no int() of thousands of them (ValueError); servers check it too.
    if (
        content_length is not None
        and content_length.isascii()
        and content_length.isdigit()
        and (len(content_length) > 18 or int(content_length) > limit)
    ):
        raise PayloadTooLarge(f"payload exceeds the limit of {limit} bytes")
    encoding = headers.get("content-encoding", "")
    decoder = make_decoder(encoding, limit)
    raw: list[bytes] = []
    raw_size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IngestError("client disconnected", status=400)
        chunk = message.get("body", b"")
        if chunk:
            raw_size += len(chunk)
            if raw_size > limit:
                raise PayloadTooLarge(f"payload exceeds the limit of {limit} bytes")
            raw.append(chunk)
            decoder.feed(chunk)
        if not message.get("more_body", False):
            break
    raw_body = raw[0] if len(raw) == 1 else b"".join(raw)
    return raw_body, decoder.finish()
