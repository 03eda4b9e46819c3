"""Ingest benchmark: Spyglass's edge against a no-op ASGI app, on uvicorn and granian.

For every ASGI server, app (the no-op baseline, then Spyglass) and mode it starts a fresh
server (same number of workers, a fresh data dir and so an empty queue), checks that an
envelope is acknowledged, warms up in the same mode, then measures:

- closed: ``--concurrency`` keep-alive connections from wrk, each sending back to back;
- open:   ``--rate`` requests/s offered by bench/loadgen.py, latency counted from each
          request's intended send time (no coordinated omission).

It reports accepted/s (200s only), p50/p99, non-200 counts by status, the peak RSS and PSS of
the server's process tree (sampled from /proc every 100 ms), the CPU used by the server, the
load generator and everything else on the machine, and for Spyglass whether every 200 it
answered has its row in the queue table. See docs/benchmarks.md.

    .venv/bin/python bench/ingest.py --duration 12 --concurrency 32 --rate 1000 \\
        --servers uvicorn,granian --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
from payloads import build_pool, describe, write_pool  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"

# {bin}: the venv's bin directory, {app}: the ASGI target. A template without {app} serves
# Spyglass only; its "vs no-op" uses the first no-op run of the same round and mode.
SERVERS = {
    "uvicorn": "{bin}/uvicorn {app} --host {host} --port {port} --workers {workers}"
    " --loop uvloop --http httptools --no-access-log --log-level warning",
    "granian": "{bin}/granian --interface asgi --workers {workers} --host {host} --port {port}"
    " --loop uvloop --no-ws --log-level warning {app}",
    "web": "{bin}/spyglass web --host {host} --port {port} --workers {workers}",
}
APPS = {"noop": "noop_app:app", "spyglass": "spyglass.asgi:application"}
MODES = ("closed", "open")


# -- the server's process tree ---------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    children = _children_map()
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _pss(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with suppress(OSError), open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine; steal counts as busy."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def _role(pid: int) -> str:
    """A process's command line, shortened to its last two words (``spyglass web``)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        words = [w.rsplit(b"/", 1)[-1].decode() for w in f.read().split(b"\0") if w]
    return " ".join(w for w in words if not w.startswith("-"))[-40:]


