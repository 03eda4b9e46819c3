"""The ASGI entry point: health checks and the ingest edge ahead of Django."""

from __future__ import annotations

import asyncio
import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")

from django.core.asgi import get_asgi_application
from django.db import connections

from spyglass.ingest.app import IngestApp
from spyglass.ingest.io import Receive, Scope, Send, send_json, send_response
from spyglass.queue.router import queue_alias

log = logging.getLogger(__name__)


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


class SpyglassApp:
    def __init__(self) -> None:
        self.django = get_asgi_application()
        self.ingest = IngestApp()

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
