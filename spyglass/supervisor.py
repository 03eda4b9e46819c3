"""`spyglass serve`: every role under one small supervisor.

The supervisor binds the listening socket and starts, as child processes,
``SPYGLASS_WEB_WORKERS`` web servers sharing that socket and one background process running
a digest worker and the scheduler (the scheduler is idle nearly always; a process of its
own would cost ~45 MB), plus ``SPYGLASS_DIGEST_WORKERS`` - 1 more digest workers. It imports
neither Django nor the app, so it costs a few MB. A child
that dies is restarted with a growing pause; SIGTERM or SIGINT is passed on to every child,
which drains and exits, and then the supervisor exits with status 0.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from types import FrameType

SHUTDOWN_GRACE = 30.0
PR_SET_PDEATHSIG = 1


class Child:
    # A plain class: `dataclasses` (with `inspect` and `ast`) would cost this process ≈ 1.5 MB.
    def __init__(self, name: str, argv: list[str], pass_fds: tuple[int, ...] = ()) -> None:
        self.name = name
        self.argv = argv
        self.pass_fds = pass_fds
        self.process: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.restarts = 0
        self.next_start = 0.0

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, pass_fds=self.pass_fds, preexec_fn=_die_with_parent
        )
        self.started_at = time.monotonic()


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM when the supervisor dies, so none outlives it. (libc by
    name: `ctypes.util.find_library` would import ≈ 2 MB of modules for a lookup.)"""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _count(name: str, default: str) -> int:
    raw = os.environ.get(name) or default
    if not raw.isdigit() or int(raw) < 1:
        sys.exit(f"{name} must be a positive integer, not {raw!r}")
    return int(raw)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="spyglass serve", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--no-worker", action="store_true", help="don't run a digest worker")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    sock = bind(args.host, args.port)
    base = [sys.executable, "-m", "spyglass"]
    fd = sock.fileno()
    children = [
        Child(f"web-{n}", [*base, "web", "--fd", str(fd)], pass_fds=(fd,))
        for n in range(1, _count("SPYGLASS_WEB_WORKERS", "2") + 1)
    ]
    background = [*base, "worker", "--with-scheduler"]
    if args.no_worker:
        background = [*base, "scheduler"]
    children.append(Child("background", background))
    if not args.no_worker:
        digest_workers = _count("SPYGLASS_DIGEST_WORKERS", "1")
        children += [Child(f"digest-{n}", [*base, "worker"]) for n in range(2, digest_workers + 1)]
    for child in children:
        child.start()
    print(
        f"Spyglass is serving on http://{args.host}:{args.port}/ (supervisor pid {os.getpid()};"
        f" {', '.join(c.name for c in children)})",
        flush=True,
    )
    while not stop.wait(0.5):
        now = time.monotonic()
        for child in children:
            assert child.process is not None
            if child.process.poll() is None or now < child.next_start:
                continue
            if child.next_start == 0.0:
                if now - child.started_at > 60:
                    child.restarts = 0
                child.restarts += 1
                pause = min(30.0, 0.5 * 2**child.restarts)
                print(
                    f"{child.name} exited with {child.process.returncode};"
                    f" restarting in {pause:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
                child.next_start = now + pause
                continue
            child.next_start = 0.0
            child.start()
    # Stop accepting before draining: new connections are refused instead of waiting in a
    # backlog that nobody will serve.
    sock.close()
    return shutdown(children)


def shutdown(children: list[Child]) -> int:
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE
    clean = True
    for child in children:
        if child.process is None:
            continue
        try:
            code = child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            code = child.process.wait()
        # uvicorn re-raises the signal after its graceful shutdown: dying of it is clean.
        if code not in (0, -signal.SIGTERM, -signal.SIGINT):
            print(f"{child.name} exited with {code} while stopping", file=sys.stderr, flush=True)
            clean = False
    print("Spyglass stopped." if clean else "Spyglass stopped, not cleanly.", flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
