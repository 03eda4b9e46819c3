"""`spyglass queue stats [--json]`: depth, age of the oldest envelope, rates."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandParser

from spyglass.queue.stats import queue_stats


class Command(BaseCommand):
    help = "Inspect the ingest queue."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        stats = sub.add_parser("stats", help="depth, oldest age and rates")
        stats.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = queue_stats()
        if options["json"]:
            self.stdout.write(orjson.dumps(stats).decode())
            return
        age = stats["oldest_age_seconds"]
        lines = [
            f"depth:              {stats['depth']} ({stats['claimed']} claimed)",
            f"failed:             {stats['failed']}",
            f"oldest:             {'-' if age is None else f'{age:.1f}s ago'}",
            f"accepted/min (5m):  {stats['accepted_per_minute']:.1f}",
            f"digested/min (5m):  {stats['done_per_minute']:.1f}",
            f"accepted last hour: {stats['accepted_last_hour']}",
            f"digested last hour: {stats['done_last_hour']}",
        ]
        self.stdout.write("\n".join(lines))
