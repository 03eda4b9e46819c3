"""Event search (`spyglass.events.query`): the errors dataset's keys on hand-made events whose
columns, tags, users and issues tell the keys apart; a table of queries and the events each
finds (by label), on SQLite and PostgreSQL like the rest of the suite."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spyglass.digest.counters import count_frames
from spyglass.digest.frames import search_frames
from spyglass.events.models import Event
from spyglass.events.query import event_queryset, filter_events
from spyglass.issues.models import Issue
from spyglass.issues.search import SearchNotSupported
from spyglass.releases.models import Release
from spyglass.search import SearchSyntaxError
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)

ISSUES = {
    "db": ("DatabaseError: connection reset", {"type": "DatabaseError", "filename": "app/db.py"}),
    "zero": ("ZeroDivisionError: division by zero", {"type": "ZeroDivisionError"}),
    "js": ("TypeError: x is undefined", {"type": "TypeError", "function": "render"}),
}


@dataclass
class Seed:
    label: str
    issue: str
    level: str = "error"
    environment: str = "production"
    release: str = "api@1.0.0"
    transaction: str = ""
    message: str = ""
    user_key: str = ""
    tags: list[tuple[str, str]] = field(default_factory=list)
    trace_id: str = ""
    ago: timedelta = H
    platform: str = "python"
    type: str = "error"
    frames: list[dict[str, Any]] = field(default_factory=list)
    threads: list[dict[str, Any]] = field(default_factory=list)


DB_FRAME = {"filename": "app/db.py", "function": "connect", "module": "app.db"}


SEEDS = [
    Seed(
        "db-1",
        "db",
        transaction="POST /api/checkout",
        user_key="id:1",
        tags=[("handled", "no"), ("mechanism", "django"), ("server_name", "web-1")],
        trace_id="a" * 32,
        frames=[{"filename": "lib/pool.py", "function": "checkout"}, DB_FRAME],
    ),
    Seed(
        "db-2",
        "db",
        environment="staging",
        release="api@1.1.0",
        transaction="POST /api/checkout",
        user_key="email:dana@example.com",
        tags=[("handled", "no"), ("server_name", "web-2"), ("customer", "acme")],
        ago=30 * H,
        frames=[{"filename": "lib/retry.py", "function": "retry", "module": "retry"}, DB_FRAME],
    ),
    Seed(
        "zero-1",
        "zero",
        level="warning",
        message="division by zero while computing the cart total",
        user_key="username:carol",
        tags=[("handled", "yes"), ("customer", "globex"), ("http.status_code", "500")],
        transaction="GET /api/cart",
        threads=[{"id": 7, "main": True, "current": True}],
    ),
    Seed(
        "zero-2",
        "zero",
        level="fatal",
        user_key="ip:10.0.0.1",
        tags=[("customer", "100%_off"), ("url", "https://shop.example.com/cart?a=1")],
        release="api@1.1.0",
        type="default",
        frames=[{"function": "abort", "package": "/usr/lib/libc.so.6"}],
    ),
    Seed(
        "js-1",
        "js",
        release="web@3.0.0",
        platform="javascript",
        tags=[("browser.name", "Chrome"), ("os.name", "Windows"), ("browser", "Chrome 130")],
        trace_id="b" * 32,
        frames=[
            {
                "filename": "app.js",
                "abs_path": "https://shop.example.com/static/app.js",
                "function": "render",
            }
        ],
    ),
]
ALL = {seed.label for seed in SEEDS}

TABLE: list[tuple[str, set[str]]] = [
    ("", ALL),
    ("level:error", {"db-1", "db-2", "js-1"}),
    ("level:[warning, fatal]", {"zero-1", "zero-2"}),
    ("!level:error", {"zero-1", "zero-2"}),
    ("event.type:error", ALL - {"zero-2"}),
    ("event.type:default", {"zero-2"}),
    ("event.type:transaction", set()),
    ("environment:staging", {"db-2"}),
    ("!environment:staging", ALL - {"db-2"}),
    ("release:api@1.1.0", {"db-2", "zero-2"}),
    ("release:api@*", ALL - {"js-1"}),
    ("release:latest", {"db-2", "zero-2", "js-1"}),
    ("release.version:1.1.0", {"db-2", "zero-2"}),
    ("release.version:>=1.1.0", {"db-2", "zero-2", "js-1"}),
    ("release.version:<1.1.0", ALL - {"db-2", "zero-2", "js-1"}),
    ("release.package:web", {"js-1"}),
    ("!release.package:api", {"js-1"}),
    ("has:release.package", ALL),
    ("release.build:*", set()),
    ("has:release.build", set()),
    ("release.stage:low_adoption", ALL),  # no sessions: every release
    ("release.stage:[adopted, replaced]", set()),
    ("transaction:POST*", {"db-1", "db-2"}),
    ("has:transaction", {"db-1", "db-2", "zero-1"}),
    ("platform:javascript", {"js-1"}),
    ("trace:" + "a" * 32, {"db-1"}),
    ("has:trace", {"db-1", "js-1"}),
    ("id:" + f"{3:032x}", {"zero-1"}),
    ("user.id:1", {"db-1"}),
    ("user.email:*@example.com", {"db-2"}),
    ("user.username:carol", {"zero-1"}),
    ("user.ip:10.0.0.1", {"zero-2"}),
    ("has:user.email", {"db-2"}),
    ("has:user", {"db-1", "db-2", "zero-1", "zero-2"}),
    ("error.handled:true", {"zero-1"}),
    ("error.unhandled:true", {"db-1", "db-2"}),
    ("has:error.handled", {"db-1", "db-2", "zero-1"}),
    ("error.mechanism:django", {"db-1"}),
    ("server_name:web-*", {"db-1", "db-2"}),
    ("customer:acme", {"db-2"}),
    ("tags[customer]:globex", {"zero-1"}),
    ("customer:100%_off", {"zero-2"}),
    ("customer:100*", {"zero-2"}),
    ("customer:1_0*", set()),
    ("!has:customer", {"db-1", "js-1"}),
    ("browser.name:Chrome", {"js-1"}),
    ("browser:Chrome*", {"js-1"}),
    ("os.name:Windows", {"js-1"}),
    ("http.status_code:500", {"zero-1"}),
    ("url:*cart*", {"zero-2"}),
    ("error.type:DatabaseError", {"db-1", "db-2"}),
    ("error.type:*Error", ALL),
    ("location:app/db.py", {"db-1", "db-2"}),
    ("stack.function:render", {"js-1"}),
    ("has:stack.function", {"db-1", "db-2", "zero-2", "js-1"}),
    ("stack.filename:lib/retry.py", {"db-2"}),
    ("!stack.filename:lib/retry.py", ALL - {"db-2"}),
    ("stack.function:CHECK*", {"db-1"}),
    ("stack.function:check*connect", set()),
    ("stack.abs_path:https://shop.example.com/*", {"js-1"}),
    ("stack.module:app.db", {"db-1", "db-2"}),
    ("!has:stack.module", {"zero-1", "zero-2", "js-1"}),
    ("stack.package:*libc*", {"zero-2"}),
    ("error.main_thread:true", {"zero-1"}),
    ("error.main_thread:false", set()),
    ("!has:error.main_thread", ALL - {"zero-1"}),
    ("message:cart", {"zero-1"}),
    ("division", {"zero-1", "zero-2"}),
    ("DIVISION BY", {"zero-1", "zero-2"}),
    ("cart total", {"zero-1"}),
    ("event.timestamp:<2026-11-21T12:00:00", {"db-2"}),
    ("level:error OR level:fatal", {"db-1", "db-2", "js-1", "zero-2"}),
    ("(environment:staging OR platform:javascript) !level:fatal", {"db-2", "js-1"}),
]


def seed_events(world: World) -> dict[str, Event]:
    for version, frontend in [("api@1.0.0", False), ("api@1.1.0", False), ("web@3.0.0", True)]:
        release = Release.objects.create(organization=world.org, version=version)
        release.projects.add(world.other_project if frontend else world.project)
    issues: dict[str, Issue] = {}
    for number, (label, (title, metadata)) in enumerate(ISSUES.items(), start=1):
        project = world.other_project if label == "js" else world.project
        issues[label] = Issue.objects.create(
            project=project,
            number=number,
            title=title,
            metadata=metadata,
            first_seen=NOW - 40 * H,
            last_seen=NOW,
        )
    events: dict[str, Event] = {}
    for number, seed in enumerate(SEEDS, start=1):
        issue = issues[seed.issue]
        text = search_frames(
            {
                "exception": {"values": [{"stacktrace": {"frames": seed.frames}}]},
                "threads": {"values": seed.threads},
            }
        )  # counted into the issue's texts, as the digest does
        frames = count_frames([(issue.pk, text, NOW - seed.ago)])
        events[seed.label] = Event.objects.create(
            project=issue.project,
            issue=issue,
            event_id=f"{number:032x}",
            timestamp=NOW - seed.ago,
            received_at=NOW - seed.ago,
            type=seed.type,
            level=seed.level,
            platform=seed.platform,
            release=seed.release,
            environment=seed.environment,
            transaction=seed.transaction,
            title=issue.title,
            message=seed.message or issue.title,
            trace_id=seed.trace_id,
            user_key=seed.user_key,
            tags=[list(pair) for pair in [("level", seed.level), *seed.tags]],
            frames_id=frames.get((issue.pk, text)),
            body=b"",
        )
    return events


@pytest.fixture
def seeded(world: World) -> tuple[World, dict[str, Event]]:
    return world, seed_events(world)


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[q or "<empty>" for q, _ in TABLE])
def test_event_search_table(
    seeded: tuple[World, dict[str, Event]], query: str, expected: set[str]
) -> None:
    world, events = seeded
    labels = {event.pk: label for label, event in events.items()}
    found = event_queryset([world.project, world.other_project.pk], query)
    assert {labels[pk] for pk in found.values_list("pk", flat=True)} == expected


def test_an_issues_events_use_the_same_keys(seeded: tuple[World, dict[str, Event]]) -> None:
    _, events = seeded
    issue = events["db-1"].issue
    rows = filter_events(Event.objects.filter(issue=issue), "customer:acme release:latest")
    assert list(rows) == [events["db-2"]]


def test_projects_period_and_environment(seeded: tuple[World, dict[str, Event]]) -> None:
    world, events = seeded
    assert set(event_queryset([world.other_project], "")) == {events["js-1"]}
    recent = event_queryset([world.project], "issue_free", start=NOW - 2 * H)
    assert list(recent) == []
    assert set(event_queryset([world.project], "", end=NOW - 2 * H)) == {events["db-2"]}
    staging = event_queryset([world.project], "", environment=["staging"])
    assert set(staging) == {events["db-2"]}


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("is:unresolved", 0),  # an issue key: the parser refuses it for events
        ("level:loud", 6),
        ("has:release.stage", 0),
        ("x has:release.stage", 2),
    ],
)
def test_errors_are_positioned(
    seeded: tuple[World, dict[str, Event]], query: str, position: int
) -> None:
    world, _ = seeded
    with pytest.raises(SearchSyntaxError) as caught:
        list(event_queryset([world.project], query))
    assert caught.value.position == position


@pytest.mark.parametrize(
    "value",
    [
        "' OR 1=1 --",
        "\\",
        "%",
        "_",
        "\x00",
        "x" * 10_000,
        "\ud800",
        "*" * 40,
        "connect\x1f3retry",  # two entries of db-2's frames text with their separator
    ],
)
def test_hostile_values_are_empty_or_an_error(
    seeded: tuple[World, dict[str, Event]], value: str
) -> None:
    world, _ = seeded
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    for query in [
        f"customer:{quoted}",
        f"transaction:{quoted}",
        f"error.type:{quoted}",
        f"stack.function:{quoted}",
    ]:
        try:
            found = list(event_queryset([world.project], query))
        except SearchNotSupported as error:
            assert len(value) > 1024 or value.count("*") > 16
            assert error.position == 0
            continue
        assert found == [] or set(value) == {"*"}


def test_free_text_follows_inserted_changed_and_deleted_messages(
    seeded: tuple[World, dict[str, Event]],
) -> None:
    """On SQLite the messages' trigram index is kept by triggers (any write path)."""
    from spyglass.issues.search import issue_queryset
    from spyglass.search import Scope, parse

    world, events = seeded

    def issues(text: str) -> set[str]:
        ast = parse(text, now=NOW, scope=Scope.ISSUE)
        rows = issue_queryset(ast, project_ids=[world.project.pk], user=None, now=NOW)
        return set(rows.values_list("title", flat=True))

    zero = events["zero-1"].issue.title
    assert issues("computing the CART") == {zero}
    assert issues('"cart \\"total\\""') == set()
    Event.objects.filter(pk=events["zero-1"].pk).update(message='the "quick" brown fox')
    assert issues("computing the cart") == set()
    assert issues('"quick\\" brown"') == {zero}
    assert issues("brown*fox") == {zero}
    assert issues("ow") == {zero}  # shorter than a trigram: LIKE alone
    Event.objects.filter(pk=events["zero-1"].pk).delete()
    assert issues("brown fox") == set()
