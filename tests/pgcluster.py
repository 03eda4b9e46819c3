"""Run a command against a throw-away PostgreSQL cluster.

    python tests/pgcluster.py -- pytest -q

Starts a fresh cluster with the machine's initdb/pg_ctl in a temporary directory (as the
``postgres`` user when run as root, since PostgreSQL refuses to run as root), creates a
database, exports DATABASE_URL (and SPYGLASS_TEST_PG_ADMIN_URL for tests that need more
databases), runs the command, then stops and removes the cluster.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path


def find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not candidates:
        sys.exit(f"pgcluster: {name} not found (install the postgresql package)")
    return candidates[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        sys.exit("usage: pgcluster.py -- COMMAND [ARGS...]")
    root = Path(tempfile.mkdtemp(prefix="spyglass-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
    subprocess.run(
        as_postgres(
            [initdb, "-D", str(data), "-U", "spyglass", "--auth=trust", "-E", "UTF8", "--no-sync"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        " -c full_page_writes=off -c max_connections=200"
    )
    subprocess.run(
        as_postgres(
            [pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        admin_url = f"postgres://spyglass@127.0.0.1:{port}/postgres"
        env = dict(
            os.environ,
            DATABASE_URL=f"postgres://spyglass@127.0.0.1:{port}/spyglass",
            SPYGLASS_TEST_PG_ADMIN_URL=admin_url,
        )
        subprocess.run([sys.executable, "-c", _CREATE_DB, admin_url], check=True, env=env)
        return subprocess.run(argv, env=env).returncode
    finally:
        subprocess.run(
            as_postgres([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"]),
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)


_CREATE_DB = """
import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("CREATE DATABASE spyglass")
"""

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
