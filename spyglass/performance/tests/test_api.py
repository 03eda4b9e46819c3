"""The Discover endpoints: Sentry's shapes for events/ and events-stats/, the transactions
and errors data sets, and 404s for whatever the token's user may not see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from spyglass.api.tests.factory import auth, make_issue, token_for
from spyglass.performance import sketches
from spyglass.performance.tests.test_rollups import store, tx
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
EVENTS = "/api/0/organizations/acme/events/"
STATS = "/api/0/organizations/acme/events-stats/"


@pytest.fixture(autouse=True)
def frozen() -> Any:
    with time_machine.travel(NOW, tick=False):
        yield


def get(world: World, url: str, **params: Any) -> tuple[int, Any, dict[str, str]]:
    response = Client().get(url, params, headers=auth(token_for(world.bob)))
    return response.status_code, response.json(), dict(response.headers)


@pytest.fixture
def transactions(world: World) -> None:
    pid = world.project.id
    at = NOW - timedelta(minutes=90)
    store(
        tx(pid, name="GET /a", start=at, duration_ms=100.0, user_key="id:1"),
        tx(pid, name="GET /a", start=at, duration_ms=200.0, user_key="id:2"),
        tx(pid, name="GET /a", start=at + timedelta(hours=1), duration_ms=2000.0, status="aborted"),
        tx(pid, name="batch", op="process_events", start=at, status="internal_error"),
        tx(pid, name="batch", op="process_events", start=at, status="ok"),
        tx(pid, name="batch", op="process_events", start=at, status="internal_error"),
        tx(world.other_project.id, name="pageload /", op="pageload", start=at),
    )


def test_the_table_has_sentrys_shape(world: World, transactions: None) -> None:
    fields = [
        "transaction",
        "project",
        "count()",
        "p95()",
        "p50(transaction.duration)",
        "avg(transaction.duration)",
        "p90(transaction.duration)",
        "max(transaction.duration)",
        "failure_rate()",
        "apdex()",
        "epm()",
        "count_unique(user)",
    ]
    status, body, headers = get(
        world, EVENTS, field=fields, statsPeriod="24h", sort="-count()", project=world.project.id
    )
    assert status == 200, body
    assert [row["transaction"] for row in body["data"]] == ["GET /a", "batch"]
    row = body["data"][0]
    assert set(row) == set(fields)
    assert (row["project"], row["count()"], row["count_unique(user)"]) == ("backend", 3, 2)
    assert row["failure_rate()"] == pytest.approx(1 / 3)
    assert row["apdex()"] == pytest.approx(2 / 3)  # 2000 ms is frustrated at T = 300
    assert row["p95()"] == pytest.approx(2000, rel=sketches.RELATIVE_ERROR)
    assert row["p50(transaction.duration)"] == pytest.approx(200, rel=sketches.RELATIVE_ERROR)
    assert row["epm()"] == pytest.approx(3 / (24 * 60), rel=0.01)
    assert body["meta"]["fields"]["count()"] == "integer"
    assert body["meta"]["fields"]["p95()"] == "duration"
    assert body["meta"]["fields"]["failure_rate()"] == "percentage"
    assert body["meta"]["fields"]["p90(transaction.duration)"] == "duration"
    assert row["max(transaction.duration)"] == pytest.approx(2000, rel=sketches.RELATIVE_ERROR)
    assert body["meta"]["fields"]["transaction"] == "string"
    assert body["meta"]["units"]["p95()"] == "millisecond"
    assert body["meta"]["units"]["epm()"] == "1/minute"
    assert 'rel="next"; results="false"' in headers["Link"]


def test_a_batch_jobs_failures_are_found_by_the_search(world: World, transactions: None) -> None:
    status, body, _ = get(
        world,
        EVENTS,
        field="count()",
        query="type:transaction op:process_events status:internal_error",
        statsPeriod="1d",
    )
    assert status == 200, body
    assert body["data"] == [{"count()": 2}]


def test_without_functions_it_lists_single_transactions(world: World, transactions: None) -> None:
    status, body, headers = get(
        world,
        EVENTS,
        field=["id", "transaction", "transaction.duration", "project"],
        query="event.type:transaction",
        sort="-transaction.duration",
        per_page="2",
    )
    assert status == 200, body
    assert [row["transaction.duration"] for row in body["data"]] == [2000.0, 200.0]
    assert body["data"][0]["project"] == "backend"
    assert len(body["data"][0]["id"]) == 32
    assert 'rel="next"; results="true"' in headers["Link"]


def test_the_errors_data_set(world: World) -> None:
    issue = make_issue(
        world.project, "ValueError: bad", last_seen=NOW - timedelta(hours=1), events=3
    )
    make_issue(world.other_project, "TypeError: x", last_seen=NOW - timedelta(hours=2))
    status, body, _ = get(
        world,
        EVENTS,
        field=["issue", "title", "count()", "count_unique(user)", "last_seen()"],
        query="event.type:error",
        statsPeriod="24h",
        sort="-count()",
    )
    assert status == 200, body
    first = body["data"][0]
    assert (first["issue"], first["title"], first["count()"]) == (issue.short_id, issue.title, 3)
    assert first["count_unique(user)"] == 1
    assert first["last_seen()"] == (NOW - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert len(body["data"]) == 2
    assert body["meta"]["fields"]["last_seen()"] == "date"


def test_stats_are_a_series_of_counts(world: World, transactions: None) -> None:
    status, body, _ = get(
        world,
        STATS,
        yAxis="count()",
        interval="1h",
        statsPeriod="3h",
        query="event.type:transaction",
        project=world.project.id,
        partial="1",
    )
    assert status == 200, body
    assert [point[1] for point in body["data"]] == [
        [{"count": 0}],
        [{"count": 5}],
        [{"count": 1}],
        [{"count": 0}],
    ]
    hour = int(NOW.timestamp()) // 3600 * 3600
    assert body["data"][0][0] == hour - 3 * 3600
    assert (body["start"], body["end"]) == (hour - 3 * 3600, hour + 3600)


def test_stats_of_several_axes_and_of_the_top_events(world: World, transactions: None) -> None:
    status, body, _ = get(
        world,
        STATS,
        yAxis=["count()", "p95()"],
        interval="1h",
        statsPeriod="3h",
        project=world.project.id,
        partial="1",
    )
    assert status == 200, body
    assert set(body) == {"count()", "p95()"}
    assert [p[1][0]["count"] for p in body["count()"]["data"]] == [0, 5, 1, 0]
    assert body["p95()"]["data"][2][1][0]["count"] == pytest.approx(2000, rel=0.01)
    assert (body["count()"]["order"], body["p95()"]["order"]) == (0, 1)
    status, body, _ = get(
        world,
        STATS,
        yAxis="count()",
        field=["transaction", "count()"],
        topEvents="1",
        interval="1h",
        statsPeriod="3h",
        query="event.type:transaction",
        partial="1",
    )
    assert status == 200, body
    assert set(body) == {"GET /a", "Other"}
    assert body["GET /a"]["order"] == 0
    assert [p[1][0]["count"] for p in body["GET /a"]["data"]] == [0, 2, 1, 0]
    assert [p[1][0]["count"] for p in body["Other"]["data"]] == [0, 4, 0, 0]


@pytest.mark.parametrize(
    "params",
    [
        {"field": "nonsense()"},
        {"field": ["transaction", "count()"], "sort": "-p95()"},
        {"field": "count()", "query": "is:"},
        {"field": "count()", "statsPeriod": "forever"},
        {"field": "count()", "dataset": "metrics"},
        {"field": "count()", "per_page": "x"},
        {"field": "count()", "start": "2026-11-20T00:00:00"},
    ],
)
def test_bad_parameters_are_400s(world: World, params: dict[str, Any]) -> None:
    status, body, _ = get(world, EVENTS, **params)
    assert status == 400, body
    assert "detail" in body


def test_other_organizations_are_404s(world: World, transactions: None) -> None:
    globex = Organization.get_or_create_named("Globex")
    mallory = make_user("mallory@example.com")
    Member.objects.create(organization=globex, user=mallory, role=Role.OWNER)
    theirs = make_project(globex, "Theirs")
    headers = auth(token_for(mallory))
    for url in (EVENTS, STATS):
        response = Client().get(url, {"field": "count()"}, headers=headers)
        assert response.status_code == 404
    # Their own organization, naming our project by id: 404 as well.
    response = Client().get(
        "/api/0/organizations/globex/events/",
        {"field": "count()", "project": str(world.project.id)},
        headers=headers,
    )
    assert response.status_code == 404
    response = Client().get(
        "/api/0/organizations/globex/events/",
        {"field": "count()", "project": str(theirs.id), "query": "event.type:transaction"},
        headers=headers,
    )
    assert response.status_code == 200
    assert response.json()["data"] == [{"count()": 0}]


def test_tokens_need_the_event_scope(world: World) -> None:
    response = Client().get(
        EVENTS, {"field": "count()"}, headers=auth(token_for(world.bob, ("project:read",)))
    )
    assert response.status_code == 403
    assert Client().get(EVENTS, {"field": "count()"}).status_code == 401


def test_without_a_data_set_errors_and_transactions_count_together(
    world: World, transactions: None
) -> None:
    make_issue(world.project, "ValueError: bad", last_seen=NOW - timedelta(minutes=30), events=2)
    params: dict[str, Any] = {"statsPeriod": "24h", "project": world.project.id}
    status, body, _ = get(
        world, EVENTS, field=["project", "count()", "count_unique(user)"], **params
    )
    assert status == 200, body
    # 6 transactions (users id:1 and id:2) and 2 errors (user id:42).
    assert body["data"] == [{"project": "backend", "count()": 8, "count_unique(user)": 3}]
    assert body["meta"]["fields"]["count()"] == "integer"
    # A key only one data set has: the other's events don't match it.
    status, body, _ = get(world, EVENTS, field="count()", query="level:error", **params)
    assert (status, body["data"]) == (200, [{"count()": 2}])
    status, body, _ = get(
        world, EVENTS, field="count()", query="transaction.duration:>1s", **params
    )
    assert (status, body["data"]) == (200, [{"count()": 1}])
    status, body, _ = get(world, STATS, yAxis="count()", interval="1h", statsPeriod="3h")
    assert status == 200, body
    # Both projects: 5 + 1 transactions 90 minutes ago; 1 transaction and 2 errors since.
    assert [p[1][0]["count"] for p in body["data"]] == [0, 6, 1 + 2]  # not the partial hour
    status, body, _ = get(world, EVENTS, field="count()", query="is:")
    assert status == 400, body  # an error in the query itself is still one


def counts(series: dict[str, Any]) -> list[Any]:
    return [point[1][0]["count"] for point in series["data"]]


def test_the_bucket_the_end_falls_in_is_shown_with_partial_only(
    world: World, transactions: None
) -> None:
    """As Sentry's: buckets up to the end rounded down to the interval; ``partial=1`` adds
    the one the end falls in (12:00 … 12:00:30 here)."""
    params: dict[str, Any] = {"yAxis": "count()", "statsPeriod": "3h", "project": world.project.id}
    hour = int(NOW.timestamp()) // 3600 * 3600
    status, body, _ = get(world, STATS, interval="1h", **params)
    assert status == 200, body
    assert [p[0] for p in body["data"]] == [hour - 3 * 3600, hour - 2 * 3600, hour - 3600]
    assert (counts(body), body["end"]) == ([0, 5, 1], hour)
    status, body, _ = get(world, STATS, interval="1h", partial="1", **params)
    assert [p[0] for p in body["data"]][-1] == hour
    assert counts(body) == [0, 5, 1, 0]
    # A bare number is seconds (Sentry's intervals: 30, 30s, 5m, 1h, 1d, 1w).
    status, body, _ = get(world, STATS, interval="3600", **params)
    assert (status, counts(body)) == (200, [0, 5, 1])
    status, body, _ = get(world, STATS, interval="1x", **params)
    assert status == 400, body
    # A window straddling two buckets shows both.
    status, body, _ = get(
        world,
        STATS,
        yAxis="count()",
        interval="1h",
        start=(NOW - timedelta(minutes=100)).isoformat(),
        end=(NOW - timedelta(minutes=40)).isoformat(),
        project=world.project.id,
    )
    assert [p[0] for p in body["data"]] == [hour - 2 * 3600, hour - 3600]
    assert counts(body)[0] == 5


@pytest.fixture
def page_loads(world: World) -> list[tuple[str, datetime, float, float]]:
    """(name, start, lcp, cls) of page loads over the last three hours."""
    found = []
    rows = []
    for n in range(30):
        name = ("/checkout/", "/cart/", "/")[n % 3]
        start = NOW - timedelta(minutes=170 - 5 * n)
        lcp, cls = 1000.0 + 97 * n, 0.01 * (n % 7)
        found.append((name, start, lcp, cls))
        measurements = {"lcp": {"value": lcp, "unit": "millisecond"}, "cls": {"value": cls}}
        rows.append(
            tx(world.project.id, name=name, op="pageload", start=start, measurements=measurements)
        )
    rows.append(tx(world.project.id, name="/", op="pageload", start=NOW - timedelta(minutes=20)))
    store(*rows)
    return found


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[sketches.nearest_rank(q, len(ordered))]


def test_stats_of_measurements(
    world: World, page_loads: list[tuple[str, datetime, float, float]]
) -> None:
    """`p75(measurements.lcp)`, `avg(measurements.cls)`… as events-stats series: exact over
    each bucket's transactions that have the measurement (0 where none has)."""
    status, body, _ = get(
        world,
        STATS,
        yAxis=["p75(measurements.lcp)", "avg(measurements.cls)", "count()"],
        interval="1h",
        statsPeriod="3h",
        partial="1",
    )
    assert status == 200, body
    assert set(body) == {"p75(measurements.lcp)", "avg(measurements.cls)", "count()"}
    lcp, cls = body["p75(measurements.lcp)"], body["avg(measurements.cls)"]
    assert lcp["meta"]["fields"] == {"p75(measurements.lcp)": "duration"}
    assert lcp["meta"]["units"] == {"p75(measurements.lcp)": "millisecond"}
    assert cls["meta"]["fields"] == {"avg(measurements.cls)": "number"}
    assert [p[0] for p in lcp["data"]] == [p[0] for p in body["count()"]["data"]]
    for point, cls_point in zip(lcp["data"], cls["data"], strict=True):
        at = datetime.fromtimestamp(point[0], tz=UTC)
        inside = [r for r in page_loads if at <= r[1] < at + timedelta(hours=1)]
        if not inside:
            assert point[1] == cls_point[1] == [{"count": 0}]
            continue
        assert point[1][0]["count"] == nearest_rank([r[2] for r in inside], 0.75)
        assert cls_point[1][0]["count"] == pytest.approx(sum(r[3] for r in inside) / len(inside))
    assert sum(counts(body["count()"])) == 31  # the one without measurements counts here
    # One axis: Sentry's single-series shape.
    status, body, _ = get(world, STATS, yAxis="p95(measurements.lcp)", interval="1h", partial="1")
    assert status == 200, body
    assert set(body) >= {"data", "start", "end", "meta"}
    expected = []
    for at in [datetime.fromtimestamp(p[0], tz=UTC) for p in body["data"]]:
        values = [r[2] for r in page_loads if at <= r[1] < at + timedelta(hours=1)]
        expected.append(nearest_rank(values, 0.95) if values else 0)
    assert counts(body) == expected
    assert len([value for value in expected if value]) == 3


