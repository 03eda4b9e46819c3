"""Transaction names from URLs, end to end: an HTTP server without a router, instrumented by
the real @sentry/node 11, names its transactions by the URL path. Span streaming (the SDK's
default) and classic transactions alike: identifiers become `*` at once; after the
scheduler's discovery, the product slugs become `*` too, in new transactions."""

from __future__ import annotations

import json
import shutil
import string
import subprocess
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.harness import HERE, Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell

pytestmark = pytest.mark.e2e

JS = HERE / "js"

NAMES = """
import json
from spyglass.performance.models import Transaction
rows = Transaction.objects.filter(release={release!r})
print(json.dumps(list(rows.values_list("name", flat=True))))
"""

DISCOVER = """
from spyglass.performance.clustering import discover
from spyglass.performance.models import TransactionNameRule
discover()
print(",".join(TransactionNameRule.objects.values_list("pattern", flat=True)))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    # Workers read a project's name rules again after a second, not a minute.
    settings = {"SPYGLASS_TRANSACTION_NAME_RULES_REFRESH_SECONDS": "1"}
    server = SpyglassServer(Database(), "transaction names server", digest=True, settings=settings)
    try:
        server.create_project()
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def slug(n: int) -> str:
    """A path segment without digits (those Relay's scrubbing would take care of)."""
    out = ""
    while True:
        out = string.ascii_lowercase[n % 26] + out
        n //= 26
        if n == 0:
            return "item-" + out


def requested(server: SpyglassServer, mode: str, paths: list[str]) -> list[str]:
    """The names of the transactions @sentry/node sent for ``paths``, once all are stored."""
    node = shutil.which("node")
    assert node, "node is not installed"
    assert (JS / "node_modules" / "@sentry" / "node").is_dir(), f"run `npm ci` in {JS}"
    release = f"shop@{uuid.uuid4().hex[:12]}"
    env = {
        "PATH": "/usr/bin:/bin",
        "SENTRY_DSN": server.dsn,
        "E2E_RELEASE": release,
        "E2E_PATHS": json.dumps(paths),
    }
    result = subprocess.run(
        [node, "node_url_names.cjs", mode],
        cwd=JS,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    def check() -> list[str] | None:
        names: list[str] = json.loads(shell(server, NAMES.format(release=release)))
        return names if len(names) >= len(paths) else None

    return wait_for(check, f"{len(paths)} transactions to be digested")


def test_url_named_transactions_are_scrubbed_then_clustered(server: SpyglassServer) -> None:
    many = [f"/shop/{slug(n)}/reviews" for n in range(201)]
    streamed = requested(server, "stream", [*many[:120], "/orders/123/items/9"])
    classic = requested(server, "static", [*many[120:], "/orders/456/items/7"])
    # Identifiers (two digits or more) are scrubbed at once: by Relay's normalizer for the
    # classic transaction, by the digest for the streamed segment.
    assert "GET /orders/*/items/9" in streamed and "GET /orders/*/items/7" in classic
    assert sorted(n for n in streamed + classic if "/shop/" in n) == sorted(
        f"GET {path}" for path in many
    )

    assert shell(server, DISCOVER).strip() == "GET /shop/*/**"

    # The digest reads a project's rules again after a second: new transactions are renamed.
    def renamed() -> bool | None:
        names = requested(server, "stream", ["/shop/item-new/reviews"])
        names += requested(server, "static", ["/shop/item-other"])
        return True if names == ["GET /shop/*/reviews", "GET /shop/*"] else None

    wait_for(renamed, "new transactions to be renamed by the discovered rule", 60)
