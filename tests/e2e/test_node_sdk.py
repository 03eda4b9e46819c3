"""The real @sentry/node SDK (tests/e2e/js, installed by `npm ci`) against a running Spyglass."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from typing import Any

import pytest

from tests.e2e.harness import HERE, SpyglassServer
from tests.e2e.proxy import RecordingProxy, RequestHead

pytestmark = pytest.mark.e2e

JS = HERE / "js"
NODE_VERSION = json.loads((JS / "package.json").read_text())["dependencies"]["@sentry/node"]


def run_node(dsn: str, case: str) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (JS / "node_modules" / "@sentry" / "node").is_dir(), f"run `npm ci` in {JS}"
    env = {"PATH": "/usr/bin:/bin", "SENTRY_DSN": dsn, "E2E_RELEASE": f"e2e@{uuid.uuid4().hex}"}
    result = subprocess.run(
        [node, "node_client.cjs", case],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ids: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return ids


def envelope_requests(proxy: RecordingProxy) -> list[RequestHead]:
    return [head for head in proxy.requests() if "/envelope/" in head.target]


def test_it_queues_node_exceptions_and_messages_sent_chunked_with_query_string_auth(
    spyglass_server: SpyglassServer,
) -> None:
    with RecordingProxy(spyglass_server) as proxy:
        ids = run_node(proxy.dsn, "errors")
        rows = spyglass_server.wait_for_events([ids["exception"], ids["message"]])

    # The wire shape this test is about: auth only in the query string, chunked bodies.
    requests = envelope_requests(proxy)
    assert requests
    for head in requests:
        assert f"sentry_key={spyglass_server.public_key}" in head.target
        assert "x-sentry-auth" not in head.headers
        assert head.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in head.headers

    for row in rows.values():
        assert row.project_id == spyglass_server.project_id
        assert row.user_agent == f"sentry.javascript.node/{NODE_VERSION}"
        assert row.content_encoding == ""
    exception = rows[ids["exception"]].envelope().item("event").json()
    assert exception["exception"]["values"][-1]["type"] == "CardError"
    message = rows[ids["message"]].envelope().item("event").json()
    assert message["message"] == "Disk usage above 90%"


def test_it_queues_a_large_node_event_that_arrives_gzipped(
    spyglass_server: SpyglassServer,
) -> None:
    ids = run_node(spyglass_server.dsn, "large")
    row = spyglass_server.wait_for_events([ids["large"]])[ids["large"]]

    assert row.content_encoding == "gzip"
    assert len(row.body) < 32 * 1024
    event = row.envelope().item("event").json()
    assert len(event["extra"]["big_blob"]) > 40000