def test_top_events_of_a_measurement(
    world: World, page_loads: list[tuple[str, datetime, float, float]]
) -> None:
    status, body, _ = get(
        world,
        STATS,
        yAxis="p75(measurements.lcp)",
        field=["transaction", "p75(measurements.lcp)"],
        topEvents="2",
        interval="3h",
        start=(NOW - timedelta(hours=3)).isoformat(),
        end=NOW.isoformat(),
        partial="1",
    )
    assert status == 200, body
    by_name: dict[str, list[float]] = {}
    for name, _, lcp, _ in page_loads:
        by_name.setdefault(name, []).append(lcp)
    ranked = sorted(by_name, key=lambda n: -nearest_rank(by_name[n], 0.75))
    assert list(body) == [*ranked[:2], "Other"]
    for index, name in enumerate(ranked[:2]):
        assert body[name]["order"] == index
        assert max(counts(body[name])) == nearest_rank(by_name[name], 0.75)
    assert max(counts(body["Other"])) == nearest_rank(by_name[ranked[2]], 0.75)


def test_what_grafanas_sentry_data_source_asks_for(world: World, transactions: None) -> None:
    """Its events-stats query: start and end without a zone (UTC), partial=1,
    excludeOther=1, topEvents=10 always, the yAxis among the fields, with or without a
    group column."""
    params: dict[str, Any] = {
        "query": "event.type:transaction",
        "start": (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%S"),
        "end": NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "interval": "1h",
        "partial": "1",
        "excludeOther": "1",
        "topEvents": "10",
        "yAxis": "count()",
        "project": world.project.id,
    }
    status, body, _ = get(world, STATS, field="count()", **params)
    assert status == 200, body
    assert counts(body) == [0, 5, 1, 0]
    status, body, _ = get(world, STATS, field=["count()", "transaction"], **params)
    assert status == 200, body
    assert {name: counts(series) for name, series in body.items()} == {
        "batch": [0, 3, 0, 0],
        "GET /a": [0, 2, 1, 0],
    }
