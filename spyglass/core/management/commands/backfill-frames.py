"""`spyglass backfill-frames`: derive the frames text (stack frame search: `stack.*`,
`location`, `error.main_thread`) of events stored before Spyglass derived it, from their
stored bodies. Safe to stop (each chunk commits) and to run again (it reads the events that
still have no frames text, including those that have no frames at all)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from spyglass.digest.counters import count_frames
from spyglass.digest.frames import search_frames
from spyglass.events.bodies import read_body
from spyglass.events.models import Event


class Command(BaseCommand):
    help = "Derive the frames text of events stored before stack frame search."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk", type=int, default=1000, help="events per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        after, read, filled = 0, 0, 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                rows = list(
                    Event.objects.filter(id__gt=after, frames_id__isnull=True)
                    .order_by("id")
                    .values_list("id", "issue_id", "timestamp", "body")[: options["chunk"]]
                )
                if not rows:
                    break
                texts = []
                for event_id, issue_id, when, body in rows:
                    text = search_frames(read_body(body)) if body else ""
                    if text:
                        texts.append((event_id, issue_id, text, when))
                # the issues' rows of the texts, uncounted: pointing the events at them
                # counts them (the events' triggers, events migration 0010)
                ids = count_frames(((i, text, when) for _, i, text, when in texts), count=False)
                cursor.executemany(
                    "UPDATE events_event SET frames_id = %s WHERE id = %s",
                    [(ids[(issue_id, text)], event_id) for event_id, issue_id, text, _ in texts],
                )
            after, read, filled = rows[-1][0], read + len(rows), filled + len(texts)
        self.stdout.write(f"Read {read} events without a frames text; derived {filled}.")
