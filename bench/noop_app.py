"""The baseline for bench/ingest.py: an ASGI app that reads the body and answers 200 {"id": ...}.

It does what every ASGI app must (drain the request body, send a JSON answer) and nothing
else, so its rate is the ceiling the ASGI server allows on this machine. If
BENCH_LIFESPAN_FILE is set, lifespan events are appended to that file, which tells the bench
whether the server sends them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]

_ID = uuid.uuid4().hex.encode()
_BODY = b'{"id":"' + _ID + b'"}'
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode()),
]


def _note(event: str) -> None:
    path = os.environ.get("BENCH_LIFESPAN_FILE")
    if path:
        with open(path, "a") as f:
            f.write(f"{event} {os.getpid()}\n")


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                _note("startup")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _note("shutdown")
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    await send({"type": "http.response.body", "body": _BODY})
