"""Issue search on a hand-made set of issues whose statuses, levels, priorities, categories,
releases, environments, tags, users and times tell the keys apart: a table of queries and the
issues each finds (by label), run on SQLite and on PostgreSQL like the rest of the suite."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models import QuerySet

from spyglass.digest.counters import count_frames
from spyglass.digest.frames import search_frames
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.issues.models import Category, Issue, Priority, Status, Substatus
from spyglass.issues.search import (
    FILTERS,
    IS_STATUS,
    IS_TRIAGE,
    SearchNotSupported,
    issue_queryset,
    order_issues,
)
from spyglass.releases.models import Release
from spyglass.search import KEYS, Scope, SearchSyntaxError, Sort, parse
from spyglass.search.keys import IS_VALUES
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
M, H, D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@dataclass
class Seed:
    label: str
    title: str
    frontend: bool = False
    status: int = Status.UNRESOLVED
    substatus: int | None = Substatus.ONGOING
    priority: int = Priority.HIGH
    level: str = "error"
    category: str = Category.ERROR
    type: str = "error"
    platform: str = "python"
    culprit: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    first_seen: timedelta = 10 * D  # before NOW
    last_seen: timedelta = 1 * H
    times_seen: int = 1
    users_seen: int = 0
    first_release: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)
    message: str = ""  # the event's message, when not the title
    trace_id: str = ""
    sdk: tuple[str, str] = ("sentry.python", "2.19.0")
    recent_events: int = 0  # in the last 24 hours, for the trends sort
    # The event's stack frames and threads, as the digest reads them (spyglass.digest.frames)
    frames: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)


SEEDS = [
    Seed(
        "db",
        "DatabaseError: connection reset",
        substatus=Substatus.NEW,
        culprit="app.db in connect",
        metadata={
            "type": "DatabaseError",
            "value": "connection reset",
            "filename": "app/db.py",
            "function": "connect",
        },
        frames=[
            {"filename": "lib/pool.py", "function": "checkout", "module": "pool"},
            {
                "filename": "app/db.py",
                "abs_path": "/srv/api/app/db.py",
                "function": "connect",
                "module": "app.db",
            },
        ],
        first_seen=30 * M,
        last_seen=5 * M,
        times_seen=120,
        users_seen=15,
        first_release="api@2.0.0",
        tags=[
            ("environment", "production"),
            ("release", "api@2.0.0"),
            ("transaction", "POST /api/checkout"),
            ("server_name", "web-1"),
            ("user", "id:1"),
            ("user", "email:dana@example.com"),
            ("handled", "no"),
            ("mechanism", "django"),
            ("url", "https://shop.example.com/api/checkout"),
        ],
        trace_id="a" * 32,
        recent_events=120,
    ),
    Seed(
        "zero",
        "ZeroDivisionError: division by zero",
        priority=Priority.MEDIUM,
        culprit="app.cart in total",
        metadata={"type": "ZeroDivisionError", "value": "division by zero"},
        frames=[
            {"function": "abort", "package": "/usr/lib/libc.so.6"},
            {"function": "total", "module": "app.cart", "package": "/srv/api/libcart.so"},
        ],
        first_seen=10 * D,
        last_seen=2 * H,
        times_seen=40,
        users_seen=3,
        first_release="api@1.0.0",
        tags=[
            ("environment", "staging"),
            ("release", "api@1.0.0"),
            ("release", "api@1.1.0"),
            ("release", "api@1.1.0+5"),
            ("transaction", "GET /api/cart"),
            ("handled", "yes"),
            ("mechanism", "logging"),
            ("server_name", "web-2"),
            ("user", "email:bob@example.com"),
        ],
        message="division by zero while computing the cart total",
        recent_events=4,
    ),
    Seed(
        "timeout",
        "TimeoutError: upstream timed out",
        status=Status.RESOLVED,
        substatus=None,
        level="fatal",
        metadata={"type": "TimeoutError", "value": "upstream timed out"},
        threads=[{"id": 1, "main": False}, {"id": 2, "main": True}],
        first_seen=3 * D,
        last_seen=1 * D,
        times_seen=5,
        users_seen=1,
        first_release="api@2.0.0",
        tags=[
            ("environment", "production"),
            ("environment", "staging"),
            ("release", "api@2.0.0"),
            ("transaction", "POST /api/checkout"),
            ("user", "ip:10.0.0.1"),
            ("handled", "no"),
        ],
    ),
    Seed(
        "slow",
        "Warning: slow query",
        status=Status.IGNORED,
        substatus=Substatus.UNTIL_ESCALATING,
        priority=Priority.MEDIUM,
        level="warning",
        culprit="app.reports",
        first_seen=40 * D,
        last_seen=20 * D,
        times_seen=2000,
        tags=[("environment", "development")],
        sdk=("sentry.python", "1.45.0"),
    ),
    Seed(
        "keyerror",
        "KeyError: 'user_id'",
        substatus=Substatus.REGRESSED,
        metadata={"type": "KeyError", "value": "'user_id'", "filename": "app/auth.py"},
        frames=[
            {"filename": "django/core/handlers.py", "function": "inner", "module": "django.core"},
            {"filename": "app/auth.py", "function": "login", "module": "app.auth"},
        ],
        first_seen=5 * D,
        last_seen=10 * M,
        times_seen=12,
        users_seen=10,
        first_release="api@1.1.0",
        tags=[
            ("environment", "production"),
            ("release", "api@2.1.0"),
            ("user", "username:carol"),
            ("customer", "acme"),
            ("level", "error"),
            ("url", "https://shop.example.com/search?q=100%_off"),
        ],
        recent_events=30,
    ),
    Seed(
        "cache",
        "Info: cache warmed",
        substatus=Substatus.ESCALATING,
        priority=Priority.LOW,
        level="info",
        first_seen=8 * D,
        last_seen=30 * M,
        times_seen=1500,
        tags=[("environment", "production"), ("customer", "globex"), ("server_name", "web-10")],
        recent_events=900,
    ),
    Seed(
        "typeerror",
        "TypeError: Cannot read properties of undefined (reading 'x')",
        frontend=True,
        substatus=Substatus.NEW,
        platform="javascript",
        metadata={"type": "TypeError", "value": "Cannot read properties of undefined"},
        threads=[{"id": 2, "main": False, "crashed": True}, {"id": 1, "main": True}],
        first_seen=2 * H,
        last_seen=1 * H,
        times_seen=300,
        users_seen=250,
        first_release="web@3.0.0",
        tags=[
            ("environment", "production"),
            ("release", "web@3.0.0"),
            ("browser.name", "Chrome"),
            ("os.name", "Windows"),
            ("url", "https://shop.example.com/checkout"),
            ("user", "id:42"),
            ("handled", "no"),
            ("mechanism", "onerror"),
        ],
        sdk=("sentry.javascript.browser", "8.40.0"),
        trace_id="b" * 32,
        recent_events=300,
    ),
    Seed(
        "chunk",
        "ChunkLoadError: Loading chunk 5 failed",
        frontend=True,
        status=Status.RESOLVED,
        substatus=None,
        priority=Priority.LOW,
        platform="javascript",
        metadata={"type": "ChunkLoadError"},
        first_seen=20 * D,
        last_seen=15 * D,
        times_seen=9,
        users_seen=9,
        first_release="web@2.9.0",
        tags=[
            ("environment", "production"),
            ("release", "web@2.9.0"),
            ("browser.name", "Firefox"),
            ("os.name", "Mac OS X"),
        ],
        sdk=("sentry.javascript.browser", "8.40.0"),
    ),
    Seed(
        "nplus1",
        "N+1 Query: SELECT * FROM orders WHERE id = %s",
        priority=Priority.LOW,
        level="info",
        category=Category.PERFORMANCE,
        type="performance_n_plus_one",
        first_seen=6 * D,
        last_seen=3 * H,
        times_seen=60,
        users_seen=2,
        tags=[("environment", "production"), ("transaction", "GET /api/orders")],
    ),
    Seed(
        "cron",
        "Missed check-in: nightly-report",
        priority=Priority.MEDIUM,
        category=Category.CRON,
        type="monitor_check_in",
        platform="",
        culprit=r"C:\jobs\nightly_report.py",
        first_seen=2 * D,
        last_seen=1 * D,
        times_seen=2,
        tags=[("environment", "production"), ("monitor.slug", "nightly-report")],
    ),
    Seed(
        "pct",
        r"Progress: 100% done_now \ back",
        status=Status.IGNORED,
        substatus=Substatus.FOREVER,
        priority=Priority.LOW,
        level="debug",
        first_seen=12 * D,
        last_seen=11 * D,
        times_seen=3,
        tags=[("environment", "development"), ("note", 'say "hi"'), ("my key", 'x "y"')],
    ),
]
LABELS = frozenset(seed.label for seed in SEEDS)
RELEASES = {  # version: (frontend, days before NOW)
    "api@1.0.0": (False, 30),
    "api@1.1.0": (False, 20),
    "api@1.1.0+5": (False, 19),
    "api@2.0.0": (False, 10),
    "api@2.1.0": (False, 2),
    "web@2.9.0": (True, 25),
    "web@3.0.0": (True, 1),
}


def seed_issues(world: World) -> dict[str, Issue]:
    for version, (frontend, days) in RELEASES.items():
        release = Release.objects.create(
            organization=world.org, version=version, created_at=NOW - days * D
        )
        release.projects.add(world.other_project if frontend else world.project)
    issues: dict[str, Issue] = {}
    for n, seed in enumerate(SEEDS, start=1):
        issues[seed.label] = _seed_issue(world, n, seed)
    return issues


def _seed_issue(world: World, n: int, seed: Seed) -> Issue:
    project = world.other_project if seed.frontend else world.project
    issue = Issue.objects.create(
        project=project,
        number=n,
        title=seed.title,
        culprit=seed.culprit,
        metadata=seed.metadata,
        status=seed.status,
        substatus=seed.substatus,
        priority=seed.priority,
        level=seed.level,
        category=seed.category,
        type=seed.type,
        platform=seed.platform,
        first_seen=NOW - seed.first_seen,
        last_seen=NOW - seed.last_seen,
        times_seen=seed.times_seen,
        users_seen=seed.users_seen,
        first_release=seed.first_release,
    )
    for key, value in [("level", seed.level), *seed.tags]:
        IssueTagValue.objects.get_or_create(
            issue=issue,
            key=key,
            value=value,
            defaults={
                "times_seen": 1,
                "first_seen": issue.first_seen,
                "last_seen": issue.last_seen,
            },
        )
    text = search_frames(
        {
            "exception": {"values": [{"stacktrace": {"frames": seed.frames}, "thread_id": 2}]},
            "threads": {"values": seed.threads},
        }
    )  # counted into the issue's texts, as the digest does
    Event.objects.create(
        project=project,
        issue=issue,
        event_id=f"{n:032x}",
        timestamp=issue.last_seen,
        received_at=issue.last_seen,
        level=seed.level,
        platform=seed.platform,
        title=seed.title,
        culprit=seed.culprit,
        message=seed.message or seed.title,
        trace_id=seed.trace_id,
        sdk_name=seed.sdk[0],
        sdk_version=seed.sdk[1],
        frames_id=count_frames([(issue.pk, text, issue.last_seen)]).get((issue.pk, text)),
        body=b"",
    )
    if seed.recent_events:
        bucket = int((NOW - H).timestamp()) // 3600 * 3600
        IssueCount.objects.create(
            issue=issue, resolution=3600, bucket=bucket, count=seed.recent_events
        )
    return issue


# --- the table: query -> the labels of the issues it finds ----------------------------------

ALL = " ".join(sorted(LABELS))
UNRESOLVED = "db zero keyerror cache typeerror nplus1 cron"
PRODUCTION = "db timeout keyerror cache typeerror chunk nplus1 cron"

TABLE: list[tuple[str, str]] = [
    # the seed searches of DESIGN.md
    ("is:unresolved environment:production level:error", "db keyerror typeerror cron"),
    ('release:"api@2.0.0"', "db timeout"),
    ("firstSeen:-1h", "db"),
    ("user.count:>=10", "db keyerror typeerror"),
    ('transaction:"POST /api/checkout"', "db timeout"),
    ("error.type:*Database*", "db"),
    # everything
    ("", ALL),
    ("   ", ALL),
    # is:
    ("is:unresolved", UNRESOLVED),
    ("is:resolved", "timeout chunk"),
    ("is:ignored", "slow pct"),
    ("is:archived", "slow pct"),
    ("is:muted", "slow pct"),
    ("is:new", "db typeerror"),
    ("is:ongoing", "zero nplus1 cron"),
    ("is:regressed", "keyerror"),
    ("is:escalating", "cache"),
    ("is:for_review", "db keyerror cache typeerror"),
    ("is:archived_until_escalating", "slow"),
    ("is:archived_forever", "pct"),
    ("is:archived_until_condition_met", ""),
    ("!is:unresolved", "timeout chunk slow pct"),
    ("is:[new, regressed]", "db typeerror keyerror"),
    ("!is:[resolved, ignored]", UNRESOLVED),
    ("is:unresolved is:new", "db typeerror"),
    ("is:resolved is:unresolved", ""),
    # levels, priorities, categories, types, platforms
    ("level:error", "db zero keyerror typeerror chunk cron"),
    ("level:fatal", "timeout"),
    ("level:WARNING", "slow"),
    ("level:[info, debug]", "cache nplus1 pct"),
    ("!level:error", "timeout slow cache nplus1 pct"),
    ("issue.priority:high", "db timeout keyerror typeerror"),
    ("issue.priority:[high, medium]", "db timeout keyerror typeerror zero slow cron"),
    ("is:unresolved issue.priority:[high, medium]", "db keyerror typeerror zero cron"),
    ("!issue.priority:low", "db timeout keyerror typeerror zero slow cron"),
    ("issue.category:performance", "nplus1"),
    ("issue.category:cron", "cron"),
    ("issue.category:error", "db zero timeout slow keyerror cache typeerror chunk pct"),
    ("issue.category:uptime", ""),
    ("issue.type:performance_*", "nplus1"),
    ("event.type:monitor_check_in", "cron"),
    ("platform:javascript", "typeerror chunk"),
    ("platform.name:python", "db zero timeout slow keyerror cache nplus1 pct"),
    ("!platform:python", "typeerror chunk cron"),
    ("has:platform", "db zero timeout slow keyerror cache typeerror chunk nplus1 pct"),
    ("!has:platform", "cron"),
    # counts
    ("timesSeen:>100", "db slow cache typeerror"),
    ("times_seen:>=120", "db slow cache typeerror"),
    ("timesSeen:<10", "timeout chunk cron pct"),
    ("timesSeen:<=9", "timeout chunk cron pct"),
    ("timesSeen:12", "keyerror"),
    ("timesSeen:1k", ""),
    ("timesSeen:>1k", "slow cache"),
    ("timesSeen:>=1.5k", "slow cache"),
    ("timesSeen:>1.5k", "slow"),
    ("timesSeen:<2.5", "cron"),
    ("timesSeen:>2.5 timesSeen:<3.5", "pct"),
    ("timesSeen:2.5", ""),
    ("timesSeen:[2, 3, 5]", "cron pct timeout"),
    ("!timesSeen:>10", "timeout chunk cron pct"),
    ("timesSeen:>9223372036854775807", ""),
    ("timesSeen:<9223372036854775807", ALL),
    ("timesSeen:>-5", ALL),
    ("user.count:0", "slow cache cron pct"),
    ("users_seen:>100", "typeerror"),
    ("user.count:[1, 2, 3]", "timeout nplus1 zero"),
    # dates
    ("lastSeen:-1h", "db keyerror cache typeerror"),
    ("lastSeen:+1d", "timeout slow chunk cron pct"),
    ("lastSeen:-24h", "db zero keyerror cache typeerror nplus1 cron timeout"),
    ("firstSeen:-7d", "db keyerror typeerror nplus1 cron timeout"),
    ("age:-7d", "db keyerror typeerror nplus1 cron timeout"),
    ("first_seen:+30d", "slow"),
    ("!firstSeen:-7d", "zero slow cache chunk pct"),
    ("firstSeen:2026-11-20", "cron"),
    ("firstSeen:2026-11-22", "db typeerror"),
    ("lastSeen:2026-11-22T11:50:00", "keyerror"),
    ("lastSeen:2026-11-22T11:50:00Z", "keyerror"),
    ("lastSeen:2026-11-22T13:50:00+02:00", "keyerror"),
    ("lastSeen:>2026-11-22", "db zero keyerror cache typeerror nplus1"),
    ("lastSeen:<2026-11-03", "slow"),
    ("firstSeen:>=2026-11-10 firstSeen:<2026-11-17", "zero cache nplus1 pct"),
    ("lastSeen:>2026-11-22T11:00:00 lastSeen:<2026-11-22T11:58:00", "db keyerror cache"),
    ("event.timestamp:-1h", "db keyerror cache typeerror"),
    ("timestamp:2026-11-07", "chunk"),
    # short ids and ids
    ("issue:BACKEND-1", "db"),
    ("issue:backend-a", "cron"),
    ("issue.short_id:FRONTEND-7", "typeerror"),
    ("issue:BACKEND-7", ""),
    ("issue:[BACKEND-1, BACKEND-B, FRONTEND-8]", "db pct chunk"),
    ("!issue:BACKEND-1", "zero timeout slow keyerror cache typeerror chunk nplus1 cron pct"),
    ("issue:BACKEND-ZZZZZZZZZZZZZ", ""),
    # releases
    ("release:api@1.1.0", "zero"),
    ("release:api@*", "db zero timeout keyerror"),
    ("release:latest", "keyerror typeerror"),
    ("release:[latest, api@1.0.0]", "keyerror typeerror zero"),
    # release.version / package / build: the releases' parts, versions compared as semver
    ("release.version:2.0.0", "db timeout"),
    ("release.version:1.1.0", "zero"),
    ("release.version:1.1.0+5", "zero"),
    ("release.version:2.*", "db timeout keyerror chunk"),
    ("release.version:>=2.0.0", "db timeout keyerror typeerror chunk"),
    ("release.version:>2.1.0", "typeerror chunk"),
    ("release.version:<2.0.0", "zero"),
    ("release.version:<=1.0.0", "zero"),
    ("release.version:[1.0.0, 3.0.0]", "zero typeerror"),
    ("release.version:9.9.9", ""),
    ("release.package:web", "typeerror chunk"),
    ("release.package:a*", "db zero timeout keyerror"),
    ("!release.package:api", "slow cache typeerror chunk nplus1 cron pct"),
    ("release.build:5", "zero"),
    ("release.build:6", ""),
    ("has:release.build", "zero"),
    ("has:release.package", "db zero timeout keyerror typeerror chunk"),
    ("!has:release.version", "slow cache nplus1 cron pct"),
    ("release.package:web release.version:<3.0.0", "chunk"),
    ("!release:api@2.0.0", "zero slow keyerror cache typeerror chunk nplus1 cron pct"),
    ("has:release", "db zero timeout keyerror typeerror chunk"),
    ("!has:release", "slow cache nplus1 cron pct"),
    ("firstRelease:api@2.0.0", "db timeout"),
    ("first-release:web@*", "typeerror chunk"),
    ("firstRelease:latest", "typeerror"),
    ("first_release:[latest, api@1.0.0]", "typeerror zero"),
    ("has:firstRelease", "db zero timeout keyerror typeerror chunk"),
    # environments
    ("environment:production", PRODUCTION),
    ("environment:staging", "zero timeout"),
    ("environment:[staging, development]", "zero timeout slow pct"),
    ("!environment:production", "zero slow pct"),
    ("environment:prod*", PRODUCTION),
    ("environment:PRODUCTION", ""),
    ("environment:*PROD*", PRODUCTION),
    ("environment:production environment:staging", "timeout"),
    # event keys through tags
    ("transaction:GET*", "zero nplus1"),
    ("transaction:*checkout", "db timeout"),
    ("!transaction:*checkout", "zero slow keyerror cache typeerror chunk nplus1 cron pct"),
    ("has:transaction", "db zero timeout nplus1"),
    ("url:*/checkout", "db typeerror"),
    ("http.url:*checkout*", "db typeerror"),
    ("browser.name:Chrome", "typeerror"),
    ("browser.name:[Chrome, Firefox]", "typeerror chunk"),
    ('os.name:"Mac OS X"', "chunk"),
    ("server_name:web-1", "db"),
    ("server_name:web-1*", "db cache"),
    ("user.id:42", "typeerror"),
    ("user.email:*@example.com", "db zero"),
    ("user.email:bob@example.com", "zero"),
    ("user.username:carol", "keyerror"),
    ("user.ip:10.0.0.1", "timeout"),
    ("has:user.email", "db zero"),
    ("has:user.id", "db typeerror"),
    ("error.handled:false", "db timeout typeerror"),
    ("error.unhandled:true", "db timeout typeerror"),
    ("error.handled:true", "zero"),
    ("error.unhandled:0", "zero"),
    ("error.mechanism:onerror", "typeerror"),
    ("has:error.mechanism", "db zero typeerror"),
    # tags
    ("customer:acme", "keyerror"),
    ("tags[customer]:globex", "cache"),
    ("customer:[acme, globex]", "keyerror cache"),
    ("!customer:acme", "db zero timeout slow cache typeerror chunk nplus1 cron pct"),
    ("has:customer", "keyerror cache"),
    ("!has:customer", "db zero timeout slow typeerror chunk nplus1 cron pct"),
    ("customer:*", "keyerror cache"),
    ("tags[level]:error", "db zero keyerror typeerror chunk cron"),
    ("monitor.slug:nightly-report", "cron"),
    ("nosuchtag:x", ""),
    ("FirstSeen:-24h", ""),
    # error metadata
    ("error.type:KeyError", "keyerror"),
    ("error.type:[KeyError, TypeError]", "keyerror typeerror"),
    ("error.type:*error", "db zero timeout keyerror typeerror chunk"),
    ("!error.type:*Error", "slow cache nplus1 cron pct"),
    ("error.value:*reset*", "db"),
    ("has:error.value", "db zero timeout keyerror typeerror"),
    ("stack.filename:app/*", "db keyerror"),
    ("stack.function:connect", "db"),
    ("location:app/auth.py", "keyerror"),
    # every frame of the events (not just the crash frame), and the thread
    ("stack.filename:lib/pool.py", "db"),
    ("location:django/*", "keyerror"),
    ("stack.filename:APP/*", "db keyerror"),
    ("stack.filename:APP/DB.PY", ""),
    ("stack.function:[checkout, inner]", "db keyerror"),
    ("stack.function:*out", "db"),
    ("stack.function:check*connect", ""),  # a wildcard stays within one value
    ("stack.function:conn*", "db"),
    ("stack.module:app.*", "db zero keyerror"),
    ("stack.module:django.core", "keyerror"),
    ("!stack.module:django.*", "db zero timeout slow cache typeerror chunk nplus1 cron pct"),
    ("stack.abs_path:/srv/*", "db"),
    ("has:stack.abs_path", "db"),
    ("stack.package:/usr/lib/*", "zero"),
    ("has:stack.package", "zero"),
    ("has:stack.module", "db zero keyerror"),
    ("!has:stack.filename", "zero timeout slow cache typeerror chunk nplus1 cron pct"),
    ("stack.function:abort stack.module:app.cart", "zero"),
    ("error.main_thread:false", "typeerror"),
    ("error.main_thread:true", "timeout"),
    ("has:error.main_thread", "timeout typeerror"),
    ("!error.main_thread:true", "db zero slow keyerror cache typeerror chunk nplus1 cron pct"),
    # event columns
    ("trace:" + "a" * 32, "db"),
    ("trace.id:b*", "typeerror"),
    ("has:trace", "db typeerror"),
    ("sdk.name:sentry.javascript.*", "typeerror chunk"),
    ("sdk.version:1.*", "slow"),
    ("id:" + f"{1:032x}", "db"),
    ("event.id:" + "00000000-0000-0000-0000-000000000007", "typeerror"),
    # free text and message
    ("connection reset", "db"),
    ("CONNECTION", "db"),
    ('"division by zero"', "zero"),
    ("cart total", "zero"),
    ("app.cart", "zero"),
    ("reset connection", ""),
    ("*Error: *o*", "db zero timeout typeerror chunk"),
    ("Loading chunk*", ""),
    ("*chunk 5 failed", "chunk"),
    ('message:"*timed out*"', "timeout"),
    ("message:*timed", ""),
    ("message:timed", "timeout"),
    ("!message:Error", "slow cache nplus1 cron pct"),
    ("title:*query*", "slow nplus1"),
    ('title:"Warning: slow query"', "slow"),
    # OR, AND and parentheses
    ("level:fatal OR level:warning", "timeout slow"),
    ("is:unresolved (level:fatal OR level:info)", "cache nplus1"),
    ("is:resolved OR is:ignored timesSeen:>100", "timeout chunk slow"),
    ("(is:resolved OR is:ignored) timesSeen:>100", "slow"),
    ("customer:acme OR has:trace OR issue:BACKEND-A", "keyerror db typeerror cron"),
    ("environment:staging AND !release:api@1.0.0", "timeout"),
    ("(level:error AND platform:javascript) OR level:debug", "typeerror chunk pct"),
    ("timesSeen:>100 OR has:customer", "db slow cache typeerror keyerror"),
    # wildcard and injection abuse: literal text, never a pattern or SQL
    ("100%", "pct"),
    ("title:*100%*", "pct"),
    ("%", "pct nplus1"),
    ("_", "pct keyerror cron"),
    ("title:_*", ""),
    ("title:*done_now*", "pct"),
    ("title:*done?now*", ""),
    ("url:*100%_off", "keyerror"),
    ("url:*100%x_off", ""),
    (r"title:*\\*", "pct"),
    (r'"C:\jobs\nightly_report.py"', "cron"),
    ("culprit_x", ""),
    ('"\' OR 1=1 --"', ""),
    ("title:\"' OR '1'='1\"", ""),
    ('title:"x\\"; DROP TABLE issues_issue; --"', ""),
    ('note:*\\"hi\\"*', "pct"),
    ('tags[note]:"say \\"hi\\""', "pct"),
    # a tag key no bare word or tags[...] can spell: quoted
    ('tags["my key"]:"x \\"y\\""', "pct"),
    ('tags["my key"]:x*', "pct"),
    ('has:tags["my key"]', "pct"),
    ('!has:tags["my key"]', "db zero timeout slow keyerror cache typeerror chunk nplus1 cron"),
    ('tags["my"]:x*', ""),
    ("\"'user_id'\"", "keyerror"),
    ("*", ALL),
    ("**", ALL),
    ("title:*", ALL),
]


def labels_of(text: str) -> set[str]:
    return set(text.split())


@pytest.fixture
def seeded(world: World) -> World:
    seed_issues(world)
    return world


def search(world: World, query: str, **options: object) -> QuerySet[Issue]:
    ast = parse(query, now=NOW, scope=Scope.ISSUE)
    projects = [world.project.id, world.other_project.id]
    return issue_queryset(ast, project_ids=projects, user=world.alice, now=NOW, **options)  # type: ignore[arg-type]


def found(world: World, query: str, **options: object) -> set[str]:
    by_title = {seed.title: seed.label for seed in SEEDS}
    return {
        by_title[title] for title in search(world, query, **options).values_list("title", flat=True)
    }


def test_the_table_is_large_and_names_only_seeded_issues() -> None:
    assert len(TABLE) >= 100
    assert len({query for query, _ in TABLE}) == len(TABLE)
    for _, expected in TABLE:
        assert labels_of(expected) <= LABELS, expected


def test_every_query_of_the_table_finds_its_issues(seeded: World) -> None:
    wrong = {}
    for query, expected in TABLE:
        got = found(seeded, query)
        if got != labels_of(expected):
            wrong[query] = (sorted(got), sorted(labels_of(expected)))
    assert not wrong


def test_a_negated_filter_finds_exactly_the_issues_the_filter_does_not(seeded: World) -> None:
    for query, expected in TABLE:
        if ":" in query and not query.startswith(("!", "(", '"')) and " " not in query:
            assert found(seeded, "!" + query) == LABELS - labels_of(expected), query


# --- the environment and period of the stream ------------------------------------------------


def test_the_environment_keeps_issues_with_events_there(seeded: World) -> None:
    assert found(seeded, "", environment="staging") == {"zero", "timeout"}
    assert found(seeded, "", environment=["staging", "development"]) == {
        "zero",
        "timeout",
        "slow",
        "pct",
    }
    assert found(seeded, "level:fatal", environment="staging") == {"timeout"}


def test_a_period_keeps_issues_seen_within_it_and_event_keys_look_only_there(
    seeded: World,
) -> None:
    day = timedelta(days=1)
    assert found(seeded, "", period=day) == labels_of(
        "db zero timeout keyerror cache typeerror nplus1 cron"
    )
    assert found(seeded, "environment:development", period=30 * D) == {"slow", "pct"}
    assert found(seeded, "environment:development", period=14 * D) == {"pct"}
    assert found(seeded, "!has:release", period=day) == {"cache", "nplus1", "cron"}


# --- sorts -----------------------------------------------------------------------------------

SORTED = {
    Sort.DATE: "db keyerror cache typeerror zero nplus1 cron timeout pct chunk slow",
    Sort.NEW: "db typeerror cron timeout keyerror nplus1 cache zero pct chunk slow",
    Sort.FREQ: "slow cache typeerror db nplus1 zero keyerror chunk timeout pct cron",
    Sort.USER: "typeerror db keyerror chunk zero nplus1 timeout cache cron pct slow",
    # log(times seen) * 600 + last seen: volume beats a few hours of recency.
    Sort.PRIORITY: "cache db keyerror typeerror zero nplus1 timeout cron pct chunk slow",
    # events in the last 24 hours, then last seen
    Sort.TRENDS: "cache typeerror db keyerror zero nplus1 cron timeout pct chunk slow",
}


@pytest.mark.parametrize("sort", list(Sort))
def test_each_sort_orders_the_issues(seeded: World, sort: Sort) -> None:
    by_title = {seed.title: seed.label for seed in SEEDS}
    ordered = order_issues(search(seeded, ""), sort, now=NOW)
    assert [by_title[title] for title in ordered.values_list("title", flat=True)] == SORTED[
        sort
    ].split()


# --- errors ----------------------------------------------------------------------------------

UNSUPPORTED = [
    "has:release.stage",
    "http.status_code:>499",
    "title:*" + "x" * 2000 + "*",
    "title:" + "a*" * 40,
]


@pytest.mark.parametrize("query", UNSUPPORTED)
def test_what_issue_search_cant_answer_is_an_error_at_the_filter(seeded: World, query: str) -> None:
    text = "level:error " + query
    with pytest.raises(SearchNotSupported) as caught:
        list(search(seeded, text))
    assert isinstance(caught.value, SearchSyntaxError)
    assert caught.value.position == len("level:error ")
    assert caught.value.end == len(text)


def test_very_long_values_and_odd_characters_find_nothing_or_their_issue(seeded: World) -> None:
    long = "x" * 10_000
    assert found(seeded, f'title:"{long}"') == set()
    assert found(seeded, f'customer:"{long}"') == set()
    assert found(seeded, f"!customer:{long}") == LABELS
    assert found(seeded, f'"{"y" * 900}"') == set()
    assert found(seeded, "issue.id:1.5") == set()
    assert found(seeded, 'title:"a\x00b"') == set()
    assert found(seeded, '!title:"a\x00b"') == LABELS
    assert found(seeded, "customer:\U0001f600*") == set()


def test_http_status_codes_match_as_text_tags(seeded: World) -> None:
    issue = Issue.objects.get(title__startswith="ZeroDivision")
    IssueTagValue.objects.create(
        issue=issue, key="http.status_code", value="500", first_seen=NOW, last_seen=NOW
    )
    assert found(seeded, "http.status_code:500") == {"zero"}
    assert found(seeded, "http.status_code:[404, 500]") == {"zero"}
    assert found(seeded, "http.status_code:404") == set()


def test_the_documentation_says_what_each_issue_key_searches() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "search.md").read_text()
    section = doc.split("## What each key searches (issue search)")[1].split("\n## ")[0]
    table, rules = section.split("Rules:")
    refused = rules.split("**Not supported yet**")[1].split("\n- ")[0]
    for spec in KEYS:
        if Scope.ISSUE not in spec.scopes:
            continue
        named = f"`{spec.name}`"
        if spec.name in FILTERS:
            assert named in table, spec.name
        else:
            assert named in refused, spec.name
    for value in IS_VALUES:
        assert f"`{value}`" in table, value
        assert value in IS_STATUS or value in IS_TRIAGE, value


def test_a_search_is_one_statement_and_latest_costs_one_more(
    seeded: World, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        found(seeded, "is:unresolved environment:production user.email:* connection OR !has:x")
    with django_assert_num_queries(2):
        found(seeded, "release:latest OR firstRelease:latest")


def test_release_stage_reads_adoption_from_the_sessions(seeded: World) -> None:
    from spyglass.releases.models import SessionCount

    def sessions(release: str, ago: timedelta, started: int, env: str = "production") -> None:
        bucket = int((NOW - ago).timestamp()) // 60 * 60
        SessionCount.objects.create(
            project=seeded.project, release=release, environment=env, bucket=bucket, started=started
        )

    # the last 24 hours: 2.1.0 and 2.0.0 have at least 10 % of production's sessions
    sessions("api@2.1.0", 2 * H, 80)
    sessions("api@2.0.0", 3 * H, 15)
    sessions("api@1.1.0", 3 * H, 5)
    # ten days ago 1.1.0 was adopted: now replaced
    sessions("api@1.1.0", 10 * D, 50)
    sessions("api@2.0.0", 10 * D, 50)
    sessions("api@1.0.0", 200 * D, 50)  # beyond the 90 days looked at
    assert found(seeded, "release.stage:adopted") == {"db", "timeout", "keyerror"}
    assert found(seeded, "release.stage:replaced") == {"zero"}
    assert found(seeded, "release.stage:low_adoption") == {"zero", "typeerror", "chunk"}
    assert found(seeded, "release.stage:[adopted, replaced]") == {
        "db",
        "timeout",
        "keyerror",
        "zero",
    }
    assert found(seeded, "!release.stage:adopted") == LABELS - {"db", "timeout", "keyerror"}
    # adopted in any environment is adopted: 1.1.0 has all of staging's sessions
    sessions("api@1.1.0", 3 * H, 1, env="staging")
    assert found(seeded, "release.stage:replaced") == set()
    assert "zero" in found(seeded, "release.stage:adopted")
