"""`spyglass serve` as a real process: it answers health checks and stops cleanly."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

HANG_GUARD = 30.0  # seconds: a bound for a hung process, not a performance assertion


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def children_of(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def responds(url: str) -> bool:
    try:
        return get(url)[0] == 200
    except OSError:
        return False


@pytest.fixture
def database_url() -> Iterator[str | None]:
    """On PostgreSQL runs a database of the server's own; on SQLite none (the data dir)."""
    admin_url = os.environ.get("SPYGLASS_TEST_PG_ADMIN_URL")
    if not os.environ.get("DATABASE_URL") or not admin_url:
        yield None
        return
    import psycopg

    name = f"spyglass_serve_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def server_env(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SPYGLASS_DATA_DIR"] = str(tmp_path / "data")
    env["SPYGLASS_WEB_WORKERS"] = "2"
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    subprocess.run(
        [sys.executable, "-m", "spyglass", "migrate", "--noinput", "-v0"],
        env=env,
        check=True,
        timeout=120,
    )
    return env


def start_serve(env: dict[str, str], tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    """`spyglass serve` on ``port``, logging to ``serve.log``, in a process group of its own
    (for the cleanup: ``os.killpg``), once it answers ``/_health``."""
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "spyglass", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(lambda: responds(f"http://127.0.0.1:{port}/_health"), "/_health")
    except BaseException:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        raise
    return server


@pytest.mark.e2e
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_answers_health_and_readiness_and_on_a_signal_stops_with_all_its_children(
    server_env: dict[str, str], tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(server_env, SPYGLASS_WEB_WORKERS_MIN="2")  # a fixed two
    server = start_serve(env, tmp_path, port)
    try:
        assert get(f"{base}/_health") == (200, b"ok\n")
        status, body = get(f"{base}/_ready")
        assert (status, orjson.loads(body)) == (200, {"ok": True})
        children = children_of(server.pid)
        assert len(children) >= 3  # two web processes and the background one, at least

        server.send_signal(stop_signal)
        returncode = server.wait(HANG_GUARD)

        log_text = (tmp_path / "serve.log").read_text(errors="replace")
        assert returncode == 0, log_text
        wait_until(lambda: not any(alive(pid) for pid in children), "the children to exit")
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _command_line(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return []


@pytest.mark.e2e
def test_serve_runs_as_many_digest_workers_as_configured_and_one_scheduler(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = dict(server_env, SPYGLASS_DIGEST_WORKERS="2", SPYGLASS_WEB_WORKERS="1")
    server = start_serve(env, tmp_path, port)
    try:
        commands = [_command_line(pid) for pid in children_of(server.pid)]
        workers = [c for c in commands if "worker" in c]
        assert len(workers) == 2
        assert sum("--with-scheduler" in c for c in workers) == 1
        assert sum("web" in c for c in commands) == 1
        assert "digest-2" in (tmp_path / "serve.log").read_text(errors="replace")
        server.send_signal(signal.SIGTERM)
        assert server.wait(HANG_GUARD) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.mark.e2e
def test_the_children_of_a_killed_supervisor_stop_too(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    env = dict(server_env, SPYGLASS_WEB_WORKERS="1")
    server = start_serve(env, tmp_path, port)
    children: set[int] = set()
    try:
        children = children_of(server.pid)
        assert len(children) >= 2  # the web process and the background one
        server.kill()  # the supervisor alone: no SIGTERM passed on, no chance to clean up
        server.wait(HANG_GUARD)
        # Linux's parent-death signal (prctl) stops each child by itself.
        wait_until(lambda: not any(alive(pid) for pid in children), "the children to exit")
    finally:
        for pid in children:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _web_processes(server: subprocess.Popen[bytes]) -> list[int]:
    return [pid for pid in children_of(server.pid) if "web" in _command_line(pid)]


@pytest.mark.e2e
def test_serve_starts_a_second_web_process_while_busy_and_stops_it_when_quiet(
    server_env: dict[str, str], tmp_path: Path
) -> None:
    port = free_port()
    # A low threshold, so that a few hundred requests make a web process busy here.
    env = dict(server_env, SPYGLASS_WEB_BUSY="0.02", SPYGLASS_WEB_IDLE_SECONDS="2")
    server = start_serve(env, tmp_path, port)
    try:
        first = _web_processes(server)
        assert len(first) == 1  # SPYGLASS_WEB_WORKERS_MIN's default

        # One keep-alive connection, as an SDK's: it stays with the first process until
        # that one, once the second accepts, answers with `Connection: close`.
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        closed = []

        def busy() -> bool:
            for _ in range(50):
                client.request("GET", "/_ready")
                response = client.getresponse()
                assert response.status == 200
                response.read()
                if response.getheader("connection") == "close":
                    closed.append(len(_web_processes(server)))
            return bool(closed)

        wait_until(busy, "a second web process, and the first closing its connections")
        assert closed[0] == 2
        assert first[0] in _web_processes(server)
        client.close()
        wait_until(lambda: _web_processes(server) == first, "the added web process to stop")
        log_text = (tmp_path / "serve.log").read_text(errors="replace")
        assert "web-2 started: the web processes are busy" in log_text
        assert "web-2 stopping: the web processes are quiet" in log_text
        assert "restarting" not in log_text  # a stopped one is not restarted
        server.send_signal(signal.SIGTERM)
        assert server.wait(HANG_GUARD) == 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
