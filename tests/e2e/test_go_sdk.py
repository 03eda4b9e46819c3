"""Debian's sentry-go 0.11.0, which still posts to the legacy /store/ endpoint.

Needs the Debian packages golang-go and golang-github-getsentry-sentry-go-dev (GOPATH mode,
no network).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.e2e.harness import HERE, SpyglassServer
from tests.e2e.proxy import RecordingProxy

pytestmark = pytest.mark.e2e

GOPATH = Path("/usr/share/gocode")


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    assert go, "install Debian's golang-go"
    assert (GOPATH / "src/github.com/getsentry/sentry-go").is_dir(), (
        "install Debian's golang-github-getsentry-sentry-go-dev"
    )
    out = tmp_path_factory.mktemp("go_client")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(out),
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",
        "GOCACHE": str(out / "cache"),
    }
    subprocess.run(
        [go, "build", "-o", str(out / "client"), "."],
        cwd=HERE / "go",
        env=env,
        check=True,
        timeout=300,
    )
    return out / "client"


def test_it_queues_events_that_sentry_go_posts_to_the_store_endpoint(
    spyglass_server: SpyglassServer, go_client: Path
) -> None:
    release = f"e2e@{uuid.uuid4().hex}"
    with RecordingProxy(spyglass_server) as proxy:
        result = subprocess.run(
            [str(go_client)],
            env={"SENTRY_DSN": proxy.dsn, "E2E_RELEASE": release},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        ids: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
        rows = spyglass_server.wait_for_events(ids.values())

    requests = proxy.requests()
    assert len(requests) == 2
    for head in requests:
        assert (head.method, head.target) == ("POST", f"/api/{spyglass_server.project_id}/store/")
        assert head.headers["x-sentry-auth"].startswith("Sentry ")
        assert head.headers["content-type"] == "application/json"

    for row in rows.values():
        assert row.project_id == spyglass_server.project_id
        assert row.user_agent.startswith("sentry-go/")
        envelope = row.envelope()
        assert envelope.headers["event_id"] == row.event_id
        assert envelope.types == ["event"]
        assert envelope.item("event").json()["release"] == release
    exception = rows[ids["exception"]].envelope().item("event").json()
    assert exception["exception"][-1]["value"] == "job runner: provider timeout"
    message = rows[ids["message"]].envelope().item("event").json()
    assert message["message"] == "job queue is backing up"
