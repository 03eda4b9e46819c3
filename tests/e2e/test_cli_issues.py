"""The real sentry-cli's `issues list` against Spyglass's /api/0/: an event sent with
sentry-cli, digested into an issue, listed by sentry-cli through the organization/project
issues endpoint with an API token (`spyglass token create`)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_sentry_cli import sentry_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "API server", digest=True)
    try:
        server.create_project()
        server.manage("createuser", "--email", "api@example.com", "--password", "pw-12345678")
        server.manage(
            "project", "create", "--org", "acme", "--name", "api", "--owner", "api@example.com"
        )
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def cli(server: SpyglassServer, token: str, *args: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "SENTRY_URL": server.base_url,
        "SENTRY_DSN": server.dsn,
        "SENTRY_AUTH_TOKEN": token,
        "SENTRY_DISABLE_UPDATE_CHECK": "true",
    }
    result = subprocess.run(
        [sentry_cli(), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_sentry_cli_lists_the_issues_spyglass_made(server: SpyglassServer) -> None:
    token = server.manage("token", "create", "--email", "api@example.com").strip().splitlines()[-1]
    message = f"listed by sentry-cli {uuid.uuid4().hex}"
    cli(server, token, "send-event", "-m", message, "--no-environ")

    def listed() -> list[dict[str, object]] | None:
        response = httpx.get(
            f"{server.base_url}/api/0/projects/acme/web/issues/",
            params={"query": message},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, object]] = response.json()
        return rows or None

    (issue,) = wait_for(listed, "the event to become an issue")
    out = cli(server, token, "issues", "list", "--org", "acme", "--project", "web")
    assert str(issue["shortId"]) in out
    assert message[:20] in out
