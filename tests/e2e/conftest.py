"""Fixtures for the end-to-end tests: one shared Spyglass server, servers of a test's own, and
Chromium for the browser tests."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator

import pytest

from tests.e2e.browser import browser  # noqa: F401  (the browser tests' fixture, for every module)
from tests.e2e.harness import STARTED, SpyglassServer, started_server

_FIRST_SERVER = pytest.StashKey[int]()


@pytest.fixture(scope="session")
def spyglass_server() -> Iterator[SpyglassServer]:
    """One real `spyglass serve` for the client tests (each test checks its own event ids)."""
    server = started_server("shared server")
    try:
        yield server
    finally:
        server.shutdown()
        server.database.drop()


@pytest.fixture
def make_server() -> Iterator[Callable[[], SpyglassServer]]:
    """Servers of the test's own (crash and shutdown tests), on fresh databases."""
    servers: list[SpyglassServer] = []

    def make() -> SpyglassServer:
        server = started_server(f"server {len(servers) + 1} of the test")
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()
        server.database.drop()


@pytest.fixture(autouse=True)
def _remember_servers(request: pytest.FixtureRequest) -> None:
    request.node.stash[_FIRST_SERVER] = len(STARTED)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failing test shows the logs of the servers it used."""
    report = yield
    if report.failed:
        first = item.stash.get(_FIRST_SERVER, len(STARTED))
        servers = list(STARTED[first:])
        funcargs = getattr(item, "funcargs", {})
        shared = funcargs.get("spyglass_server")
        if isinstance(shared, SpyglassServer) and shared not in servers:
            servers.insert(0, shared)
        for server in servers:
            report.sections.append((f"{server.name} log ({server.log_path})", server.log_tail()))
    return report
