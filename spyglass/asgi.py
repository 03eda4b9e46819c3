"""The ASGI entry point: health checks, the ingest edge and static files ahead of Django."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")

from django.core.asgi import get_asgi_application
from django.db import connections
from whitenoise.middleware import WhiteNoiseMiddleware

from spyglass.ingest.app import IngestApp
from spyglass.ingest.io import Receive, Scope, Send, send_json, send_response
from spyglass.queue.router import queue_alias

log = logging.getLogger(__name__)

StaticFile = Any  # whitenoise.responders.StaticFile (WhiteNoise ships no types)


def _databases_ready() -> dict[str, str]:
    problems: dict[str, str] = {}
    for name, alias in (("database", "default"), ("queue", queue_alias())):
        try:
            with connections[alias].cursor() as cursor:
                cursor.execute(
                    "SELECT 1 FROM spyglass_queue LIMIT 1" if name == "queue" else "SELECT 1"
                )
        except Exception as exc:
            problems[name] = str(exc) or exc.__class__.__name__
        finally:
            connections[alias].close()
    return problems


class StaticFiles:
    """``STATIC_URL``: the installed apps' static folders, served without entering Django.

    WhiteNoise indexes them once at start (no collectstatic: see docs/architecture.md) and
    answers with its headers (Content-Type, ETag, Last-Modified, Cache-Control, 304, ranges).
    Only indexed files are answered here; any other path goes on to Django (a 404).
    """

    CHUNK = 64 * 1024

    def __init__(self) -> None:
        # Django's integration reads STATIC_URL and WHITENOISE_* and walks the finders; used
        # here as the index, never as a middleware.
        self.whitenoise = WhiteNoiseMiddleware(get_response=None)
        self.prefix: str = self.whitenoise.static_prefix

    async def find(self, path: str) -> StaticFile | None:
        if self.whitenoise.autorefresh:  # DEBUG: looks at the disk on every request
            return await asyncio.to_thread(self.whitenoise.find_file, path)
        return self.whitenoise.files.get(path)

    async def serve(self, static_file: StaticFile, scope: Scope, send: Send) -> None:
        environ = {
            "HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
            for name, value in scope["headers"]
        }
        response = static_file.get_response(scope["method"], environ)  # opens, never reads
        headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        headers.append((b"x-content-type-options", b"nosniff"))
        await send(
            {"type": "http.response.start", "status": int(response.status), "headers": headers}
        )
        file = response.file
        if file is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            more = True
            while more:
                chunk = await asyncio.to_thread(file.read, self.CHUNK)
                more = len(chunk) == self.CHUNK
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
        finally:
            file.close()


class SpyglassApp:
    def __init__(self) -> None:
        self.django = get_asgi_application()
        self.ingest = IngestApp()
        self.static = StaticFiles()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path = scope["path"]
            if IngestApp.match(path):
                await self.ingest(scope, receive, send)
            elif path == "/_health":
                await send_response(send, 200, b"ok\n", b"text/plain", [])
            elif path == "/_ready":
                problems = await asyncio.to_thread(_databases_ready)
                await send_json(send, 503 if problems else 200, problems or {"ok": True}, [])
            elif path.startswith(self.static.prefix) and (
                static_file := await self.static.find(path)
            ):
                await self.static.serve(static_file, scope, send)
            else:
                await self.django(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            await self.django(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.ingest.startup()
                except Exception as exc:
                    log.exception("startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                # Everything already handed to the queue writer is committed before we exit.
                await asyncio.to_thread(self.ingest.shutdown)
                await send({"type": "lifespan.shutdown.complete"})
                return


application = SpyglassApp()
