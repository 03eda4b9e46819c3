"""Search at a million events: p50/p95 of ~30 representative searches.

    python bench/search.py [--events 1000000] [--issues 5000] [--transactions 100000]
                           [--runs 5] [--postgres]

Seeds a throw-away data directory (with ``--postgres``, a throw-away PostgreSQL cluster
through tests/pgcluster.py) with one project: ``--issues`` issues whose event counts follow
a Zipf-like law, ``--events`` error events over 30 days (200 releases, 3 environments,
20,000 users, 300 transactions, 50 tag keys of which 40 custom ones, a third of the events
with a log message, stack traces of 9 frames in 6 files, three variants per issue), the
per-issue tag values and hourly counts the digest keeps, and
``--transactions`` transactions. Rows go in with bulk SQL (executemany), not the digest: the
point is the queries. Then it runs each search ``--runs`` times after one warm-up run (a
page of 25, as the stream and the API ask) and prints p50/p95 per search and overall.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 30
ENVIRONMENTS = [("production", 70), ("staging", 20), ("development", 10)]
LEVELS = [("error", 70), ("warning", 15), ("fatal", 5), ("info", 10)]
BROWSERS = ["Chrome", "Firefox", "Safari", "Edge", "Opera", "Samsung Internet"]
OSES = ["Windows", "Mac OS X", "Linux", "Android", "iOS"]
EXCEPTIONS = [
    "DatabaseError",
    "OperationalError",
    "ValueError",
    "KeyError",
    "TypeError",
    "TimeoutError",
    "ConnectionResetError",
    "PaymentDeclined",
    "PermissionDenied",
    "IntegrityError",
]
CUSTOM_KEYS = [f"tag_{n:02d}" for n in range(40)]
FRAMEWORK = [  # the frames under every request handler (Django's, as the Python SDK sends them)
    ("django/core/handlers/exception.py", "django.core.handlers.exception", "inner"),
    ("django/core/handlers/base.py", "django.core.handlers.base", "_get_response"),
    ("django/views/generic/base.py", "django.views.generic.base", "view"),
    ("django/views/generic/base.py", "django.views.generic.base", "dispatch"),
    ("django/db/backends/utils.py", "django.db.backends.utils", "execute"),
    ("django/db/backends/utils.py", "django.db.backends.utils", "_execute_with_wrappers"),
    ("django/db/backends/utils.py", "django.db.backends.utils", "_execute"),
]


def frames_text(n: int, variant: int) -> str:
    """The frames text the digest would store for an event of issue kind ``n``: the
    framework's frames, the issue's handler and a helper (one of three per issue): 9 frames
    in 6 files (spyglass.digest.frames)."""
    from spyglass.digest.frames import search_frames

    frames = [
        {
            "filename": f,
            "abs_path": f"/usr/lib/python3.12/site-packages/{f}",
            "module": m,
            "function": fn,
        }
        for f, m, fn in FRAMEWORK
    ]
    for filename, function in [
        (f"app/module_{n % 300}.py", f"handler_{n % 97}"),
        (f"app/helpers_{(n + variant) % 40}.py", f"helper_{(n * 7 + variant) % 500}"),
    ]:
        module = filename.removesuffix(".py").replace("/", ".")
        frames += [
            {
                "filename": filename,
                "abs_path": f"/srv/{filename}",
                "module": module,
                "function": function,
            }
        ]
    return search_frames({"exception": {"values": [{"stacktrace": {"frames": frames}}]}})


def weighted(choices: Sequence[tuple[str, int]], rng: random.Random) -> str:
    return rng.choices([c for c, _ in choices], [w for _, w in choices])[0]


# --- seeding ----------------------------------------------------------------------------------


def insert(model: Any, rows: Iterable[dict[str, Any]], chunk: int = 20_000) -> int:
    """executemany of plain INSERTs: every concrete field from the row or its default."""
    from django.db import connection, models, transaction

    fields = [f for f in model._meta.concrete_fields if not f.primary_key or f.attname in ("id",)]
    fields = [f for f in fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    prepare: list[Callable[[Any], Any]] = []
    defaults = []
    for field in fields:
        if isinstance(field, models.DateTimeField):
            prepare.append(connection.ops.adapt_datetimefield_value)
        elif isinstance(field, models.JSONField):
            prepare.append(json.dumps)
        else:
            prepare.append(lambda value: value)
        defaults.append(field.get_default() if field.has_default() or field.null else "")
    batch: list[list[Any]] = []
    total = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for row in rows:
            batch.append(
                [
                    p(row[f.attname]) if f.attname in row else d
                    for f, p, d in zip(fields, prepare, defaults, strict=True)
                ]
            )
            if len(batch) >= chunk:
                cursor.executemany(sql, batch)
                total += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            total += len(batch)
    return total


def seed(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection

    from spyglass.accounts.models import User
    from spyglass.events.models import Event, IssueCount, IssueTagValue
    from spyglass.issues.models import Issue, Priority, Status, Substatus
    from spyglass.performance.models import Transaction
    from spyglass.projects.models import Member, Organization, Project, Role
    from spyglass.releases.models import Release

    rng = random.Random(5)
    started = time.perf_counter()
    org = Organization.get_or_create_named("Bench")
    user = User.objects.create_user("bench@example.com", "bench-password-1")
    Member.objects.create(organization=org, user=user, role=Role.OWNER)
    project = Project.create(org, "Backend", "python")

    versions = [f"backend@1.{n}.0" for n in range(200)]
    release_dates = [NOW - timedelta(days=DAYS) + timedelta(hours=3.6 * n) for n in range(200)]
    for version, created in zip(versions, release_dates, strict=True):
        Release.objects.create(organization=org, version=version, created_at=created)
    Release.projects.through.objects.bulk_create(
        Release.projects.through(release_id=r.pk, project_id=project.pk)
        for r in Release.objects.all()
    )

    # issues: a Zipf-like share of the events each, a kind, a level, a first release
    weights = [1 / (rank + 1) ** 1.07 for rank in range(args.issues)]
    kinds = []
    for n in range(args.issues):
        exc = EXCEPTIONS[n % len(EXCEPTIONS)]
        kinds.append(
            {
                "type": exc,
                "title": f"{exc}: {rng.choice(['connection', 'value', 'key', 'request'])}"
                f" {rng.choice(['reset', 'invalid', 'missing', 'failed'])} in step {n}",
                "culprit": f"app.module_{n % 300} in handler_{n % 97}",
                "level": weighted(LEVELS, rng),
                "filename": f"app/module_{n % 300}.py",
                "function": f"handler_{n % 97}",
            }
        )
    span = DAYS * 86400
    transactions_names = [f"GET /api/items/{n}" for n in range(300)]
    users = [f"email:user{n}@example.com" if n % 3 else f"id:{n}" for n in range(20_000)]
    picks = rng.choices(range(args.issues), weights, k=args.events)
    stats: dict[int, list[Any]] = {}
    tag_stats: dict[tuple[int, str, str], list[Any]] = {}
    hourly: dict[tuple[int, int], int] = {}
    recent_hour = int((NOW - timedelta(hours=48)).timestamp()) // 3600 * 3600
    traces: list[str] = []
    frames_texts: dict[tuple[int, int], str] = {}
    frames_stats: dict[tuple[int, str], list[Any]] = {}  # the issues' texts, as the digest counts

    def events() -> Iterable[dict[str, Any]]:
        for n, issue_index in enumerate(picks):
            kind = kinds[issue_index]
            # newer events are more frequent: the square root bends the time toward now
            age = span * (rng.random() ** 1.5)
            at = NOW - timedelta(seconds=age)
            release = versions[min(199, int((DAYS * 86400 - age) / span * 200))]
            environment = weighted(ENVIRONMENTS, rng)
            who = users[int(rng.paretovariate(1.2)) % len(users)]
            transaction_name = transactions_names[issue_index % 300]
            tags = [
                ["level", kind["level"]],
                ["environment", environment],
                ["release", release],
                ["transaction", transaction_name],
                ["user", who],
                ["server_name", f"web-{rng.randrange(20)}"],
                ["browser.name", rng.choice(BROWSERS)],
                ["os.name", rng.choice(OSES)],
                ["handled", "no" if issue_index % 4 == 0 else "yes"],
                ["mechanism", "django" if issue_index % 2 else "logging"],
            ]
            for key in rng.sample(CUSTOM_KEYS, 3):
                tags.append([key, f"value_{rng.randrange(20)}"])
            message = ""
            if n % 3 == 0:
                message = f"{kind['type']} while processing order {rng.randrange(100_000)}"
            trace = f"{rng.getrandbits(128):032x}"
            variant = (issue_index, rng.randrange(3))
            frames = frames_texts.get(variant)
            if frames is None:
                frames = frames_texts[variant] = frames_text(*variant)
            # [events, last seen, row id]: events name their issue's row (events 0010)
            counted = frames_stats.setdefault(
                (issue_index + 1, frames), [0, at, len(frames_stats) + 1]
            )
            counted[0] += 1
            counted[1] = max(counted[1], at)
            if n % 50_000 == 0:
                traces.append(trace)
            issue_id = issue_index + 1
            entry = stats.setdefault(issue_id, [at, at, 0, set()])
            entry[0] = min(entry[0], at)
            entry[1] = max(entry[1], at)
            entry[2] += 1
            entry[3].add(who)
            for key, value in tags:
                tag = tag_stats.get((issue_id, key, value))
                if tag is None:
                    tag_stats[(issue_id, key, value)] = [1, at, at]
                else:
                    tag[0] += 1
                    tag[1] = min(tag[1], at)
                    tag[2] = max(tag[2], at)
            bucket = int(at.timestamp()) // 3600 * 3600
            if bucket >= recent_hour:
                hourly[(issue_id, bucket)] = hourly.get((issue_id, bucket), 0) + 1
            yield {
                "project_id": project.pk,
                "issue_id": issue_id,
                "event_id": f"{n:032x}",
                "timestamp": at,
                "received_at": at,
                "type": "error",
                "level": kind["level"],
                "platform": "python",
                "release": release,
                "environment": environment,
                "transaction": transaction_name,
                "title": kind["title"],
                "culprit": kind["culprit"],
                "message": message,
                "trace_id": trace,
                "user_key": who,
                "sdk_name": "sentry.python",
                "sdk_version": "2.19.0",
                "tags": tags,
                "frames_id": counted[2],
                "body": b"",
                "size": 1000,
            }

    # the issues first (ids 1..N, so events can point at them), their counters after
    statuses = [(Status.UNRESOLVED, 70), (Status.RESOLVED, 20), (Status.IGNORED, 10)]
    issue_rows = []
    for n, kind in enumerate(kinds):
        status = int(weighted([(str(s), w) for s, w in statuses], rng))
        issue_rows.append(
            {
                "id": n + 1,
                "project_id": project.pk,
                "number": n + 1,
                "title": kind["title"],
                "culprit": kind["culprit"],
                "metadata": {
                    "type": kind["type"],
                    "value": kind["title"].split(": ", 1)[1],
                    "filename": kind["filename"],
                    "function": kind["function"],
                },
                "level": kind["level"],
                "platform": "python",
                "first_seen": NOW,
                "last_seen": NOW,
                "status": status,
                "substatus": (
                    rng.choice([Substatus.NEW, Substatus.ONGOING, Substatus.REGRESSED])
                    if status == Status.UNRESOLVED
                    else None
                ),
                "priority": rng.choice(list(Priority)).value,
                "first_release": versions[rng.randrange(200)],
                "active_at": NOW,
            }
        )
    with connection.cursor() as cursor:
        # explicit ids: insert with the id column
        from django.db import models as dj_models

        fields = [f for f in Issue._meta.concrete_fields]
        columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
        sql = f"INSERT INTO issues_issue ({columns}) VALUES ({', '.join(['%s'] * len(fields))})"
        values: list[list[Any]] = []
        for row in issue_rows:
            line: list[Any] = []
            for f in fields:
                value: Any = row.get(f.attname, f.get_default() if f.has_default() else None)
                if isinstance(f, dj_models.DateTimeField) and value is not None:
                    value = connection.ops.adapt_datetimefield_value(value)
                elif isinstance(f, dj_models.JSONField):
                    value = json.dumps(value)
                elif value is None and not f.null:
                    value = ""
                line.append(value)
            values.append(line)
        cursor.executemany(sql, values)
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('issues_issue', 'id'), %s)", [args.issues]
            )
    seeded_issues = time.perf_counter()
    event_count = insert(Event, events())
    seeded_events = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.executemany(
            "UPDATE issues_issue SET first_seen = %s, last_seen = %s, times_seen = %s,"
            " users_seen = %s WHERE id = %s",
            [
                [
                    connection.ops.adapt_datetimefield_value(first),
                    connection.ops.adapt_datetimefield_value(last),
                    count,
                    len(who),
                    issue_id,
                ]
                for issue_id, (first, last, count, who) in stats.items()
            ],
        )
    insert(
        IssueTagValue,
        (
            {
                "issue_id": issue_id,
                "key": key,
                "value": value,
                "times_seen": count,
                "first_seen": first,
                "last_seen": last,
            }
            for (issue_id, key, value), (count, first, last) in tag_stats.items()
        ),
    )
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events_issueframes (id, issue_id, frames, events, last_seen)"
            " VALUES (%s, %s, %s, %s, %s)",
            [
                (row, issue_id, frames, n, connection.ops.adapt_datetimefield_value(last))
                for (issue_id, frames), (n, last, row) in frames_stats.items()
            ],
        )
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('events_issueframes', 'id'), %s)",
                [len(frames_stats)],
            )
    insert(
        IssueCount,
        (
            {"issue_id": issue_id, "resolution": 3600, "bucket": bucket, "count": count}
            for (issue_id, bucket), count in hourly.items()
        ),
    )
    ops = [("http.server", 60), ("process_events", 20), ("db.query", 10), ("pageload", 10)]
    status_choices = [("ok", 85), ("internal_error", 8), ("not_found", 4), ("cancelled", 3)]

    def transactions() -> Iterable[dict[str, Any]]:
        for n in range(args.transactions):
            op = weighted(ops, rng)
            start = NOW - timedelta(seconds=span * rng.random())
            measurements = {}
            if op == "pageload":
                measurements = {"lcp": {"value": rng.lognormvariate(7.4, 0.6), "unit": "ms"}}
            yield {
                "project_id": project.pk,
                "event_id": f"{n:032x}",
                "trace_id": f"{rng.getrandbits(128):032x}",
                "span_id": f"{rng.getrandbits(64):016x}",
                "name": "process_events"
                if op == "process_events"
                else rng.choice(transactions_names),
                "op": op,
                "status": weighted(status_choices, rng),
                "start": start,
                "duration_ms": rng.lognormvariate(5.0, 1.0),
                "received_at": start,
                "release": versions[rng.randrange(200)],
                "environment": weighted(ENVIRONMENTS, rng),
                "user_key": users[rng.randrange(len(users))],
                "http_method": "GET" if op == "http.server" else "",
                "http_status_code": 200 if op == "http.server" else None,
                "measurements": measurements,
                "tags": [["customer", f"c{rng.randrange(50)}"]],
                "platform": "python",
                "body": b"",
            }

    insert(Transaction, transactions())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    done = time.perf_counter()
    return {
        "project": project,
        "user": user,
        "events": event_count,
        "tag_values": len(tag_stats),
        "traces": traces,
        "seconds": done - started,
        "events_seconds": seeded_events - seeded_issues,
    }


# --- the searches -------------------------------------------------------------------------------


def searches(seeded: dict[str, Any]) -> list[tuple[str, Callable[[], object]]]:
    from spyglass.events.query import event_queryset
    from spyglass.issues.search import issue_queryset, order_issues
    from spyglass.performance.search import transaction_queryset
    from spyglass.search import Scope, Sort, parse

    project, user = seeded["project"], seeded["user"]
    trace = seeded["traces"][0]

    def issues(
        text: str, sort: Sort = Sort.DATE, period: timedelta | None = None
    ) -> Callable[[], object]:
        def run() -> object:
            now = datetime.now(UTC)
            ast = parse(text, now=now, scope=Scope.ISSUE)
            rows = issue_queryset(ast, project_ids=[project.pk], user=user, now=now, period=period)
            return list(order_issues(rows, sort, now=now).values_list("id", flat=True)[:25])

        return run

    def transactions(text: str, hours: int | None = None) -> Callable[[], object]:
        def run() -> object:
            start = datetime.now(UTC) - timedelta(hours=hours) if hours else None
            rows = transaction_queryset([project], text, start=start)
            return list(rows.order_by("-start", "-id").values_list("id", flat=True)[:25])

        return run

    def events(text: str, hours: int) -> Callable[[], object]:
        def run() -> object:
            start = datetime.now(UTC) - timedelta(hours=hours)
            rows = event_queryset([project], text, start=start)
            return list(rows.order_by("-timestamp", "-id").values_list("id", flat=True)[:25])

        return run

    return [
        ("(all issues, last seen)", issues("")),
        ("is:unresolved", issues("is:unresolved")),
        (
            "is:unresolved environment:production level:error",
            issues("is:unresolved environment:production level:error"),
        ),
        ('release:"backend@1.150.0"', issues('release:"backend@1.150.0"')),
        ("firstSeen:-1h", issues("firstSeen:-1h")),
        ("user.count:>=10", issues("user.count:>=10")),
        ('transaction:"GET /api/items/7"', issues('transaction:"GET /api/items/7"')),
        ("error.type:*Database*", issues("error.type:*Database*")),
        ("is:unresolved, sort freq", issues("is:unresolved", Sort.FREQ)),
        ("is:unresolved, sort new", issues("is:unresolved", Sort.NEW)),
        ("is:unresolved, sort user", issues("is:unresolved", Sort.USER)),
        ("is:unresolved, sort priority", issues("is:unresolved", Sort.PRIORITY)),
        ("is:unresolved, sort trends", issues("is:unresolved", Sort.TRENDS)),
        ("tag_05:value_3", issues("tag_05:value_3")),
        ("tags[tag_17]:value_1*", issues("tags[tag_17]:value_1*")),
        ("browser.name:Firefox os.name:Linux", issues("browser.name:Firefox os.name:Linux")),
        ("server_name:web-1*", issues("server_name:web-1*")),
        ("user.email:user42@example.com", issues("user.email:user42@example.com")),
        ("free text: PaymentDeclined", issues("PaymentDeclined")),
        ('free text: "order 4711"', issues('"order 4711"')),
        ('message:"while processing order 99"', issues('message:"while processing order 99"')),
        ("release:latest", issues("release:latest")),
        ("!environment:production", issues("!environment:production")),
        ("has:user.email is:unresolved", issues("has:user.email is:unresolved")),
        (f"trace:{trace[:8]}…", issues(f"trace:{trace}")),
        ("event.timestamp:-1h", issues("event.timestamp:-1h")),
        (
            "(level:fatal OR level:warning) environment:staging timesSeen:>100",
            issues("(level:fatal OR level:warning) environment:staging timesSeen:>100"),
        ),
        ("is:for_review, last 24 h", issues("is:for_review", period=timedelta(hours=24))),
        ("assigned:none is:unresolved", issues("assigned:none is:unresolved")),
        ("stack.filename:app/module_42.py", issues("stack.filename:app/module_42.py")),
        ("stack.function:helper_7*", issues("stack.function:helper_7*")),
        ("stack.module:django.db.*", issues("stack.module:django.db.*")),
        ("!stack.function:handler_1", issues("!stack.function:handler_1")),
        (
            "stack.abs_path:/srv/app/helpers_3.py, last 24 h",
            issues("stack.abs_path:/srv/app/helpers_3.py", period=timedelta(hours=24)),
        ),
        (
            "transactions: type:transaction op:process_events status:internal_error (24 h)",
            transactions("type:transaction op:process_events status:internal_error", 24),
        ),
        (
            'transactions: transaction.duration:>1s transaction:"GET /api/items/7" (24 h)',
            transactions('transaction.duration:>1s transaction:"GET /api/items/7"', 24),
        ),
        ("transactions: measurements.lcp:>2500 (24 h)", transactions("measurements.lcp:>2500", 24)),
        ("transactions: status:internal_error (30 days)", transactions("status:internal_error")),
        (
            "events: level:error browser.name:Firefox (24 h)",
            events("level:error browser.name:Firefox", 24),
        ),
        (
            "events: environment:staging release:latest (7 days)",
            events("environment:staging release:latest", 24 * 7),
        ),
        (
            "events: stack.function:handler_7 (7 days)",
            events("stack.function:handler_7", 24 * 7),
        ),
        (
            "events: stack.filename:app/helpers_1* (24 h)",
            events("stack.filename:app/helpers_1*", 24),
        ),
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=5_000)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="on a throw-away cluster")
    args = parser.parse_args()
    if args.postgres and not os.environ.get("DATABASE_URL"):
        argv = [a for a in sys.argv[1:] if a != "--postgres"]
        command = [sys.executable, str(ROOT / "tests" / "pgcluster.py"), "--"]
        command += [sys.executable, str(Path(__file__).resolve()), *argv, "--postgres"]
        sys.exit(subprocess.call(command, cwd=ROOT))
    with tempfile.TemporaryDirectory(prefix="spyglass-search-bench-") as tmp:
        os.environ["SPYGLASS_DATA_DIR"] = tmp
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        seeded = seed(args)
        print(
            f"database: {connection.vendor}; {seeded['events']:,} events, {args.issues:,} issues,"
            f" {seeded['tag_values']:,} issue tag values, {args.transactions:,} transactions;"
            f" seeded in {seeded['seconds']:.0f} s (events {seeded['events_seconds']:.0f} s)"
        )
        print(f"{args.runs} runs of each search after one warm-up; milliseconds\n")
        print("| Search | p50 | p95 |")
        print("|---|---:|---:|")
        everything: list[float] = []
        for label, run in searches(seeded):
            run()
            times = []
            for _ in range(args.runs):
                started = time.perf_counter()
                run()
                times.append((time.perf_counter() - started) * 1000)
            everything.extend(times)
            print(f"| `{label}` | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} |")
        print(
            f"| **all searches** | **{statistics.median(everything):.1f}** |"
            f" **{percentile(everything, 0.95):.1f}** |"
        )


if __name__ == "__main__":
    main()
