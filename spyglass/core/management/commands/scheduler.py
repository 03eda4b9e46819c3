"""`spyglass scheduler`: periodic jobs (one active scheduler at a time)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from spyglass import checks
from spyglass.core.scheduler import run_scheduler
from spyglass.lib.signals import stop_event_on_signals


class Command(BaseCommand):
    help = "Run periodic jobs until SIGTERM; only one scheduler is active at a time."
    # Only Spyglass's own checks: Django's would import every URL module (and with them the
    # API's ≈ 15 MB of django-ninja and pydantic) in a process that may never need them.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        self.check(tags=[checks.TAG])
        run_scheduler(stop_event_on_signals())
