"""`spyglass queue stats [--json]`: depth, age of the oldest envelope, rates.
`spyglass queue failed [--json] [--limit N]`: the envelopes the digest set aside.
`spyglass queue retry (--all | ID...)`: send set-aside envelopes back, attempts reset.
`spyglass queue discard (--all | ID...)`: delete set-aside envelopes for good."""

from __future__ import annotations

from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser

from spyglass.queue import dead_letters
from spyglass.queue.stats import queue_stats


class Command(BaseCommand):
    help = "Inspect the ingest queue, and retry or discard the envelopes it set aside."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        stats = sub.add_parser("stats", help="depth, oldest age and rates")
        stats.add_argument("--json", action="store_true")
        failed = sub.add_parser("failed", help="list the set-aside envelopes, newest first")
        failed.add_argument("--json", action="store_true")
        failed.add_argument("--limit", type=int, default=100)
        for verb, what in (
            ("retry", "send set-aside envelopes back to the queue, attempts reset"),
            ("discard", "delete set-aside envelopes for good"),
        ):
            action = sub.add_parser(verb, help=what)
            action.add_argument("ids", nargs="*", type=int, metavar="ID")
            action.add_argument("--all", action="store_true", help="every set-aside envelope")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "stats":
            self._stats(options["json"])
        elif action == "failed":
            self._failed(options["json"], options["limit"])
        else:
            self._act(action, options["ids"], options["all"])

    def _stats(self, as_json: bool) -> None:
        stats = queue_stats()
        if as_json:
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

    def _failed(self, as_json: bool, limit: int) -> None:
        letters = dead_letters.as_dead_letters(dead_letters.failed()[: max(limit, 0)])
        if as_json:
            rows = [
                {
                    "id": letter.id,
                    "project_id": letter.project_id,
                    "event_id": letter.event_id,
                    "received_at": letter.received_at.isoformat(),
                    "failed_at": letter.failed_at.isoformat() if letter.failed_at else None,
                    "attempts": letter.attempts,
                    "size": letter.size,
                    "last_error": letter.last_error,
                }
                for letter in letters
            ]
            self.stdout.write(orjson.dumps(rows).decode())
            return
        if not letters:
            self.stdout.write("nothing is set aside")
            return
        self.stdout.write("id\tproject\treceived at\tattempts\tbytes\tlast error")
        for letter in letters:
            error = letter.last_error.splitlines()[0][:200] if letter.last_error else "-"
            received = letter.received_at.strftime("%Y-%m-%d %H:%M:%S")
            self.stdout.write(
                f"{letter.id}\t{letter.project_id}\t{received}\t{letter.attempts}"
                f"\t{letter.size}\t{error}"
            )

    def _act(self, verb: str, ids: list[int], every: bool) -> None:
        if every == bool(ids):
            raise CommandError(f"queue {verb}: give envelope ids or --all (not both)")
        missing = [] if every else sorted(set(ids) - dead_letters.set_aside(ids))
        run = dead_letters.retry if verb == "retry" else dead_letters.discard
        done = run(None if every else ids)
        noun = "envelope" if done == 1 else "envelopes"
        if verb == "retry":
            self.stdout.write(f"{done} set-aside {noun} sent back to the queue, attempts reset")
        else:
            self.stdout.write(f"{done} set-aside {noun} discarded")
        if missing:
            listed = ", ".join(map(str, missing))
            raise CommandError(
                f"not set aside (unknown, digested or waiting), left alone: {listed}."
                " `spyglass queue failed` lists the set-aside envelopes."
            )
