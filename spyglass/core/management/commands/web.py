"""`spyglass web`: the ASGI server (UI, API and the ingest edge)."""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from uvicorn.supervisors import Multiprocess

from spyglass import checks
from spyglass.ingest.io import close_connections

APP = "spyglass.asgi:application"


class ServeChild(uvicorn.Server):
    """A web process of `spyglass serve`: it tells the supervisor (SIGUSR2) once it accepts
    connections, and on SIGUSR1 closes its keep-alive connections for a moment, so that their
    clients reconnect to whichever process the kernel gives them (a new one among them)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        signal.signal(signal.SIGUSR1, lambda signum, frame: close_connections())
        await super().startup(sockets=sockets)
        if self.started and os.environ.get("SPYGLASS_SUPERVISOR_PID") == str(os.getppid()):
            os.kill(os.getppid(), signal.SIGUSR2)


class Command(BaseCommand):
    help = "Serve the web UI, the API and the ingest edge."
    # Only Spyglass's own checks: Django's would import every URL module (and with them the
    # API's ≈ 15 MB of django-ninja and pydantic) in a process that may never need them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=settings.WEB_WORKERS)
        parser.add_argument(
            "--fd", type=int, help="serve on this inherited listening socket (one process)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.check(tags=[checks.TAG])
        config = uvicorn.Config(
            APP,
            host=options["host"],
            port=options["port"],
            workers=options["workers"],
            lifespan="on",
            access_log=False,
            log_level="warning",
            server_header=False,
            timeout_graceful_shutdown=20,
        )
        if options["fd"] is not None:
            # `spyglass serve` binds once and starts several of these on the same socket.
            ServeChild(config).run(sockets=[socket.socket(fileno=options["fd"])])
        elif config.workers > 1:
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.Server(config).run()
