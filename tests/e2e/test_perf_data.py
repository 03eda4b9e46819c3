"""Performance data end to end, with real SDKs against one `spyglass serve`:

- the Python sentry-sdk sends a batch job's `process_events` transactions, some failing;
  the Discover API finds the failed ones with `type:transaction op:process_events
  status:internal_error`, and the rollups count them;
- @sentry/node 11 sends the same transaction streamed as span v2 (its default) and as a
  classic transaction (`traceLifecycle: "static"`): both become the same Transaction.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import HERE, Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell

pytestmark = pytest.mark.e2e

JS = HERE / "js"

# A Celery-like batch job: each run one `process_events` transaction, ok or internal_error.
BATCH_JOB = r"""
import json, os, time, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], traces_sample_rate=1.0,
                environment="production", release="worker@2.0.0")
ids = []
for run, fails in enumerate([False, True, False, True, True, False, False]):
    with sentry_sdk.start_transaction(op="process_events", name="outbox.process_events") as tx:
        tx.set_data("batch_size", 50 + run)
        with sentry_sdk.start_span(op="db", name="SELECT * FROM outbox LIMIT 50"):
            time.sleep(0.004 * (run + 1))  # durations of 4 … 28 ms and more
        tx.set_status("internal_error" if fails else "ok")
        ids.append(tx.trace_id)
sentry_sdk.flush(20)
print(json.dumps(ids))
"""

# The stored transactions of some traces, as JSON, from inside the server's environment.
TRANSACTIONS = """
import json
from spyglass.performance.models import Transaction
rows = Transaction.objects.filter(trace_id__in={traces!r}).order_by("start")
print(json.dumps([{{"trace_id": t.trace_id, "span_id": t.span_id, "name": t.name, "op": t.op,
    "status": t.status, "duration_ms": t.duration_ms, "span_count": t.span_count,
    "environment": t.environment, "release": t.release}} for t in rows]))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "performance data server", digest=True)
    try:
        server.create_project()
        # A member of the organization, for an API token.
        server.manage("createuser", "--email", "api@example.com", "--password", "pw-12345678")
        server.manage(
            "project", "create", "--org", "acme", "--name", "api", "--owner", "api@example.com"
        )
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def stored(server: SpyglassServer, traces: list[str]) -> list[dict[str, Any]]:
    def check() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = json.loads(shell(server, TRANSACTIONS.format(traces=traces)))
        return rows if len(rows) >= len(traces) else None

    return wait_for(check, f"{len(traces)} transactions to be digested")


def test_the_events_api_counts_a_batch_jobs_failed_runs(server: SpyglassServer) -> None:
    env = dict(server.env(), SENTRY_DSN=server.dsn)
    out = subprocess.run(
        [sys.executable, "-c", BATCH_JOB], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    traces = json.loads(out.stdout.strip().splitlines()[-1])
    rows = stored(server, traces)
    assert {(r["op"], r["status"]) for r in rows} == {
        ("process_events", "ok"),
        ("process_events", "internal_error"),
    }
    token = server.manage("token", "create", "--email", "api@example.com").strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{server.base_url}/api/0/organizations/acme/events/"
    response = httpx.get(
        url,
        params={
            "field": "count()",
            "query": "type:transaction op:process_events status:internal_error",
            "statsPeriod": "1h",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == [{"count()": 3}]
    # The same numbers from the rollups: a table by transaction name.
    response = httpx.get(
        url,
        params={
            "field": ["transaction", "count()", "failure_rate()", "p50()", "p95()"],
            "query": "event.type:transaction",
            "statsPeriod": "1h",
        },
        headers=headers,
    )
    assert response.status_code == 200, response.text
    [row] = response.json()["data"]
    assert row["transaction"] == "outbox.process_events"
    assert (row["count()"], row["failure_rate()"]) == (7, pytest.approx(3 / 7))
    assert response.json()["meta"]["fields"]["p95()"] == "duration"
    # Percentiles within 1 % of the exact ones (nearest rank) of the stored durations.
    durations = sorted(r["duration_ms"] for r in rows)
    for field, q in (("p50()", 0.5), ("p95()", 0.95)):
        exact = durations[max(0, math.ceil(q * len(durations)) - 1)]
        assert row[field] == pytest.approx(exact, rel=0.01)
    stats = httpx.get(
        f"{server.base_url}/api/0/organizations/acme/events-stats/",
        params={
            "yAxis": "count()",
            "interval": "1m",
            "statsPeriod": "1h",
            "query": "event.type:transaction",
            "partial": "1",  # the current minute too
        },
        headers=headers,
    )
    assert stats.status_code == 200, stats.text
    assert sum(point[1][0]["count"] for point in stats.json()["data"]) == 7
    other = httpx.get(
        f"{server.base_url}/api/0/organizations/globex/events/",
        params={"field": "count()"},
        headers=headers,
    )
    assert other.status_code == 404


def run_node(server: SpyglassServer, mode: str, start: float) -> dict[str, str]:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (JS / "node_modules" / "@sentry" / "node").is_dir(), f"run `npm ci` in {JS}"
    env = {"PATH": "/usr/bin:/bin", "SENTRY_DSN": server.dsn, "E2E_START": str(start)}
    result = subprocess.run(
        [node, "node_spans.cjs", mode],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ids: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def test_node_gives_the_same_transaction_streamed_and_classic(server: SpyglassServer) -> None:
    start = round(time.time() - 60, 3)
    streamed = run_node(server, "stream", start)
    classic = run_node(server, "static", start)
    assert streamed["trace_id"] != classic["trace_id"]
    rows = {r["trace_id"]: r for r in stored(server, [streamed["trace_id"], classic["trace_id"]])}
    a, b = rows[streamed["trace_id"]], rows[classic["trace_id"]]
    assert (a["span_id"], b["span_id"]) == (streamed["span_id"], classic["span_id"])
    for row in (a, b):
        assert (row["name"], row["op"], row["status"]) == (
            "process_events",
            "process_events",
            "internal_error",
        )
        assert (row["environment"], row["release"]) == ("e2e", "worker@1.0.0")
        assert row["span_count"] == 3
    assert abs(a["duration_ms"] - b["duration_ms"]) <= 1
    assert abs(a["duration_ms"] - 250) <= 1
