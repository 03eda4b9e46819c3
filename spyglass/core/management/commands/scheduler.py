"""`spyglass scheduler`: periodic jobs (one active scheduler at a time)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from spyglass.core.scheduler import run_scheduler
from spyglass.lib.signals import stop_event_on_signals


class Command(BaseCommand):
    help = "Run periodic jobs until SIGTERM; only one scheduler is active at a time."

    def handle(self, *args: Any, **options: Any) -> None:
        run_scheduler(stop_event_on_signals())
