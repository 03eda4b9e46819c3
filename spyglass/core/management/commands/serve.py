"""`spyglass serve`: every role under one supervisor (web + ingest, a worker, the scheduler).

The web server and the worker are child processes; the scheduler, which is idle nearly all
the time, runs as a thread of the supervisor itself to save a process's worth of memory.
A child that dies is restarted (with a growing pause); SIGTERM or SIGINT is passed on to
every child, which drains and exits, and then the supervisor exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from spyglass.core.scheduler import run_scheduler
from spyglass.lib.signals import stop_event_on_signals

SHUTDOWN_GRACE = 30.0


class Command(BaseCommand):
    help = "Run the web server, a digest worker and the scheduler under one supervisor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-worker", action="store_true", help="don't run a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        stop = stop_event_on_signals()
        base = [sys.executable, "-m", "spyglass"]
        roles = {
            "web": [*base, "web", "--host", options["host"], "--port", str(options["port"])],
        }
        if not options["no_worker"]:
            roles["worker"] = [*base, "worker"]
        children: dict[str, subprocess.Popen[bytes]] = {}
        restarts: dict[str, int] = dict.fromkeys(roles, 0)
        started: dict[str, float] = {}

        def start(role: str) -> None:
            children[role] = subprocess.Popen(roles[role], env=os.environ.copy())
            started[role] = time.monotonic()

        for role in roles:
            start(role)
        scheduler = threading.Thread(target=run_scheduler, args=(stop,), name="scheduler")
        scheduler.start()
        self.stdout.write(
            f"Spyglass is serving on http://{options['host']}:{options['port']}/"
            f" (pid {os.getpid()}; roles: {', '.join(roles)}, scheduler)"
        )
        self.stdout.flush()
        while not stop.wait(0.5):
            for role, child in list(children.items()):
                if child.poll() is None:
                    continue
                if time.monotonic() - started[role] > 60:
                    restarts[role] = 0
                restarts[role] += 1
                pause = min(30.0, 0.5 * 2 ** restarts[role])
                self.stderr.write(
                    f"{role} exited with {child.returncode}; restarting in {pause:.1f}s"
                )
                if stop.wait(pause):
                    break
                start(role)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for child in children.values():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        scheduler.join()
        self.stdout.write("Spyglass stopped.")
