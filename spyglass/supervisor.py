"""`spyglass serve`: every role under one small supervisor.

The supervisor binds the listening socket and starts, as child processes, web servers
sharing that socket and one background process running a digest worker and the scheduler
(the scheduler is idle nearly always; a process of its own would cost ~45 MB), plus
``SPYGLASS_DIGEST_WORKERS`` - 1 more digest workers. It imports neither Django nor the app,
so it costs a few MB. A child that dies is restarted with a growing pause; SIGTERM or SIGINT
is passed on to every child, which drains and exits, and then the supervisor exits with
status 0.

Web processes follow the load (``WebScaler``): ``SPYGLASS_WEB_WORKERS_MIN`` run always, and
while each of them is busy (``SPYGLASS_WEB_BUSY`` of a core, over the last seconds) another
starts, up to ``SPYGLASS_WEB_WORKERS``. An added one is stopped (it drains first) once the
web processes have been quiet for ``SPYGLASS_WEB_IDLE_SECONDS``. A new one signals
(SIGUSR2) once it accepts connections; the others then close their keep-alive connections
for a moment (SIGUSR1), so that their clients reconnect and spread. One web process ingests
several times what the digest can keep up with on the same machine, so a second one (≈ 60 MB)
only serves bursts.
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
from collections.abc import Sequence
from types import FrameType

SHUTDOWN_GRACE = 30.0
PR_SET_PDEATHSIG = 1
TICK = 0.5  # seconds between the supervisor's looks at its children
BUSY_WINDOW = 2.0  # seconds of CPU use behind a decision to start a web process
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of a process so far (Linux ``/proc``); None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class WebScaler:
    """How many web processes to run, from their CPU use (see the module's docstring).

    ``observe`` takes each running web process's CPU seconds so far and answers +1 (start
    one more), -1 (stop the newest added one) or 0. Start one when, over the last
    ``BUSY_WINDOW`` seconds, the web processes used ``busy`` of a core each on average; stop
    one when, for ``idle_seconds``, they used so little that one fewer would each have used
    under half of ``busy``. After any change the window starts again, so a new process's
    start-up and a stopped one's drain don't count."""

    def __init__(self, least: int, most: int, busy: float, idle_seconds: float) -> None:
        self.least, self.most = least, max(least, most)
        self.busy, self.idle_seconds = busy, idle_seconds
        self.samples: list[tuple[float, float]] = []  # (time, CPU seconds of them all)
        self.count = 0  # web processes in the samples

    def observe(self, now: float, cpu: list[float]) -> int:
        if len(cpu) != self.count:
            self.samples, self.count = [], len(cpu)
        if not cpu:  # none running (one is being restarted): nothing to tell from
            return 0
        self.samples.append((now, sum(cpu)))
        horizon = now - max(BUSY_WINDOW, self.idle_seconds) - TICK
        while self.samples and self.samples[0][0] < horizon:
            self.samples.pop(0)
        if self.count < self.most:
            used = self._cores_since(now - BUSY_WINDOW)
            if used is not None and used >= self.busy * self.count:
                self.samples = []
                return 1
        if self.count > self.least:
            used = self._cores_since(now - self.idle_seconds)
            if used is not None and used < self.busy / 2 * (self.count - 1):
                self.samples = []
                return -1
        return 0

    def _cores_since(self, since: float) -> float | None:
        """Cores used on average since ``since``; None if the samples don't reach back."""
        if not self.samples or self.samples[0][0] > since:
            return None
        start = next(s for s in reversed(self.samples) if s[0] <= since)
        end = self.samples[-1]
        return (end[1] - start[1]) / max(end[0] - start[0], 1e-9)


def _die_with_parent() -> None:
    """Linux: a child gets SIGTERM when the supervisor dies, so none outlives it. (libc by
    name: `ctypes.util.find_library` would import ≈ 2 MB of modules for a lookup.) SIGUSR1
    is ignored until a web process sets its handler: it would end a starting one."""
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
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


def _positive(name: str, default: str) -> float:
    raw = os.environ.get(name) or default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        sys.exit(f"{name} must be a positive number, not {raw!r}")
    return value


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
    listening = threading.Event()  # a web process has started accepting

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGUSR2, lambda signum, frame: listening.set())

    sock = bind(args.host, args.port)
    base = [sys.executable, "-m", "spyglass"]
    fd = sock.fileno()
    most = _count("SPYGLASS_WEB_WORKERS", "2")
    scaler = WebScaler(
        min(most, _count("SPYGLASS_WEB_WORKERS_MIN", "1")),
        most,
        _positive("SPYGLASS_WEB_BUSY", "0.5"),
        _positive("SPYGLASS_WEB_IDLE_SECONDS", "60.0"),
    )
    if cpu_seconds(os.getpid()) is None:  # no /proc: no measure of load, so all of them
        scaler.least = most

    def web(n: int) -> Child:
        return Child(f"web-{n}", [*base, "web", "--fd", str(fd)], pass_fds=(fd,))

    os.environ["SPYGLASS_SUPERVISOR_PID"] = str(os.getpid())  # whom a web process tells

    webs = [web(n) for n in range(1, scaler.least + 1)]
    children = list(webs)
    retiring: list[Child] = []  # stopped for want of load, draining
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
    while not stop.wait(TICK):
        now = time.monotonic()
        retiring = [c for c in retiring if c.process is not None and c.process.poll() is None]
        running = [c.process.pid for c in webs if c.process and c.process.poll() is None]
        usage = [cpu_seconds(pid) for pid in running]
        step = 0 if None in usage else scaler.observe(now, [u or 0.0 for u in usage])
        if listening.is_set():
            listening.clear()
            # A web process accepts now (most likely the youngest): the others close their
            # keep-alive connections for a moment, and their clients reconnect, some to it.
            youngest = max(webs, key=lambda c: c.started_at)
            for child in webs:
                if child is not youngest and child.process and child.process.poll() is None:
                    child.process.send_signal(signal.SIGUSR1)
        if step > 0:
            webs.append(web(len(webs) + 1))
            children.insert(len(webs) - 1, webs[-1])
            webs[-1].start()
            _say(f"{webs[-1].name} started: the web processes are busy")
        elif step < 0:
            quiet = webs.pop()
            children.remove(quiet)
            retiring.append(quiet)
            assert quiet.process is not None
            quiet.process.send_signal(signal.SIGTERM)
            _say(f"{quiet.name} stopping: the web processes are quiet")
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
    return shutdown(children, retiring)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def shutdown(children: list[Child], retiring: Sequence[Child] = ()) -> int:
    for child in children:
        if child.process is not None and child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    children = [*children, *retiring]  # those were sent SIGTERM already: a second forces
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
