"""The real Python sentry-sdk, run in a process of its own against a running Spyglass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.e2e.harness import HERE, QueueRow, SpyglassServer, wait_for
from tests.e2e.proxy import RecordingProxy

pytestmark = pytest.mark.e2e

CLIENT = HERE / "clients" / "python_client.py"


def run_client(
    server: SpyglassServer, case: str, *, compression: str = "", dsn: str = ""
) -> dict[str, Any]:
    release = f"e2e@{uuid.uuid4().hex[:12]}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "SENTRY_DSN": dsn or server.dsn,
        "E2E_RELEASE": release,
        "E2E_COMPRESSION": compression,
    }
    result = subprocess.run(
        [sys.executable, str(CLIENT), case],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    ids: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    ids["release"] = release
    return ids


def assert_from_python_sdk(row: QueueRow, server: SpyglassServer) -> None:
    assert row.project_id == server.project_id
    assert row.user_agent.startswith("sentry.python/"), row.user_agent


def test_it_queues_exceptions_and_messages_sent_brotli_compressed(
    spyglass_server: SpyglassServer,
) -> None:
    with RecordingProxy(spyglass_server) as proxy:
        ids = run_client(spyglass_server, "errors", dsn=proxy.dsn)
        rows = spyglass_server.wait_for_events([ids["exception"], ids["message"]])

    requests = [head for head in proxy.requests() if "/envelope/" in head.target]
    assert len(requests) == 2
    for head in requests:
        assert head.target == f"/api/{spyglass_server.project_id}/envelope/"
        auth = head.headers["x-sentry-auth"]
        assert auth.startswith(f"Sentry sentry_key={spyglass_server.public_key},"), auth
        assert head.headers["content-encoding"] == "br"

    exception = rows[ids["exception"]]
    assert_from_python_sdk(exception, spyglass_server)
    assert exception.content_encoding == "br"
    envelope = exception.envelope()
    assert envelope.headers["event_id"] == ids["exception"]
    event = envelope.item("event").json()
    assert event["exception"]["values"][-1]["type"] == "CardDeclinedError"
    assert event["release"] == ids["release"]

    message = rows[ids["message"]]
    assert_from_python_sdk(message, spyglass_server)
    assert message.content_encoding == "br"
    assert message.envelope().item("event").json()["message"] == "Disk usage above 90%"


def test_it_queues_events_the_sdk_was_told_to_gzip(spyglass_server: SpyglassServer) -> None:
    ids = run_client(spyglass_server, "errors", compression="gzip")
    rows = spyglass_server.wait_for_events([ids["exception"], ids["message"]])

    for row in rows.values():
        assert_from_python_sdk(row, spyglass_server)
        assert row.content_encoding == "gzip"
    event = rows[ids["exception"]].envelope().item("event").json()
    assert event["exception"]["values"][-1]["value"] == "card declined for amount=42.5"


def test_it_queues_transactions_sessions_and_check_ins(spyglass_server: SpyglassServer) -> None:
    ids = run_client(spyglass_server, "tracing")
    rows = spyglass_server.wait_for_events([ids["transaction"]])

    transaction_row = rows[ids["transaction"]]
    assert_from_python_sdk(transaction_row, spyglass_server)
    transaction = transaction_row.envelope().item("transaction").json()
    assert transaction["transaction"] == "process_orders"
    assert len(transaction["spans"]) == 4

    def session_and_check_ins() -> tuple[list[QueueRow], list[QueueRow]] | None:
        sessions = spyglass_server.rows_with_item(
            "session", lambda session: session["attrs"]["release"] == ids["release"]
        )
        check_ins = spyglass_server.rows_with_item(
            "check_in", lambda check_in: check_in["check_in_id"] == ids["check_in"]
        )
        return (sessions, check_ins) if sessions and len(check_ins) == 2 else None

    sessions, check_ins = wait_for(session_and_check_ins, "the session and both check-ins")
    for row in [*sessions, *check_ins]:
        assert_from_python_sdk(row, spyglass_server)
    statuses = [row.envelope().item("check_in").json()["status"] for row in check_ins]
    assert statuses == ["in_progress", "ok"]
