"""The real sentry-cli binary (PyPI package `sentry-cli`, in the venv) against Spyglass."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest

from tests.e2e.envelopes import hex_id
from tests.e2e.harness import QueueRow, SpyglassServer, wait_for

pytestmark = pytest.mark.e2e


def sentry_cli() -> str:
    for folder in (Path(sys.executable).parent, Path(sysconfig.get_path("scripts"))):
        found = shutil.which("sentry-cli", path=str(folder))
        if found:
            return found
    raise AssertionError("sentry-cli is not installed in the venv (pip install -e '.[test]')")


def run_cli(dsn: str, *args: str) -> str:
    env = {"PATH": "/usr/bin:/bin", "SENTRY_DSN": dsn, "SENTRY_DISABLE_UPDATE_CHECK": "true"}
    result = subprocess.run(
        [sentry_cli(), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_it_queues_send_event_under_the_hex_form_of_its_hyphenated_event_id(
    spyglass_server: SpyglassServer,
) -> None:
    message = f"hello from sentry-cli {uuid.uuid4().hex}"
    out = run_cli(spyglass_server.dsn, "send-event", "-m", message, "--no-environ")
    match = re.search(r"Event id: ([0-9a-f-]{36})", out)
    assert match, out
    event_id = hex_id(match.group(1))

    row = spyglass_server.wait_for_events([event_id])[event_id]
    assert row.project_id == spyglass_server.project_id
    assert row.user_agent.startswith("sentry-cli/")
    envelope = row.envelope()
    # The client's envelope header carries the hyphenated form; the row has the hex one.
    assert envelope.headers["event_id"] in (match.group(1), event_id)
    event = envelope.item("event").json()
    assert event["logentry"]["message"] == message


def test_it_queues_both_check_ins_of_monitors_run(spyglass_server: SpyglassServer) -> None:
    slug = f"job-{uuid.uuid4().hex[:12]}"
    run_cli(spyglass_server.dsn, "monitors", "run", slug, "--", "true")

    def check_ins() -> list[QueueRow] | None:
        rows = spyglass_server.rows_with_item(
            "check_in", lambda check_in: check_in["monitor_slug"] == slug
        )
        return rows if len(rows) >= 2 else None

    rows = wait_for(check_ins, f"two check-ins of {slug}")
    assert len(rows) == 2
    payloads = [row.envelope().item("check_in").json() for row in rows]
    assert [p["status"] for p in payloads] == ["in_progress", "ok"]
    assert payloads[0]["check_in_id"] == payloads[1]["check_in_id"]
    for row in rows:
        assert row.project_id == spyglass_server.project_id
        assert row.event_id == ""
