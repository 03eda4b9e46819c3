"""Transaction search on a hand-made set of transactions whose names, ops, statuses,
durations, measurements, HTTP fields, releases, environments, users, traces and tags tell the
keys apart: a table of queries and the transactions each finds (by label), on SQLite and on
PostgreSQL like the rest of the suite."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from spyglass.performance.models import Transaction
from spyglass.performance.search import SearchNotSupported, transaction_queryset
from spyglass.releases.models import Release
from spyglass.search import SearchSyntaxError
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


@dataclass
class Seed:
    label: str
    name: str
    op: str = "http.server"
    status: str = "ok"
    duration_ms: float = 100.0
    ago: timedelta = H
    release: str = "backend@1.0.0"
    environment: str = "production"
    user_key: str = ""
    http_method: str = ""
    http_status_code: int | None = None
    measurements: dict[str, float] = field(default_factory=dict)
    tags: list[tuple[str, str]] = field(default_factory=list)
    trace_id: str = ""
    platform: str = "python"
    sdk: tuple[str, str] = ("sentry.python", "2.19.0")
    frontend: bool = False


SEEDS = [
    Seed(
        "checkout",
        "/api/checkout",
        status="ok",
        duration_ms=1800.0,
        user_key="id:42",
        http_method="POST",
        http_status_code=200,
        tags=[("customer", "acme"), ("url", "https://shop.example.com/api/checkout")],
        trace_id="a" * 32,
    ),
    Seed(
        "checkout-fail",
        "/api/checkout",
        status="internal_error",
        duration_ms=5200.0,
        user_key="email:jane@example.com",
        http_method="POST",
        http_status_code=500,
        tags=[("customer", "globex"), ("server_name", "web-2")],
        release="backend@1.1.0",
    ),
    Seed(
        "products",
        "/api/products",
        duration_ms=45.0,
        http_method="GET",
        http_status_code=200,
        user_key="username:bob",
        tags=[("customer", "acme"), ("server_name", "web-1")],
        environment="staging",
    ),
    Seed(
        "not-found",
        "/api/products/{id}",
        status="not_found",
        duration_ms=12.5,
        http_method="GET",
        http_status_code=404,
        user_key="ip:10.0.0.7",
        trace_id="b" * 32,
    ),
    Seed(
        "worker",
        "process_events",
        op="process_events",
        status="internal_error",
        duration_ms=3000.0,
        tags=[("queue", "default"), ("promo", "50%_off")],
        platform="python",
    ),
    Seed(
        "worker-ok",
        "process_events",
        op="process_events",
        status="ok",
        duration_ms=900.0,
        ago=40 * H,
        tags=[("queue", "low")],
    ),
    Seed(
        "pageload",
        "/checkout/{step}",
        op="pageload",
        duration_ms=2600.0,
        measurements={"lcp": 3100.0, "fcp": 800.0, "cls": 0.12},
        tags=[("browser.name", "Firefox"), ("os.name", "Linux")],
        platform="javascript",
        sdk=("sentry.javascript.browser", "8.40.0"),
        frontend=True,
        release="frontend@2.0.0",
    ),
    Seed(
        "navigation",
        "/products",
        op="navigation",
        status="cancelled",
        duration_ms=400.0,
        measurements={"lcp": 1200.0, "ttfb.requesttime": 90.0},
        tags=[("browser.name", "Chrome"), ("os.name", "Windows")],
        platform="javascript",
        sdk=("sentry.javascript.browser", "8.41.0"),
        frontend=True,
        release="frontend@2.1.0",
        environment="staging",
    ),
    Seed(
        "odd",
        'He said "50%_off" \\o/',
        op="task",
        status="unknown",
        duration_ms=1000.0,
        tags=[("note", "a*b"), ("quote", 'say "hi"')],
    ),
]


def seed_transactions(world: World) -> dict[str, Transaction]:
    rows: dict[str, Transaction] = {}
    for number, seed in enumerate(SEEDS):
        project = world.other_project if seed.frontend else world.project
        rows[seed.label] = Transaction.objects.create(
            project=project,
            event_id=f"{number:032x}",
            trace_id=seed.trace_id or f"{number + 100:032x}",
            span_id=f"{number:016x}",
            name=seed.name,
            op=seed.op,
            status=seed.status,
            start=NOW - seed.ago,
            duration_ms=seed.duration_ms,
            received_at=NOW - seed.ago,
            release=seed.release,
            environment=seed.environment,
            user_key=seed.user_key,
            http_method=seed.http_method,
            http_status_code=seed.http_status_code,
            measurements={k: {"value": v, "unit": "none"} for k, v in seed.measurements.items()},
            tags=[list(pair) for pair in seed.tags],
            platform=seed.platform,
            sdk_name=seed.sdk[0],
            sdk_version=seed.sdk[1],
            body=b"",
        )
    return rows


@pytest.fixture
def seeded(world: World) -> tuple[World, dict[str, Transaction]]:
    for version, frontend in [
        ("backend@1.0.0", False),
        ("backend@1.1.0", False),
        ("frontend@2.0.0", True),
        ("frontend@2.1.0", True),
    ]:
        release = Release.objects.create(organization=world.org, version=version)
        release.projects.add(world.other_project if frontend else world.project)
    return world, seed_transactions(world)


ALL = {seed.label for seed in SEEDS}
BACKEND = {seed.label for seed in SEEDS if not seed.frontend}

TABLE: list[tuple[str, set[str]]] = [
    ("", ALL),
    ("event.type:transaction", ALL),
    ("type:transaction", ALL),
    ("event.type:error", set()),
    ("!event.type:transaction", set()),
    ("event.type:trans*", ALL),
    ("event.type:[error, transaction]", ALL),
    ("type:transaction op:process_events status:internal_error", {"worker"}),
    ("transaction.op:process_events", {"worker", "worker-ok"}),
    ("op:pageload", {"pageload"}),
    ("op:[pageload, navigation]", {"pageload", "navigation"}),
    ("!op:http.server", {"worker", "worker-ok", "pageload", "navigation", "odd"}),
    ("op:http.*", {"checkout", "checkout-fail", "products", "not-found"}),
    ("status:ok", {"checkout", "products", "worker-ok", "pageload"}),
    ("transaction.status:internal_error", {"checkout-fail", "worker"}),
    ("status:[not_found, cancelled]", {"not-found", "navigation"}),
    ("!status:ok", {"checkout-fail", "not-found", "worker", "navigation", "odd"}),
    ("transaction:/api/checkout", {"checkout", "checkout-fail"}),
    ("transaction:/api/products*", {"products", "not-found"}),
    ("transaction:*products*", {"products", "not-found", "navigation"}),
    ("transaction:/API/CHECKOUT", set()),  # exact is case-sensitive
    ("transaction:/API/CHECK*", {"checkout", "checkout-fail"}),  # wildcards are not
    ("!transaction:/api/checkout", ALL - {"checkout", "checkout-fail"}),
    ("transaction.duration:>1s", {"checkout", "checkout-fail", "worker", "pageload"}),
    ("transaction.duration:>=1s", {"checkout", "checkout-fail", "worker", "pageload", "odd"}),
    ("transaction.duration:<50ms", {"products", "not-found"}),
    ("transaction.duration:<=45", {"products", "not-found"}),
    ("transaction.duration:>5s", {"checkout-fail"}),
    ("transaction.duration:>1m", set()),
    ("transaction.duration:1000", {"odd"}),
    ("transaction.duration:>0.5s transaction.duration:<2s", {"checkout", "worker-ok", "odd"}),
    ("measurements.lcp:>2500", {"pageload"}),
    ("measurements.lcp:>2.5s", {"pageload"}),
    ("measurements.lcp:<2500", {"navigation"}),
    ("measurements.fcp:800", {"pageload"}),
    ("measurements.cls:>0.1", {"pageload"}),
    ("measurements.cls:<0.1", set()),
    ("measurements.ttfb.requesttime:<100", {"navigation"}),
    ("has:measurements.lcp", {"pageload", "navigation"}),
    ("!has:measurements.lcp", ALL - {"pageload", "navigation"}),
    ("has:measurements.inp", set()),
    ("http.method:POST", {"checkout", "checkout-fail"}),
    ("http.method:post", {"checkout", "checkout-fail"}),
    ("http.method:[GET, POST]", {"checkout", "checkout-fail", "products", "not-found"}),
    ("has:http.method", {"checkout", "checkout-fail", "products", "not-found"}),
    ("http.status_code:200", {"checkout", "products"}),
    ("http.status_code:>=400", {"checkout-fail", "not-found"}),
    ("http.status_code:[404, 500]", {"checkout-fail", "not-found"}),
    ("!http.status_code:200", ALL - {"checkout", "products"}),
    ("has:http.status_code", {"checkout", "checkout-fail", "products", "not-found"}),
    ("release:backend@1.1.0", {"checkout-fail"}),
    ("release:frontend@*", {"pageload", "navigation"}),
    ("release:latest", {"checkout-fail", "navigation"}),
    ("release:[latest, backend@1.0.0]", ALL - {"pageload"}),
    ("release.version:1.1.0", {"checkout-fail"}),
    ("release.version:>=2.0.0", {"pageload", "navigation"}),
    ("release.version:<2.1.0", ALL - {"navigation"}),
    ("release.package:frontend", {"pageload", "navigation"}),
    ("!release.package:backend", {"pageload", "navigation"}),
    ("has:release.package", ALL),
    ("release.build:*", set()),
    ("release.stage:low_adoption", ALL),  # no sessions
    ("release.stage:adopted", set()),
    ("environment:staging", {"products", "navigation"}),
    ("!environment:staging", ALL - {"products", "navigation"}),
    ("environment:prod*", ALL - {"products", "navigation"}),
    ("user.id:42", {"checkout"}),
    ("user.email:jane@example.com", {"checkout-fail"}),
    ("user.email:*@example.com", {"checkout-fail"}),
    ("user.username:bob", {"products"}),
    ("user.ip:10.0.0.7", {"not-found"}),
    ("user.id:jane@example.com", set()),
    ("has:user.email", {"checkout-fail"}),
    ("has:user", {"checkout", "checkout-fail", "products", "not-found"}),
    ("user:id:42", {"checkout"}),
    ("trace:" + "a" * 32, {"checkout"}),
    ("trace:" + "A" * 32, {"checkout"}),
    ("trace:[" + "a" * 32 + ", " + "b" * 32 + "]", {"checkout", "not-found"}),
    ("id:" + f"{2:032x}", {"products"}),
    ("id:" + "00000000-0000-0000-0000-000000000002", {"products"}),
    ("platform:javascript", {"pageload", "navigation"}),
    ("sdk.name:sentry.javascript.*", {"pageload", "navigation"}),
    ("sdk.version:8.41.0", {"navigation"}),
    ("customer:acme", {"checkout", "products"}),
    ("tags[customer]:acme", {"checkout", "products"}),
    ("customer:[acme, globex]", {"checkout", "checkout-fail", "products"}),
    ("customer:ACME", set()),
    ("customer:ac*", {"checkout", "products"}),
    ("!customer:acme", ALL - {"checkout", "products"}),
    ("has:customer", {"checkout", "checkout-fail", "products"}),
    ("!has:customer", ALL - {"checkout", "checkout-fail", "products"}),
    ("queue:default", {"worker"}),
    ("server_name:web-*", {"checkout-fail", "products"}),
    ("browser.name:Firefox", {"pageload"}),
    ("os.name:[Linux, Windows]", {"pageload", "navigation"}),
    ("has:browser.name", {"pageload", "navigation"}),
    ("url:*shop.example.com*", {"checkout"}),
    ("promo:50%_off", {"worker"}),
    ("promo:50*", {"worker"}),
    ("promo:*%_off", {"worker"}),
    ("promo:5*0_x", set()),
    ("promo:50__off", set()),
    ("note:a\\*b", {"odd"}),
    ("note:a*", {"odd"}),
    ('quote:"say \\"hi\\""', {"odd"}),
    ("checkout", {"checkout", "checkout-fail", "pageload"}),
    ("CHECKOUT", {"checkout", "checkout-fail", "pageload"}),
    ("/api/products", {"products", "not-found"}),
    ('"50%_off"', {"odd"}),
    ("50%", {"odd"}),
    ("%", {"odd"}),
    ("_", {"odd", "worker", "worker-ok"}),
    ("\\o/", {"odd"}),
    ("nothing-like-this", set()),
    ("op:pageload OR op:navigation", {"pageload", "navigation"}),
    ("op:pageload or status:not_found", {"pageload", "not-found"}),
    ("(op:pageload OR op:navigation) environment:staging", {"navigation"}),
    ("op:pageload OR op:navigation environment:staging", {"pageload", "navigation"}),
    ("status:ok AND transaction.duration:>1s", {"checkout", "pageload"}),
    (
        "(status:internal_error OR http.status_code:404) !op:process_events",
        {"checkout-fail", "not-found"},
    ),
    ("event.timestamp:>2026-11-21T00:00:00", ALL - {"worker-ok"}),
    ("timestamp:2026-11-20", {"worker-ok"}),
    ("event.timestamp:-24h", ALL - {"worker-ok"}),
]


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[q or "<empty>" for q, _ in TABLE])
def test_transaction_search_table(
    seeded: tuple[World, dict[str, Transaction]], query: str, expected: set[str]
) -> None:
    world, rows = seeded
    labels = {row.pk: label for label, row in rows.items()}
    if "-24h" in query:
        # relative dates resolve against the clock: move the rows next to it
        shift = datetime.now(UTC) - NOW
        for row in Transaction.objects.all():
            Transaction.objects.filter(pk=row.pk).update(start=row.start + shift)
    found = transaction_queryset([world.project, world.other_project.pk], query)
    assert {labels[pk] for pk in found.values_list("pk", flat=True)} == expected


def test_the_table_is_large_enough() -> None:
    assert len(TABLE) >= 100


def test_projects_limit_the_search(seeded: tuple[World, dict[str, Transaction]]) -> None:
    world, rows = seeded
    found = transaction_queryset([world.project], "op:pageload OR op:process_events")
    assert set(found) == {rows["worker"], rows["worker-ok"]}
    assert not transaction_queryset([], "").exists()


def test_period_and_environment(seeded: tuple[World, dict[str, Transaction]]) -> None:
    world, rows = seeded
    projects = [world.project, world.other_project]
    recent = transaction_queryset(projects, "op:process_events", start=NOW - 2 * H)
    assert set(recent) == {rows["worker"]}
    old = transaction_queryset(projects, "op:process_events", end=NOW - 2 * H)
    assert set(old) == {rows["worker-ok"]}
    staging = transaction_queryset(projects, "", environment="staging")
    assert set(staging) == {rows["products"], rows["navigation"]}
    both = transaction_queryset(projects, "op:navigation", environment=["staging", "x"])
    assert set(both) == {rows["navigation"]}


def test_a_parsed_query_is_accepted(seeded: tuple[World, dict[str, Transaction]]) -> None:
    from spyglass.search import Scope, parse

    world, rows = seeded
    node = parse("status:cancelled", now=NOW, scope=Scope.TRANSACTION)
    assert set(transaction_queryset([world.other_project], node)) == {rows["navigation"]}


@pytest.mark.parametrize(
    ("query", "position"),
    [
        ("is:unresolved", 0),  # an issue key: refused by the parser for this scope
        ("level:error", 0),
        ("transaction.duration:fast", 21),
        ("status:broken", 7),
        ("op:x (", 5),
        ("x has:release.stage", 2),  # not answered for transactions yet
    ],
)
def test_errors_are_positioned(
    seeded: tuple[World, dict[str, Transaction]], query: str, position: int
) -> None:
    world, _ = seeded
    with pytest.raises(SearchSyntaxError) as caught:
        list(transaction_queryset([world.project], query))
    assert caught.value.position == position


def test_unsupported_keys_are_search_not_supported(
    seeded: tuple[World, dict[str, Transaction]],
) -> None:
    world, _ = seeded
    with pytest.raises(SearchNotSupported):
        transaction_queryset([world.project], "has:release.stage")


def test_too_many_wildcards_in_a_tag_is_an_error(
    seeded: tuple[World, dict[str, Transaction]],
) -> None:
    world, _ = seeded
    with pytest.raises(SearchNotSupported):
        transaction_queryset([world.project], "customer:" + "a*" * 40)
    with pytest.raises(SearchNotSupported):
        transaction_queryset([world.project], "customer:*" + "a" * 2000 + "*")


@pytest.mark.parametrize(
    "value",
    [
        "' OR 1=1 --",
        '"); DROP TABLE performance_transaction; --',
        "\\",
        "\\\\%",
        "%_%",
        "\x00",
        "x" * 10_000,
        "\ud800",
    ],
)
def test_hostile_values_never_leak_a_database_error(
    seeded: tuple[World, dict[str, Transaction]], value: str
) -> None:
    world, _ = seeded
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    for query in [
        f"transaction:{quoted}",
        f"customer:{quoted}",
        f"tags[customer]:{quoted}",
        f"user.email:{quoted}",
        f"http.method:{quoted}",
    ]:
        found: Any = transaction_queryset([world.project], query)
        assert list(found) == []
    # free text: exactly the names that contain the value, or a positioned error when
    # the value is too long to search for inside names
    if len(value) > 1024:
        with pytest.raises(SearchNotSupported):
            transaction_queryset([world.project], quoted)
        return
    names = {row.name for row in transaction_queryset([world.project], quoted)}
    expected = {s.name for s in SEEDS if not s.frontend and value.lower() in s.name.lower()}
    assert names == expected
    assert Transaction.objects.count() == len(SEEDS)
