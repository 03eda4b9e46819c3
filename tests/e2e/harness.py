"""Spyglass as a real process: a database of its own, `spyglass serve`, and the queue it fills.

The backend follows the environment: with DATABASE_URL set (``tests/pgcluster.py``) every
server gets a fresh PostgreSQL database, created through SPYGLASS_TEST_PG_ADMIN_URL;
otherwise it runs on SQLite files in its data directory. Either way the database starts as a
copy of one migrated once per test session (SQLite files copied, PostgreSQL ``CREATE DATABASE
… TEMPLATE``): each server's own ``migrate`` then has nothing left to do.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from tests.e2e.envelopes import Envelope, decode_body, parse_envelope

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
# Hang guards only: nothing here asserts how fast anything is.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 60.0
QUEUE_TIMEOUT = 30.0

SPYGLASS = [sys.executable, "-m", "spyglass"]

T = TypeVar("T")

# Every server started in this session, in order, so a failing test can show their logs.
STARTED: list[SpyglassServer] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def group_processes(pgid: int) -> dict[int, str]:
    """Live (not zombie) processes of a process group: pid -> command line."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found[int(stat.parent.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def wait_for(check: Callable[[], T | None], what: str, timeout: float = QUEUE_TIMEOUT) -> T:
    """Poll ``check`` until it returns something other than None (or fail, naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.1)


@dataclass(frozen=True)
class QueueRow:
    id: int
    project_id: int
    key_id: int
    received_at: float
    event_id: str
    client_ip: str
    user_agent: str
    content_encoding: str
    body: bytes

    def envelope(self) -> Envelope:
        return parse_envelope(decode_body(self.content_encoding, self.body))


_SELECT = (
    "SELECT id, project_id, key_id, received_at, event_id, client_ip, user_agent,"
    " content_encoding, body FROM spyglass_queue ORDER BY id"
)


# The migrated database every server starts from, made on first use: a data directory (SQLite)
# or the name of a PostgreSQL template database.
_TEMPLATE: dict[str, str] = {}


def _migrate(env: dict[str, str]) -> None:
    result = subprocess.run(
        [*SPYGLASS, "migrate", "--noinput", "-v0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"migrating the template failed:\n{result.stdout}\n{result.stderr}")


def _sqlite_template() -> Path:
    if "sqlite" not in _TEMPLATE:
        directory = Path(tempfile.mkdtemp(prefix="spyglass-e2e-template-"))
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        _migrate({**env, "SPYGLASS_DATA_DIR": str(directory)})
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        _TEMPLATE["sqlite"] = str(directory)
    return Path(_TEMPLATE["sqlite"])


def _pg_template(base: str, admin: str) -> str:
    if "postgresql" not in _TEMPLATE:
        name = f"spyglass_e2e_template_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        directory = tempfile.mkdtemp(prefix="spyglass-e2e-template-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        url = urlsplit(base)._replace(path=f"/{name}").geturl()
        _migrate({**os.environ, "DATABASE_URL": url, "SPYGLASS_DATA_DIR": directory})
        _TEMPLATE["postgresql"] = name
    return _TEMPLATE["postgresql"]


class Database:
    """Where one server keeps its data: a data directory, plus a PostgreSQL database or not."""

    def __init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="spyglass-e2e-"))
        self.pg_url: str | None = None
        self._pg_name = ""
        base = os.environ.get("DATABASE_URL")
        if base:
            admin = os.environ.get("SPYGLASS_TEST_PG_ADMIN_URL")
            if not admin:
                raise RuntimeError("DATABASE_URL is set but SPYGLASS_TEST_PG_ADMIN_URL is not")
            template = _pg_template(base, admin)
            self._pg_name = f"spyglass_e2e_{uuid.uuid4().hex[:12]}"
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(self._pg_name), sql.Identifier(template)
                    )
                )
            self.pg_url = urlsplit(base)._replace(path=f"/{self._pg_name}").geturl()
        else:
            for path in _sqlite_template().glob("*.sqlite3*"):
                shutil.copy2(path, self.data_dir / path.name)

    @property
    def backend(self) -> str:
        return "postgresql" if self.pg_url else "sqlite"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["SPYGLASS_DATA_DIR"] = str(self.data_dir)
        if self.pg_url:
            env["DATABASE_URL"] = self.pg_url
        return env

    def queue_rows(self) -> list[QueueRow]:
        """Everything in the queue, oldest first (read while the server runs, or after)."""
        rows = self._pg_rows(self.pg_url) if self.pg_url else self._sqlite_rows()
        return [
            QueueRow(
                id=row[0],
                project_id=row[1],
                key_id=row[2],
                received_at=row[3],
                event_id=row[4],
                client_ip=row[5],
                user_agent=row[6],
                content_encoding=row[7],
                body=bytes(row[8]),
            )
            for row in rows
        ]

    @staticmethod
    def _pg_rows(url: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(url) as conn:
            return conn.execute(_SELECT).fetchall()

    def _sqlite_rows(self) -> list[tuple[Any, ...]]:
        path = self.data_dir / "queue.sqlite3"
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=20)
        try:
            rows: list[tuple[Any, ...]] = conn.execute(_SELECT).fetchall()
            return rows
        finally:
            conn.close()

    def drop(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.pg_url:
            admin = os.environ["SPYGLASS_TEST_PG_ADMIN_URL"]
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(self._pg_name)
                    )
                )


class SpyglassServer:
    """One `spyglass serve` (supervisor, web workers, queue worker) on a port of its own.

    It runs in a process group of its own, so the whole tree can be killed at once. With
    ``digest=False`` (the ingest tests) it runs no digest worker, so what the clients sent
    stays in the queue for the test to read.
    """

    def __init__(
        self,
        database: Database,
        name: str = "spyglass",
        *,
        digest: bool = False,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.database = database
        self.name = name
        self.digest = digest
        self.settings = settings or {}  # SPYGLASS_* environment variables of the server
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = database.data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.dsn = ""
        self.project_id = 0
        self.public_key = ""

    # -- setup ---------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        env = self.database.env()
        env["SPYGLASS_BASE_URL"] = self.base_url
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.settings)
        return env

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [*SPYGLASS, *args],
            cwd=REPO,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"spyglass {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def create_project(self) -> None:
        self.manage("migrate", "-v0")
        out = self.manage("project", "create", "--org", "acme", "--name", "web")
        self.dsn = out.strip().splitlines()[-1]
        parts = urlsplit(self.dsn)
        assert parts.username, f"no public key in the DSN {self.dsn!r}"
        self.public_key = parts.username
        self.project_id = int(parts.path.strip("/"))

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        assert self.process is None, "already running"
        with self.log_path.open("ab") as log:
            log.write(f"--- spyglass serve on port {self.port} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [
                    *SPYGLASS,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    *([] if self.digest else ["--no-worker"]),
                ],
                cwd=REPO,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self not in STARTED:
            STARTED.append(self)
        wait_for(self._ready, f"{self.name} to answer /_ready", START_TIMEOUT)

    def _ready(self) -> bool | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"spyglass serve exited with {self.process.returncode} before it was ready:\n"
                + self.log_tail()
            )
        try:
            with urllib.request.urlopen(f"{self.base_url}/_ready", timeout=5) as response:
                return True if response.status == 200 else None
        except OSError:  # refused, reset, or an HTTPError for 503
            return None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def send_sigterm(self, *, whole_group: bool = False) -> None:
        """SIGTERM to the supervisor (which passes it on), or to every process of the group
        at once, as systemd's default KillMode does."""
        assert self.process is not None
        if whole_group:
            os.killpg(self.pid, signal.SIGTERM)
        else:
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> int:
        """The supervisor's exit code, once it and every process of its group are gone."""
        assert self.process is not None
        try:
            code = self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"spyglass serve did not stop within {STOP_TIMEOUT:.0f}s of SIGTERM"
            ) from None
        left = self._reap_group()
        self.process = None
        if left:
            raise AssertionError(f"processes left running after spyglass serve exited: {left}")
        return code

    def terminate(self, *, whole_group: bool = False) -> int:
        self.send_sigterm(whole_group=whole_group)
        return self.wait_stopped()

    def kill(self) -> None:
        """SIGKILL to the whole process group: supervisor, web server and worker at once."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)
        self._reap_group()
        self.process = None

    def _reap_group(self) -> list[str]:
        """Wait for every process of the group to go; kill and name any that stay."""
        assert self.process is not None
        deadline = time.monotonic() + 10
        while (left := group_processes(self.process.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return list(left.values())

    def shutdown(self) -> None:
        """Teardown: stop it if it still runs (never raises for a slow stop)."""
        if self.process is None:
            return
        try:
            self.terminate()
        except AssertionError as exc:
            with self.log_path.open("a") as log:
                log.write(f"\n[e2e teardown] {exc}\n")

    # -- what it logged and queued --------------------------------------------------------
    def log_tail(self, lines: int = 200) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def queue_rows(self) -> list[QueueRow]:
        return self.database.queue_rows()

    def wait_for_events(
        self, event_ids: Iterable[str], timeout: float = QUEUE_TIMEOUT
    ) -> dict[str, QueueRow]:
        """The queue rows of these event ids, once all of them are there."""
        wanted = set(event_ids)

        def check() -> dict[str, QueueRow] | None:
            found = {row.event_id: row for row in self.queue_rows() if row.event_id in wanted}
            return found if len(found) == len(wanted) else None

        try:
            return wait_for(check, f"events {sorted(wanted)} in the queue", timeout)
        except AssertionError:
            present = {row.event_id for row in self.queue_rows()}
            raise AssertionError(
                f"missing from the queue: {sorted(wanted - present)};"
                f" the queue holds event ids {sorted(present)}"
            ) from None

    def rows_with_item(self, item_type: str, match: Callable[[Any], bool]) -> list[QueueRow]:
        """Queued envelopes holding an ``item_type`` item whose JSON payload ``match``es."""
        found = []
        for row in self.queue_rows():
            envelope = row.envelope()
            if item_type in envelope.types and match(envelope.item(item_type).json()):
                found.append(row)
        return found

    def auth_headers(self) -> dict[str, str]:
        return {
            "X-Sentry-Auth": f"Sentry sentry_key={self.public_key}, sentry_version=7,"
            " sentry_client=spyglass-e2e/1.0"
        }

    @property
    def envelope_url(self) -> str:
        return f"{self.base_url}/api/{self.project_id}/envelope/"


def started_server(name: str = "spyglass") -> SpyglassServer:
    """A migrated database with one project, and a running server on it."""
    server = SpyglassServer(Database(), name)
    try:
        server.create_project()
        server.start()
    except BaseException:
        server.shutdown()
        server.database.drop()
        raise
    return server
