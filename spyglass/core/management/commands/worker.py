"""`spyglass worker`: digest envelopes from the queue until SIGTERM."""

from __future__ import annotations

import gc
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from spyglass import checks
from spyglass.core.scheduler import run_scheduler
from spyglass.lib.signals import stop_event_on_signals
from spyglass.notifications.outbox import run_outbox
from spyglass.queue.worker import BATCH_SIZE, run_worker

# The collector's thresholds in a digest worker. With CPython's (700, 10, 10) it ran ≈ 100
# times per 1,000 envelopes of the digest benchmark, a full collection of ≈ 74,000 objects
# among them; with these, and what start-up loaded (Django, the app) frozen out of its
# sight, the digest took 3-4 % less CPU (in-process, interleaved, median of 8 rounds).
# Cyclic garbage still goes within a few thousand envelopes.
GC_THRESHOLDS = (10_000, 10, 10)


class Command(BaseCommand):
    help = "Digest envelopes from the queue (stops cleanly on SIGTERM)."
    # Only Spyglass's own checks: Django's would import every URL module (and with them the
    # API's ≈ 15 MB of django-ninja and pydantic) in a process that may never need them.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
        parser.add_argument(
            "--with-scheduler",
            action="store_true",
            help="also run the scheduler in this process (what `spyglass serve` does)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.check(tags=[checks.TAG])
        # Imported before the threads start: the package imports its modules in a loop, and a
        # thread importing it while another does (the scheduler's release ordering and the
        # digest) could find it half-initialized and fail ("cannot import name ...").
        import sentry_relay  # noqa: F401

        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        stop = stop_event_on_signals()
        scheduler = None
        if options["with_scheduler"]:
            scheduler = threading.Thread(target=run_scheduler, args=(stop,), name="scheduler")
            scheduler.start()
        # Notifications wait on receivers' HTTP and SMTP, so they get a thread of their own.
        outbox = threading.Thread(target=run_outbox, args=(stop,), name="outbox")
        outbox.start()
        try:
            run_worker(stop, batch_size=options["batch_size"])
        finally:
            # Whatever ended the loop ends the threads too: the process exits (and `serve`
            # restarts it) instead of waiting for them forever.
            stop.set()
        outbox.join()
        if scheduler is not None:
            scheduler.join()
