"""Performance queries at a million transactions: p50/p95 of the overview, the transaction
summary and the Discover API.

    python bench/perf_queries.py [--transactions 1000000] [--runs 10] [--postgres]
                                 [--data-dir DIR]

Seeds a throw-away data directory (with ``--postgres``, a throw-away PostgreSQL cluster
through tests/pgcluster.py) with one project and ``--transactions`` transactions over 30
days: 200 names whose traffic follows a Zipf-like law, 3 environments, log-normal durations
around a per-name median, 5 % failed, 20,000 users. Transactions and their rollups (as the
digest writes them: minute rows for the last SPYGLASS_RETENTION_MINUTE_ROLLUPS_DAYS days,
hour, day and week rows for all) go in with bulk SQL, then the closed windows the scheduler
writes; the point is the queries. Each query runs ``--runs`` times after one warm-up run;
the table gives p50 and p95 in milliseconds. With ``--data-dir`` (SQLite), the seeded
database is kept there and reused by the next run.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))  # the other benchmarks' modules, imported as bench/*.py do
from search import insert, percentile, weighted  # noqa: E402

NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 30
NAMES = 200
ENVIRONMENTS = [("production", 70), ("staging", 20), ("development", 10)]
STATUSES = [("ok", 940), ("internal_error", 30), ("deadline_exceeded", 10), ("cancelled", 10)]
STATUSES += [("not_found", 10)]


def _names(rng: random.Random) -> list[tuple[str, str, float, float]]:
    """(name, op, median ms, sigma) per transaction name."""
    found = []
    for n in range(NAMES):
        if n % 10 == 9:
            name, op = f"process_events.batch_{n}", "process_events"
        else:
            name, op = f"{rng.choice(['GET', 'POST', 'PUT'])} /api/v1/items/{n}/", "http.server"
        found.append((name, op, rng.lognormvariate(math.log(120), 0.9), rng.uniform(0.5, 1.1)))
    return found


def transactions(count: int, project_id: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    names = _names(rng)
    weights = [1 / (rank + 1) ** 1.1 for rank in range(NAMES)]
    span = DAYS * 86400
    chosen = rng.choices(range(NAMES), weights, k=count)
    for n, index in enumerate(chosen):
        name, op, median, sigma = names[index]
        start = NOW - timedelta(seconds=span * (n + rng.random()) / count)
        user = f"id:{rng.randrange(20_000)}" if rng.random() < 0.8 else ""
        yield {
            "project_id": project_id,
            "event_id": f"{n:032x}",
            "trace_id": f"{rng.getrandbits(128):032x}",
            "span_id": f"{rng.getrandbits(64):016x}",
            "name": name,
            "op": op,
            "status": weighted(STATUSES, rng),
            "start": start,
            "duration_ms": rng.lognormvariate(math.log(median), sigma),
            "received_at": start,
            "release": f"backend@1.{n * 200 // count}.0",
            "environment": weighted(ENVIRONMENTS, rng),
            "user_key": user,
            "measurements": {},
            "tags": [],
            "span_count": rng.randrange(30),
            "platform": "python",
            "body": b"\x28\xb5\x2f\xfd\x00\x58\x11\x00\x00{}",
        }


def seed(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings

    from spyglass.accounts.models import ApiToken, User
    from spyglass.performance.models import Transaction, TransactionRollup, apdex_thresholds
    from spyglass.performance.rollups import DAY, HOUR, MINUTE, WEEK, Totals
    from spyglass.performance.sketches import encode_histogram, encode_registers
    from spyglass.projects.models import Member, Organization, Project, Role

    started = time.perf_counter()
    org = Organization.get_or_create_named("Bench")
    user = User.objects.create_user("bench@example.com", "bench-password-1")
    Member.objects.create(organization=org, user=user, role=Role.OWNER)
    project = Project.create(org, "Backend", "python")
    threshold = apdex_thresholds([project.pk])[project.pk]
    minute_cutoff = NOW.timestamp() - settings.RETENTION_MINUTE_ROLLUPS_DAYS * 86400
    rollups: dict[tuple[int, int, str, str], Totals] = {}

    def counted() -> Iterator[dict[str, Any]]:
        for row in transactions(args.transactions, project.pk):
            seconds = int(row["start"].timestamp())
            minute = seconds // MINUTE * MINUTE
            keys = [(r, seconds // r * r) for r in (HOUR, DAY, WEEK)]
            if minute >= minute_cutoff:
                keys.append((MINUTE, minute))
            for resolution, bucket in keys:
                key = (resolution, bucket, row["name"], row["environment"])
                totals = rollups.get(key)
                if totals is None:
                    totals = rollups[key] = Totals()
                totals.add_transaction(
                    row["op"], row["status"], row["duration_ms"], row["user_key"], threshold, bucket
                )
            yield row

    count = insert(Transaction, counted())
    seeded_transactions = time.perf_counter() - started
    rows = (
        {
            "project_id": project.pk,
            "resolution": resolution,
            "bucket": bucket,
            "name": name,
            "environment": environment,
            "op": t.op,
            "count": t.count,
            "failures": t.failures,
            "satisfied": t.satisfied,
            "tolerable": t.tolerable,
            "duration_sum": t.duration_sum,
            "histogram": encode_histogram(t.histogram),
            "users": encode_registers(t.users),
            "miserable_users": encode_registers(t.miserable),
        }
        for (resolution, bucket, name, environment), t in rollups.items()
    )
    rollup_rows = insert(TransactionRollup, rows)
    token = ApiToken.issue(user, scopes=("event:read",))[1]
    busiest = _names(random.Random(7))[0][0]
    return {
        "project": project,
        "org": org.slug,
        "token": token,
        "busiest": busiest,
        "transactions": count,
        "rollups": rollup_rows,
        "seconds": time.perf_counter() - started,
        "transactions_seconds": seeded_transactions,
    }


class Bounds(TypedDict):
    start: datetime
    end: datetime


def reuse() -> dict[str, Any] | None:
    """What an earlier run seeded in the kept data directory, if it did (its week rows built
    from its day rows if it was seeded before there were week rows)."""
    from spyglass.accounts.models import ApiToken, User
    from spyglass.performance.models import Transaction, TransactionRollup
    from spyglass.performance.rollup_store import build_week_rows
    from spyglass.projects.models import Project

    project = Project.objects.filter(organization__slug="bench").first()
    if project is None:
        return None
    build_week_rows()
    user = User.objects.get(email="bench@example.com")
    return {
        "project": project,
        "org": "bench",
        "token": ApiToken.issue(user, scopes=("event:read",))[1],
        "busiest": _names(random.Random(7))[0][0],
        "transactions": Transaction.objects.count(),
        "rollups": TransactionRollup.objects.count(),
        "seconds": 0.0,
        "transactions_seconds": 0.0,
    }


def queries(seeded: dict[str, Any]) -> list[tuple[str, Callable[[], object]]]:
    from django.test import Client

    from spyglass.performance import rollups

    pid = [seeded["project"].pk]
    name = seeded["busiest"]
    client = Client()
    headers = {"Authorization": f"Bearer {seeded['token']}"}
    events = f"/api/0/organizations/{seeded['org']}/events/"
    stats = f"/api/0/organizations/{seeded['org']}/events-stats/"

    def window(hours: int) -> Bounds:
        return {"start": datetime.now(UTC) - timedelta(hours=hours), "end": datetime.now(UTC)}

    def overview(hours: int, environment: str | None = None) -> Callable[[], object]:
        return lambda: rollups.transaction_table(
            pid, **window(hours), environment=environment, sort="-count", limit=50
        )

    def cold(query: Callable[[], object], *, stored: bool = True) -> Callable[[], object]:
        """The query with the closed days' merged sketches forgotten first (a process's
        first load of the window); ``stored=False``: without the scheduler's stored
        windows too (the first load after a late transaction, until the next run)."""
        from spyglass.performance import rollup_store

        def run() -> object:
            rollup_store._DAYS_CACHE.clear()
            if stored:
                return query()
            real = rollup_store._stored_windows
            rollup_store._stored_windows = lambda *args, **kwargs: {}
            try:
                return query()
            finally:
                rollup_store._stored_windows = real

        return run

    def summary(hours: int, interval: int) -> Callable[[], object]:
        def run() -> object:
            return (
                rollups.series(pid, **window(hours), interval_seconds=interval, name=name),
                rollups.histogram(pid, **window(hours), name=name),
                rollups.aggregate(
                    pid, **window(hours), name=name, fields=["p50()", "p75()", "p95()", "p99()"]
                ),
            )

        return run

    def api(url: str, **params: Any) -> Callable[[], object]:
        def run() -> object:
            response = client.get(url, params, headers=headers)
            assert response.status_code == 200, response.content[:300]
            return response.content

        return run

    table = ["transaction", "count()", "p50()", "p95()", "failure_rate()", "apdex()", "tpm()"]
    return [
        ("overview: transaction_table, 24 h", overview(24)),
        ("overview: transaction_table, 7 days, production", overview(24 * 7, "production")),
        ("overview: transaction_table, 30 days", overview(24 * 30)),
        ("overview: transaction_table, 30 days, cold", cold(overview(24 * 30))),
        (
            "overview: transaction_table, 30 days, cold, no stored window",
            cold(overview(24 * 30), stored=False),
        ),
        ("summary: series + histogram + percentiles, 24 h", summary(24, 1800)),
        ("summary: series + histogram + percentiles, 7 days", summary(24 * 7, 3600)),
        ("API events: table of 7 fields, 24 h", api(events, field=table, statsPeriod="24h")),
        ("API events: table of 7 fields, 14 days", api(events, field=table, statsPeriod="14d")),
        (
            "API events: op:process_events status:internal_error count(), 24 h (raw)",
            api(
                events,
                field="count()",
                query="event.type:transaction op:process_events status:internal_error",
                statsPeriod="24h",
            ),
        ),
        (
            "API events-stats: count() by the hour, 7 days",
            api(
                stats,
                yAxis="count()",
                interval="1h",
                statsPeriod="7d",
                query="event.type:transaction",
            ),
        ),
        (
            "API events-stats: p95() top 5 transactions, 24 h",
            api(
                stats,
                yAxis="p95()",
                field=["transaction", "p95()"],
                topEvents="5",
                interval="30m",
                statsPeriod="24h",
            ),
        ),
    ]


def run_all(runs: int, named: Sequence[tuple[str, Callable[[], object]]]) -> None:
    """Wall-clock p50/p95, and the p50 of this process's CPU time (SQLite runs in-process,
    so on a machine shared with other work the CPU time is the steadier measure)."""
    print(f"{runs} runs of each query after one warm-up; milliseconds")
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| Query | p50 | p95 | CPU p50 |")
    print("|---|---:|---:|---:|")
    everything: list[float] = []
    cpu_everything: list[float] = []
    for label, run in named:
        run()
        times, cpu = [], []
        for _ in range(runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        everything.extend(times)
        cpu_everything.extend(cpu)
        print(
            f"| {label} | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} |"
            f" {statistics.median(cpu):.1f} |"
        )
    print(
        f"| **all queries** | **{statistics.median(everything):.1f}** |"
        f" **{percentile(everything, 0.95):.1f}** | **{statistics.median(cpu_everything):.1f}** |"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--postgres", action="store_true", help="on a throw-away cluster")
    parser.add_argument("--data-dir", help="keep (and reuse) the seeded SQLite database here")
    args = parser.parse_args()
    if args.postgres and not os.environ.get("DATABASE_URL"):
        argv = [a for a in sys.argv[1:] if a != "--postgres"]
        command = [sys.executable, str(ROOT / "tests" / "pgcluster.py"), "--"]
        command += [sys.executable, str(Path(__file__).resolve()), *argv, "--postgres"]
        sys.exit(subprocess.call(command, cwd=ROOT))
    with tempfile.TemporaryDirectory(prefix="spyglass-perf-bench-") as tmp:
        os.environ["SPYGLASS_DATA_DIR"] = args.data_dir or tmp
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connection

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        call_command("migrate", verbosity=0)
        seeded = reuse() if args.data_dir else None
        seeded = seeded or seed(args)
        from spyglass.performance.rollup_store import write_closed_windows

        write_closed_windows()  # as the scheduler does every 10 minutes
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        print(
            f"database: {connection.vendor}; {seeded['transactions']:,} transactions,"
            f" {seeded['rollups']:,} rollup rows; seeded in {seeded['seconds']:.0f} s"
            f" (transactions {seeded['transactions_seconds']:.0f} s)"
        )
        run_all(args.runs, queries(seeded))


if __name__ == "__main__":
    main()
