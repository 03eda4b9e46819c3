"""Server time of the web pages at a million events: p50/p95 per page, wall and CPU.

    python bench/web_pages.py [--events 1000000] [--issues 5000] [--transactions 100000]
                              [--runs 5] [--data-dir DIR] [--seed-only]

Seeds the dataset of ``bench/search.py`` (one project, ``--issues`` issues with Zipf-like
event counts, ``--events`` error events over 30 days, 200 releases, 50 tag keys,
``--transactions`` transactions) into a throw-away data directory, or with ``--data-dir`` into
that directory, where the next run finds it again (it migrates it first, so a kept database
follows the schema). The seeded user (an owner of the seeded organization) is signed in with
Django's test ``Client`` (``force_login``), and each page is fetched in-process: one warm-up,
then ``--runs`` timed runs, ``time.perf_counter`` (wall) and ``time.process_time`` (CPU of
this process, the steadier figure on a loaded machine) around ``client.get``. It prints a
Markdown table with p50/p95 of both and the number of SQL queries, and flags pages over the
300 ms budget of issue 4.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUDGET_MS = 300.0
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def reuse() -> dict[str, Any] | None:
    """What an earlier run seeded in the kept data directory, if it did."""
    from spyglass.accounts.models import User
    from spyglass.projects.models import Project

    user = User.objects.filter(email="bench@example.com").first()
    project = Project.objects.filter(organization__name="Bench", slug="backend").first()
    if user is None or project is None:
        return None
    from spyglass.performance.models import Transaction

    if not Transaction.objects.filter(project=project).exists():
        return None  # an interrupted seeding: the transactions go in last
    return {"project": project, "user": user}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--issues", type=int, default=5_000)
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--data-dir", help="keep (and reuse) the seeded SQLite database here")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument("--only", help="only the pages whose label contains this text")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spyglass-web-bench-") as tmp:
        os.environ["SPYGLASS_DATA_DIR"] = args.data_dir or tmp
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        search_bench = importlib.import_module("search")  # bench/search.py: its seed()

        from django.conf import settings

        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
        call_command("migrate", verbosity=0)
        seeded = reuse() if args.data_dir else None
        if seeded is None:
            seeded = search_bench.seed(args)
            print(f"seeded in {seeded['seconds']:.0f} s (events {seeded['events_seconds']:.0f} s)")
        from spyglass.events.models import Event

        if not Event.objects.filter(project=seeded["project"]).exclude(body=b"").exists():
            print(f"{give_bodies(seeded['project'].pk):,} events given a body")
        from spyglass.issues.models import IssueHash

        if not IssueHash.objects.filter(project=seeded["project"]).exists():
            print(f"{give_hashes(seeded['project'].pk):,} issues given a grouping hash")
        if args.seed_only:
            return
        run_pages(seeded, args, connection.vendor)


def give_bodies(project_id: int) -> int:
    """The search seeding leaves event bodies empty (its point is the columns); the pages
    show an event, and the similar-issues page reads the in-app frames of each candidate's
    latest event. So the latest event of every issue, and the oldest of each, get a real
    Python SDK error event (a captured Flask 500) with that issue's exception and frame."""
    import copy
    import json

    from django.db import connection, transaction

    from spyglass.events.bodies import compress
    from spyglass.issues.models import Issue

    payloads = importlib.import_module("payloads")  # bench/payloads.py: the SDK captures
    template = payloads._load("python/flask_500/001_POST_api_1_envelope")["payload"]
    given = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for issue in Issue.objects.filter(project_id=project_id).only("id", "metadata"):
            meta = issue.metadata if isinstance(issue.metadata, dict) else {}
            for order in ("DESC", "ASC"):
                cursor.execute(
                    "SELECT id, event_id FROM events_event WHERE issue_id = %s"
                    f" ORDER BY timestamp {order}, id {order} LIMIT 1",
                    [issue.pk],
                )
                row = cursor.fetchone()
                if row is None:
                    continue
                body = copy.deepcopy(template)
                body["event_id"] = row[1]
                exception = body["exception"]["values"][-1]
                exception["type"] = meta.get("type", exception["type"])
                exception["value"] = meta.get("value", exception["value"])
                for frame in exception["stacktrace"]["frames"]:
                    if frame.get("in_app"):
                        frame["module"] = meta.get("filename", "app.py")[:-3].replace("/", ".")
                        frame["function"] = meta.get("function", frame.get("function"))
                data = compress(project_id, json.dumps(body).encode())
                cursor.execute("UPDATE events_event SET body = %s WHERE id = %s", [data, row[0]])
                given += 1
    return given


def give_hashes(project_id: int) -> int:
    """One grouping hash per issue, as the digest files them (the search seeding has none):
    the issue page lists them with their stored events."""
    from spyglass.issues.models import Issue, IssueHash

    rows = [
        IssueHash(project_id=project_id, issue_id=pk, hash=f"{pk:032x}", grouping_config="bench")
        for pk in Issue.objects.filter(project_id=project_id).values_list("id", flat=True)
    ]
    IssueHash.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