class TreeSampler(threading.Thread):
    """Peak RSS summed over a process tree, and PSS (which counts shared pages once)."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_rss = self.peak_pss = 0
        self.peak_parts: dict[str, int] = {}  # each process's RSS at the tree's peak
        self.pids: list[int] = [pid]
        self._stop_event = threading.Event()

    def reset(self) -> None:
        self.peak_rss = self.peak_pss = 0
        self.peak_parts = {}

    def run(self) -> None:
        n = 0
        while not self._stop_event.wait(self.interval):
            if n % 10 == 0:  # the tree rarely changes: rescan /proc once a second
                self.pids = process_tree(self.pid)
            n += 1
            rss = pss = 0
            parts: dict[str, int] = {}
            for pid in self.pids:
                with suppress(OSError, ValueError):
                    one = _rss(pid)
                    pss += _pss(pid)
                    rss += one
                    parts[f"{pid} {_role(pid)}"] = one
            if rss > self.peak_rss:
                self.peak_rss, self.peak_parts = rss, parts
            self.peak_pss = max(self.peak_pss, pss)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# -- servers ---------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    app: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    lifespan_file: Path
    sampler: TreeSampler = field(init=False)

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (lets the lifespan shutdown run), then SIGKILL to the group we created."""
        code: int | None = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                code = self.proc.wait(timeout)
        else:
            code = self.proc.returncode
        # Whatever of the group is still there (a stuck master, an orphaned worker).
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        return code


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def http_once(port: int, request: bytes, timeout: float) -> tuple[int, bytes]:
    """Send one raw request on a fresh connection: (status, response body)."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed before a response")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
        while length and len(rest) < int(length.group(1)):
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return int(data[9:12]), rest


def start_server(
    name: str,
    template: str,
    app: str,
    workers: int,
    data_dir: Path,
    workdir: Path,
    extra_env: dict[str, str],
) -> Server:
    port = free_port()
    cmd = template.format(
        bin=Path(sys.executable).parent, app=APPS[app], host=HOST, port=port, workers=workers
    )
    log = workdir / f"{name}-{app}-{port}.log"
    lifespan_file = workdir / f"{name}-{app}-{port}.lifespan"
    env = dict(os.environ)
    env.update(extra_env)
    env.update(
        SPYGLASS_DATA_DIR=str(data_dir),
        PYTHONPATH=os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH")])),
        BENCH_LIFESPAN_FILE=str(lifespan_file),
    )
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            shlex.split(cmd),
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, app, proc, port, log, lifespan_file)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd!r} exited with {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            http_once(port, b"GET /_health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 2.0)
            break
        except OSError:
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{cmd!r} did not answer within 60 s") from None
            time.sleep(0.1)
    server.sampler = TreeSampler(proc.pid)
    server.sampler.start()
    return server


# -- load ------------------------------------------------------------------------------------
@contextmanager
def child_cpu() -> Iterator[dict[str, float]]:
    """CPU seconds of the children reaped inside the block (the load generator)."""
    box: dict[str, float] = {}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    yield box
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    box["cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_wrk(
    args: argparse.Namespace, port: int, pool_dir: Path, duration: float, ids: Path | None
) -> dict[str, Any]:
    cmd = [
        args.wrk,
        f"-t{args.wrk_threads}",
        f"-c{args.concurrency}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "ingest_wrk.lua"),
        f"http://{HOST}:{port}/",
        "--",
        str(pool_dir),
        str(args.wrk_threads),
    ]
    if ids is not None:
        cmd.append(f"{ids}.")
    with child_cpu() as cpu:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRKJSON (.*)$", out, re.M)
    if not match:
        raise RuntimeError(f"no result from wrk: {out}")
    result: dict[str, Any] = json.loads(match.group(1))
    errors = {k: v for k, v in result.pop("errors").items() if k != "status" and v}
    for kind, count in errors.items():
        result["statuses"][f"error:{kind}"] = count
    result["loadgen"] = "wrk"
    result["loadgen_cpu_s"] = cpu["cpu_s"]
    return result


def run_loadgen(
    args: argparse.Namespace,
    port: int,
    pool_dir: Path,
    duration: float,
    ids: Path | None,
    *,
    rate: float | None = None,
    offset: int = 0,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        str(BENCH / "loadgen.py"),
        "--port",
        str(port),
        "--pool",
        str(pool_dir),
        "--duration",
        str(duration),
        "--offset",
        str(offset),
    ]
    cmd += ["--rate", str(rate)] if rate else ["--concurrency", str(args.concurrency)]
    if ids is not None:
        cmd += ["--ids", str(ids)]
    with child_cpu() as cpu:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result: dict[str, Any] = json.loads(out)
    result["loadgen"] = "python"
    result["loadgen_cpu_s"] = cpu["cpu_s"]
    return result


def measure(server: Server, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    pids = process_tree(server.proc.pid)
    cpu0 = cpu_seconds(pids)
    busy0, total0 = machine_ticks()
    server.sampler.reset()
    result = run()
    busy1, total1 = machine_ticks()
    duration = result["duration_us"] / 1e6
    cores = os.cpu_count() or 1
    server_cores = (cpu_seconds(pids) - cpu0) / duration
    loadgen_cores = result["loadgen_cpu_s"] / duration
    machine_cores = (busy1 - busy0) / max(1, total1 - total0) * cores
    statuses = result["statuses"]
    result.update(
        accepted=statuses.get("200", 0),
        accepted_per_s=statuses.get("200", 0) / duration,
        non_200={k: v for k, v in statuses.items() if k != "200"},
        peak_rss_mb=server.sampler.peak_rss / 2**20,
        peak_pss_mb=server.sampler.peak_pss / 2**20,
        peak_parts_mb={k: round(v / 2**20, 1) for k, v in server.sampler.peak_parts.items()},
        server_cores=server_cores,
        loadgen_cores=loadgen_cores,
        machine_cores=machine_cores,
        # Other tenants of the machine (and kernel work not charged to a process).
        other_cores=max(0.0, machine_cores - server_cores - loadgen_cores),
        # The least noisy number on a shared machine: what one request costs the server.
        server_cpu_us_per_request=server_cores * duration / max(1, result["requests"]) * 1e6,
    )
    return result


# -- durability ------------------------------------------------------------------------------
def _queue_db(data_dir: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{data_dir / 'queue.sqlite3'}?mode=ro", uri=True)


def queue_rows(data_dir: Path) -> int:
    db = _queue_db(data_dir)
    try:
        (count,) = db.execute("SELECT count(*) FROM spyglass_queue").fetchone()
        return int(count)
    finally:
        db.close()


def durability(data_dir: Path, ids_dir: Path) -> dict[str, int]:
    """Every acknowledged id must have a row (pool bodies repeat, so compare multisets)."""
    acked: Counter[str] = Counter()
    for path in ids_dir.iterdir():
        acked.update(path.read_text().split())
    db = _queue_db(data_dir)
    try:
        rows = Counter(r[0] for r in db.execute("SELECT event_id FROM spyglass_queue"))
    finally:
        db.close()
    missing = sum(max(0, n - rows[i]) for i, n in acked.items())
    return {
        "rows": rows.total(),
        "acked_ids": acked.total(),
        "acked_without_row": missing,
        "rows_without_ack": rows.total() - acked.total() + missing,
    }


# -- one configuration: server x app x mode --------------------------------------------------
def run_config(
    args: argparse.Namespace,
    name: str,
    template: str,
    app: str,
    mode: str,
    data_dir: Path,
    pool_dir: Path,
    first_request: bytes,
    workdir: Path,
) -> dict[str, Any]:
    config: dict[str, Any] = {"server": name, "app": app, "mode": mode, "command": template}
    ids_dir = workdir / f"ids-{data_dir.name}"
    ids_dir.mkdir()
    phase_no = iter(range(1, 1000))

    def load(duration: float) -> dict[str, Any]:
        ids = ids_dir / f"phase-{next(phase_no)}" if app == "spyglass" else None
        if mode == "open":
            return run_loadgen(
                args, server.port, pool_dir, duration, ids, rate=args.rate, offset=args.pool // 2
            )
        if args.wrk:
            return run_wrk(args, server.port, pool_dir, duration, ids)
        return run_loadgen(args, server.port, pool_dir, duration, ids)

    started = time.monotonic()
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    server = start_server(name, template, app, args.workers, data_dir, workdir, extra_env)
    acked = in_flight = 0
    try:
        config["startup_s"] = time.monotonic() - started
        try:
            status, body = http_once(server.port, first_request, 10.0)
        except TimeoutError:
            config["error"] = "first envelope not acknowledged within 10 s"
            return config
        config["first_status"] = status
        if status != 200:
            config["error"] = f"first envelope answered {status}"
            return config
        acked += 1
        if app == "spyglass":
            (ids_dir / "first").write_bytes(body[7:39] + b"\n")
        if args.warmup:
            warm = load(args.warmup)
            acked += warm["statuses"].get("200", 0)
            in_flight += warm["in_flight_at_stop"]
        if app == "spyglass":
            config["queue_rows_at_start"] = queue_rows(data_dir)
        profiler = start_profiler(args, server, config) if app == "spyglass" else None
        result = measure(server, lambda: load(args.duration))
        if profiler is not None:
            finish_profiler(profiler, config)
        acked += result["accepted"]
        in_flight += result["in_flight_at_stop"]
        config["result"] = result
    finally:
        config["acked_200"] = acked
        config["client_in_flight_at_stop"] = in_flight
        config["exit_code"] = server.stop()
        server.sampler.stop()
        if server.lifespan_file.exists():
            config["lifespan_events"] = server.lifespan_file.read_text().split("\n")[:-1]
        log = server.log.read_text(errors="replace").strip()
        if log:
            config["server_log_tail"] = log[-1500:]
    if app == "spyglass" and "first_status" in config:
        config["queue_rows"] = queue_rows(data_dir)
        config["durability"] = check = durability(data_dir, ids_dir)
        # Exact when the client read every answer; wrk stops mid-request, and what it had in
        # flight may be committed without its 200 having been read.
        config["durable"] = (
            check["acked_without_row"] == 0
            and check["acked_ids"] == acked
            and 0 <= config["queue_rows"] - acked <= in_flight
        )
    return config


# -- profiling (optional; it slows the server, so the numbers of that run are not comparable) --
def start_profiler(
    args: argparse.Namespace, server: Server, config: dict[str, Any]
) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    args.profile.mkdir(parents=True, exist_ok=True)
    out = args.profile / f"{server.name}-{config['mode']}-{server.port}.txt"
    config["profile"] = str(out)
    cmd = [py_spy, "record", "--pid", str(server.proc.pid), "--subprocesses", "--format", "raw"]
    cmd += ["--rate", "200", "--duration", str(int(args.duration)), "--output", str(out)]
    cmd += ["--gil"] if args.profile_gil else []
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def finish_profiler(proc: subprocess.Popen[bytes], config: dict[str, Any]) -> None:
    proc.wait(30)
    path = Path(config["profile"])
    if path.exists():
        config["profile_top"] = profile_summary(path)


def profile_summary(path: Path, top: int = 25) -> dict[str, list[tuple[str, float]]]:
    """Self and inclusive shares of the functions in py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        total += n
        own[frames[-1]] += n
        inclusive.update(dict.fromkeys(set(frames), n))
    share = 100 / max(1, total)
    return {
        "self": [(f, round(n * share, 1)) for f, n in own.most_common(top)],
        "spyglass_inclusive": [
            (f, round(n * share, 1))
            for f, n in inclusive.most_common()
            if "spyglass/" in f or "django/db" in f
        ][:top],
    }


