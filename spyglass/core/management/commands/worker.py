"""`spyglass worker`: digest envelopes from the queue until SIGTERM."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from spyglass.lib.signals import stop_event_on_signals
from spyglass.queue.worker import run_worker


class Command(BaseCommand):
    help = "Digest envelopes from the queue (stops cleanly on SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=100)

    def handle(self, *args: Any, **options: Any) -> None:
        run_worker(stop_event_on_signals(), batch_size=options["batch_size"])
