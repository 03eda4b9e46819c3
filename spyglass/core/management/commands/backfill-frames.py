"""`spyglass backfill-frames`: derive the frames text (stack frame search: `stack.*`,
`location`, `error.main_thread`) of events stored before Spyglass derived it, from their
stored bodies. Safe to stop (each chunk commits) and to run again (it reads the events that
still have no frames text, including those that have no frames at all)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction

from spyglass.digest.frames import search_frames
from spyglass.events.bodies import read_body


class Command(BaseCommand):
    help = "Derive the frames text of events stored before stack frame search."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--chunk", type=int, default=1000, help="events per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        after, read, filled = 0, 0, 0
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT id, body FROM events_event WHERE id > %s AND frames = ''"
                    " ORDER BY id LIMIT %s",
                    [after, options["chunk"]],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                updates = []
                for event_id, body in rows:
                    text = search_frames(read_body(body)) if body else ""
                    if text:
                        updates.append((text, event_id))
                # the events' triggers count the texts into the issues' (events 0008)
                cursor.executemany("UPDATE events_event SET frames = %s WHERE id = %s", updates)
            after, read, filled = rows[-1][0], read + len(rows), filled + len(updates)
        self.stdout.write(f"Read {read} events without a frames text; derived {filled}.")