# -- setup -----------------------------------------------------------------------------------
def prepare_data_dir(path: Path) -> tuple[int, str]:
    env = dict(os.environ, SPYGLASS_DATA_DIR=str(path))
    spyglass = str(Path(sys.executable).parent / "spyglass")
    subprocess.run([spyglass, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    code = (
        "from spyglass.projects.models import *; o=Organization.get_or_create_named('bench');"
        " p=Project.create(o,'bench','python'); print(p.default_key().public_key, p.id)"
    )
    out = subprocess.run(
        [spyglass, "shell", "-c", code],
        env=env,
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"^([0-9a-f]{32}) (\d+)$", out, re.M)
    if not match:
        raise RuntimeError(f"could not create the bench project: {out}")
    return int(match.group(2)), match.group(1)


def machine(args: argparse.Namespace) -> dict[str, Any]:
    cpu = ""
    with suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next(
            (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
        )
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    versions = {}
    for module in ("uvicorn", "granian", "uvloop", "httptools", "django", "brotli"):
        with suppress(Exception):
            versions[module] = version(module)
    wrk = None
    if args.wrk:
        wrk = subprocess.run([args.wrk, "-v"], capture_output=True, text=True).stdout
        wrk = wrk.split("\n")[0]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "mem_gib": round(mem_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
        "wrk": wrk,
        "loadavg_before": os.getloadavg(),
    }


# -- report ----------------------------------------------------------------------------------
def _ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def _non200(result: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(result["non_200"].items())) or "0"


def _mode(config: dict[str, Any], args: argparse.Namespace) -> str:
    return f"closed c={args.concurrency}" if config["mode"] == "closed" else f"open {args.rate:g}/s"


def _durable(config: dict[str, Any]) -> str:
    if "durable" not in config:
        return ""
    rows, acked = config["queue_rows"], config["acked_200"]
    text = f"{'yes' if config['durable'] else 'NO'}: {rows} rows, {acked} 200s"
    if rows != acked:
        text += f" (+{rows - acked} of {config['client_in_flight_at_stop']} cut off)"
    return text


def report(configs: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    lines = [
        "| round | server | app | mode | accepted/s | vs no-op | p50 ms | p99 ms | non-200"
        " | peak RSS (PSS) MB | CPU cores: server / loadgen / other | server CPU µs/req"
        " | every 200 in the queue |",
        "|---|---|---|---|---:|---:|---:|---:|---|---:|---|---:|---|",
    ]
    # The no-op rate of the same server, round and mode; for a Spyglass-only server command,
    # the first no-op of that round and mode.
    noop: dict[tuple[int, str, str], float] = {}
    for c in configs:
        if c["app"] == "noop" and "result" in c:
            rate = c["result"]["accepted_per_s"]
            noop[(c["round"], c["server"], c["mode"])] = rate
            noop.setdefault((c["round"], "", c["mode"]), rate)
    verdicts = []
    for c in configs:
        if "result" not in c:
            lines.append(
                f"| {c['round']} | {c['server']} | {c['app']} | {_mode(c, args)} |"
                f" FAILED: {c.get('error', '?')} | | | | | | | | |"
            )
            continue
        r = c["result"]
        ratio = ""
        base = noop.get((c["round"], c["server"], c["mode"]), noop.get((c["round"], "", c["mode"])))
        # At a fixed offered rate both apps accept it all: the ratio means something only
        # in the closed loop.
        if c["app"] == "spyglass" and c["mode"] == "closed" and base:
            ratio = f"{r['accepted_per_s'] / base:.0%}"
        lines.append(
            f"| {c['round']} | {c['server']} | {c['app']} | {_mode(c, args)} |"
            f" {r['accepted_per_s']:,.0f} | {ratio} | {_ms(r['latency_us']['p50'])} |"
            f" {_ms(r['latency_us']['p99'])} | {_non200(r)} |"
            f" {r['peak_rss_mb']:.0f} ({r['peak_pss_mb']:.0f}) |"
            f" {r['server_cores']:.2f} / {r['loadgen_cores']:.2f} / {r['other_cores']:.2f} |"
            f" {r['server_cpu_us_per_request']:.0f} | {_durable(c)} |"
        )
        if c["app"] != "spyglass":
            continue
        where = f"round {c['round']} {c['server']}"
        if c["mode"] == "closed" and base:
            ok = r["accepted_per_s"] >= 0.6 * base
            verdicts.append(f"{where}: {ratio} of the no-op rate (budget >= 60 %): {_ok(ok)}")
        if c["mode"] == "open":
            p99 = r["latency_us"]["p99"] / 1000
            ok = p99 <= 10 and not r["non_200"]
            verdicts.append(
                f"{where}: p99 {p99:.1f} ms at {args.rate:g}/s offered"
                f" (budget <= 10 ms, all 200): {_ok(ok)}"
            )
        verdicts.append(f"{where} {c['mode']}: every 200 in the queue: {_ok(c['durable'])}")
    return [*lines, "", *verdicts]


def _ok(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def median_report(configs: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """One line per server, app and mode: the median over the rounds (and the range)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in configs:
        if "result" in c:
            groups.setdefault((c["server"], c["app"], c["mode"]), []).append(c)
    noop = {
        (server, mode): statistics.median(c["result"]["accepted_per_s"] for c in runs)
        for (server, app, mode), runs in groups.items()
        if app == "noop"
    }
    first_noop = {mode: rate for (_, mode), rate in reversed(noop.items())}
    lines = [
        "| server | app | mode | runs | accepted/s (range) | vs no-op | p50 ms | p99 ms (range)"
        " | non-200 | peak RSS (PSS) MB | server CPU µs/req | every 200 in the queue |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (server, app, mode), runs in groups.items():
        res = [c["result"] for c in runs]
        rate = [r["accepted_per_s"] for r in res]
        p99 = [r["latency_us"]["p99"] / 1000 for r in res]
        ratio = ""
        base = noop.get((server, mode), first_noop.get(mode))
        if app == "spyglass" and mode == "closed" and base:
            ratio = f"{statistics.median(rate) / base:.0%}"
        durable = ""
        if app == "spyglass":
            durable = "yes, all runs" if all(c["durable"] for c in runs) else "NO"
        lines.append(
            f"| {server} | {app} | {_mode(runs[0], args)} | {len(runs)} |"
            f" {statistics.median(rate):,.0f} ({min(rate):,.0f}-{max(rate):,.0f}) | {ratio} |"
            f" {statistics.median(r['latency_us']['p50'] for r in res) / 1000:.1f} |"
            f" {statistics.median(p99):.1f} ({min(p99):.1f}-{max(p99):.1f}) |"
            f" {sum(sum(r['non_200'].values()) for r in res)} |"
            f" {max(r['peak_rss_mb'] for r in res):.0f}"
            f" ({max(r['peak_pss_mb'] for r in res):.0f}) |"
            f" {statistics.median(r['server_cpu_us_per_request'] for r in res):.0f} | {durable} |"
        )
    return lines


# -- main ------------------------------------------------------------------------------------
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=12.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--concurrency", type=int, default=32, help="closed loop connections")
    parser.add_argument("--rate", type=float, default=1000.0, help="open loop requests/s")
    parser.add_argument("--modes", default="closed,open")
    parser.add_argument(
        "--servers", default="uvicorn,granian", help=f"of {', '.join(SERVERS)} and --server-cmd"
    )
    parser.add_argument("--apps", default="noop,spyglass")
    parser.add_argument(
        "--server-cmd",
        action="append",
        default=[],
        metavar="NAME=TEMPLATE",
        help="add or replace a server command; placeholders {bin} {app} {host} {port}"
        " {workers}; without {app} it serves Spyglass only",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the servers, e.g. SPYGLASS_QUEUE_COMMIT_WINDOW_MS=0",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="repeat everything this often")
    parser.add_argument("--pool", type=int, default=20000, help="distinct requests pre-built")
    parser.add_argument("--wrk", default=shutil.which("wrk"), help="wrk binary ('' = python)")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--profile", type=Path, help="py-spy the Spyglass runs into this dir")
    parser.add_argument("--profile-gil", action="store_true", help="py-spy --gil")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    parser.add_argument("--quick", action="store_true", help="4 s runs, 1 s warm-up, small pool")
    parser.add_argument("--report", type=Path, help="only print the tables of a --json file")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.warmup, args.pool = 4.0, 1.0, 3000
    return args


def _print_run(config: dict[str, Any]) -> None:
    if "result" in config:
        r = config["result"]
        print(
            f"  {r['accepted_per_s']:,.0f}/s accepted, p50 {_ms(r['latency_us']['p50'])} ms,"
            f" p99 {_ms(r['latency_us']['p99'])} ms, non-200 {_non200(r)},"
            f" peak RSS {r['peak_rss_mb']:.0f} MB, CPU server {r['server_cores']:.2f}"
            f" other {r['other_cores']:.2f}",
            file=sys.stderr,
        )
        parts = ", ".join(f"{k}: {v:.0f}" for k, v in r.get("peak_parts_mb", {}).items())
        print(f"  RSS MB at the peak: {parts}", file=sys.stderr)
    if "error" in config:
        print(f"  FAILED: {config['error']}", file=sys.stderr)
    if "durable" in config:
        print(f"  every 200 in the queue: {_durable(config)}", file=sys.stderr)
    if "lifespan_events" in config:
        print(f"  lifespan: {', '.join(config['lifespan_events'])}", file=sys.stderr)
    sys.stderr.flush()


def main() -> None:
    args = parse_args()
    if args.report:
        saved = json.loads(args.report.read_text())
        for key, value in saved["settings"].items():
            if key in ("concurrency", "rate"):
                setattr(args, key, float(value) if key == "rate" else int(value))
        print("\n".join(report(saved["configs"], args)))
        print("\n".join(["", *median_report(saved["configs"], args)]))
        return
    templates = dict(SERVERS)
    servers = [s for s in args.servers.split(",") if s]
    for spec in args.server_cmd:
        name, _, template = spec.partition("=")
        templates[name] = template
        if name not in servers:
            servers.append(name)
    apps = [a for a in args.apps.split(",") if a]
    modes = [m for m in args.modes.split(",") if m in MODES]
    workdir = Path(tempfile.mkdtemp(prefix="spyglass-bench-"))
    results: dict[str, Any] = {
        "machine": machine(args),
        "command": " ".join(shlex.quote(a) for a in sys.argv),
        "settings": {k: str(v) for k, v in vars(args).items()},
    }
    try:
        template_dir = workdir / "template"
        project_id, public_key = prepare_data_dir(template_dir)
        t0 = time.monotonic()
        pool = build_pool(args.pool, project_id, public_key)
        pool_dir = workdir / "pool"
        write_pool(pool, pool_dir)
        results["pool"] = describe(pool) | {"build_s": round(time.monotonic() - t0, 1)}
        print(f"pool: {json.dumps(results['pool'])}", file=sys.stderr)
        first_request = pool[0].request
        del pool
        configs: list[dict[str, Any]] = []
        run_no = 0
        for rnd in range(1, args.rounds + 1):
            for name in servers:
                for app in apps:
                    if app == "noop" and "{app}" not in templates[name]:
                        continue
                    for mode in modes:
                        run_no += 1
                        data_dir = workdir / f"data-{run_no}"
                        shutil.copytree(template_dir, data_dir)
                        print(f"round {rnd}: {name} / {app} / {mode}", file=sys.stderr)
                        config = run_config(
                            args,
                            name,
                            templates[name],
                            app,
                            mode,
                            data_dir,
                            pool_dir,
                            first_request,
                            workdir,
                        )
                        config["round"] = rnd
                        configs.append(config)
                        _print_run(config)
                        if not args.keep:
                            shutil.rmtree(data_dir, ignore_errors=True)
        results["configs"] = configs
        results["machine"]["loadavg_after"] = os.getloadavg()
        results["table"] = table = report(configs, args)
        results["medians"] = medians = median_report(configs, args)
        print("\n".join([*table, "", *medians]))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