class Counter:
    """An execute wrapper that counts the SQL statements of a request."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def pages(seeded: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, URL) of the pages to time; the issue numbers come from the seeded data."""
    from urllib.parse import unquote, urlencode

    from django.test import Client
    from django.urls import reverse

    from spyglass.events.models import Event
    from spyglass.issues.models import Issue
    from spyglass.issues.stream import SORTS, TABS

    project = seeded["project"]
    org = project.organization
    kw = {"org_slug": org.slug, "project_slug": project.slug}
    stream = reverse("issues:stream", kwargs=kw)
    issues = Issue.objects.filter(project=project)
    big = issues.order_by("-times_seen", "id").first()
    small = issues.filter(times_seen__gt=0).order_by("times_seen", "id").first()
    assert big is not None and small is not None, "no issues seeded"
    out: list[tuple[str, str]] = [
        ("organization home", reverse("projects:organization", kwargs={"org_slug": org.slug})),
        ("project issue stream (default)", stream),
    ]
    for tab in TABS:
        out.append((f"stream, tab {tab}", f"{stream}?{urlencode({'tab': tab})}"))
    for sort in SORTS:
        out.append((f"stream, sort {sort}", f"{stream}?{urlencode({'sort': sort})}"))
    out.append(("stream, environment=production", f"{stream}?environment=production"))
    for text in (
        "is:unresolved environment:production level:error",
        'release:"backend@1.150.0"',
        "user.count:>=10",
        'transaction:"GET /api/items/7"',
        "error.type:*Database*",
    ):
        out.append((f"stream, search `{text}`", f"{stream}?{urlencode({'query': text})}"))
    # page 2: the cursor the first page links to
    client = Client()
    client.force_login(seeded["user"])
    first = client.get(stream)
    found = re.search(r'rel="next" href="[^"]*cursor=([^"&]+)"', first.content.decode())
    if found:
        cursor = unquote(found.group(1))
        out.append(("stream, page 2 (cursor)", f"{stream}?{urlencode({'cursor': cursor})}"))
    out.append(
        (
            "organization-wide stream",
            reverse("issues:organization_stream", kwargs={"org_slug": org.slug}),
        )
    )
    for name, issue in (("big", big), ("small", small)):
        ikw = {**kw, "number": issue.number}
        label = f"{name} issue ({issue.times_seen:,} events)"
        detail = reverse("issues:detail", kwargs=ikw)
        out.append((f"{label}: issue page (latest event)", detail))
        older = (
            Event.objects.filter(issue=issue)
            .order_by("timestamp", "id")
            .values_list("event_id", flat=True)
        ).first()
        if older:
            out.append((f"{label}: issue page, its oldest event", f"{detail}?event={older}"))
            out.append(
                (
                    f"{label}: an event's JSON",
                    reverse("issues:event_json", kwargs={**ikw, "event_id": older}),
                )
            )
        out.append((f"{label}: events list", reverse("issues:events", kwargs=ikw)))
        out.append(
            (
                f"{label}: tag `browser.name`, all values",
                reverse("issues:tag_values", kwargs={**ikw, "key": "browser.name"}),
            )
        )
        out.append(
            (
                f"{label}: tag `user`, all values",
                reverse("issues:tag_values", kwargs={**ikw, "key": "user"}),
            )
        )
        out.append((f"{label}: similar issues", reverse("issues:similar", kwargs=ikw)))
    for name in (
        "settings",
        "settings_keys",
        "settings_filters",
        "settings_scrubbing",
        "settings_rules",
        "settings_teams",
    ):
        out.append((f"project {name.replace('_', ' ')}", reverse(f"projects:{name}", kwargs=kw)))
    out.append(("performance overview", reverse("performance:overview", kwargs=kw)))
    return out


def run_pages(seeded: dict[str, Any], args: argparse.Namespace, vendor: str) -> None:
    from django.db import connection
    from django.test import Client

    from spyglass.events.models import Event
    from spyglass.issues.models import Issue
    from spyglass.performance.models import Transaction

    project = seeded["project"]
    client = Client()
    client.force_login(seeded["user"])
    load = os.getloadavg()
    print(
        f"database: {vendor}; {Event.objects.count():,} events,"
        f" {Issue.objects.filter(project=project).count():,} issues,"
        f" {Transaction.objects.filter(project=project).count():,} transactions;"
        f" load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"{args.runs} runs of each page after one warm-up; milliseconds\n")
    print("| Page | wall p50 | wall p95 | CPU p50 | CPU p95 | queries | |")
    print("|---|---:|---:|---:|---:|---:|---|")
    over: list[str] = []
    for label, url in pages(seeded):
        if args.only and args.only not in label:
            continue
        queries = Counter()
        with connection.execute_wrapper(queries):
            response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{label}: {url} answered {response.status_code}")
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.get(url)
            cpus.append((time.process_time() - cpu) * 1000)
            walls.append((time.perf_counter() - wall) * 1000)
            assert response.status_code == 200
        slow = " and ".join(
            name
            for name, values in (("wall", walls), ("CPU", cpus))
            if statistics.median(values) > BUDGET_MS
        )
        if slow:
            over.append(f"{label} ({slow})")
        print(
            f"| {label} | {statistics.median(walls):.0f} | {percentile(walls, 0.95):.0f} |"
            f" {statistics.median(cpus):.0f} | {percentile(cpus, 0.95):.0f} |"
            f" {queries.count} | {f'**over 300 ms** ({slow})' if slow else ''} |",
            flush=True,
        )
    load = os.getloadavg()
    print(f"\nload average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"over {BUDGET_MS:.0f} ms (p50): {', '.join(over) if over else 'none'}")


if __name__ == "__main__":
    main()
