"""Digest benchmark: queued envelopes -> events and issues, end to end, with N workers.

    python bench/digest.py [--envelopes 20000] [--profile 2000] [--workers 1]
    python bench/digest.py --steps 5000


Builds the same realistic pool as the ingest benchmark (≈70 % errors over 50 groups, ≈30 %
transactions, ≈12 KB envelopes compressed as the SDKs send them), starts N real
`spyglass worker` processes on a fresh data directory, waits until they idle on the empty
queue, commits the pool to the queue exactly as the ingest edge stores it, and times them
from that commit until the queue is empty and every error is an event of an issue
(``--count-startup`` fills the queue first and counts the workers' start-up too). Before
that, ``--warmup`` envelopes (400) are digested untimed and the project's compression
dictionary is trained, as a project in steady state has one (``--warmup 0``: none). Reports
envelopes/s, the workers' CPU per envelope and peak RSS, and bytes on disk per stored event;
`--profile N` also runs N envelopes through the pipeline in-process under cProfile and breaks
the CPU down by step.

``--steps N`` runs no worker: it digests N envelopes in-process after a warm-up and prints the
CPU per envelope of each step, measured with ``time.process_time`` around the step's function
(each step's time excludes the other timed steps it calls; no profiler slows Python code
down), plus the garbage collector's share. On a loaded machine only compare runs interleaved
in one process; this table shows where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import importlib
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from ingest import prepare_data_dir  # noqa: E402
from payloads import Built, build_pool  # noqa: E402

# The pipeline's steps, as (label, module path suffix, function) for the profile breakdown.
STEPS = [
    ("decode + parse envelope", "queue/consumer.py", "envelope_bytes"),
    ("normalize (Relay)", "digest/normalize.py", "normalize"),
    ("inbound filters", "digest/filters.py", "filter_reason"),
    ("scrubbing", "digest/events.py", "_scrub"),
    ("derive title/tags", "digest/derive.py", "event_tags"),
    ("grouping", "digest/events.py", "_group"),
    ("store events + issues", "digest/store.py", "store_events"),
    ("other item handlers", "digest/batch.py", "process_batch"),
]


def body_of(built: Built) -> tuple[bytes, str]:
    """The request body as the queue keeps it (still compressed) and its encoding."""
    head, _, body = built.request.partition(b"\r\n\r\n")
    headers = {
        line.split(b":", 1)[0].strip().lower(): line.split(b":", 1)[1].strip()
        for line in head.split(b"\r\n")[1:]
        if b":" in line
    }
    if headers.get(b"transfer-encoding") == b"chunked":
        chunks, rest = [], body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            chunks.append(rest[:size])
            rest = rest[size + 2 :]
        body = b"".join(chunks)
    return body, headers.get(b"content-encoding", b"").decode()


def fill_queue(data_dir: Path, project_id: int, pool: list[Built]) -> None:
    with sqlite3.connect(data_dir / "queue.sqlite3") as db:
        db.executemany(
            "INSERT INTO spyglass_queue (project_id, key_id, received_at, event_id, client_ip,"
            " user_agent, content_encoding, body, attempts, claimed_by, last_error)"
            " VALUES (?, 1, ?, '', '203.0.113.1', 'bench', ?, ?, 0, '', '')",
            [(project_id, time.time(), enc, body) for body, enc in map(body_of, pool)],
        )


def train_dictionary(data_dir: Path) -> None:
    """The scheduler's compression dictionary training, once."""
    env = dict(os.environ, SPYGLASS_DATA_DIR=str(data_dir), SPYGLASS_LOG_LEVEL="WARNING")
    code = "from spyglass.events.bodies import train_dictionaries; train_dictionaries()"
    spyglass = str(Path(sys.executable).parent / "spyglass")
    subprocess.run([spyglass, "shell", "-v0", "-c", code], env=env, cwd=ROOT, check=True)


def proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds, RSS bytes) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return cpu, int(fields[21]) * os.sysconf("SC_PAGE_SIZE")


def pss(pid: int) -> int:
    """Proportional set size in bytes: shared pages divided among the processes sharing
    them, so a sum over processes counts every page once."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def count(data_dir: Path, db: str, sql: str) -> int:
    with sqlite3.connect(data_dir / db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def wait_idle(procs: list[subprocess.Popen[bytes]], timeout: float = 60.0) -> None:
    """Until the workers have started (Python, Django, the first poll of an empty queue):
    their CPU time stops growing for half a second."""
    deadline = time.monotonic() + timeout
    last, still_since = -1.0, time.monotonic()
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a worker exited with {p.returncode}")
        cpu = sum(proc_stat(p.pid)[0] for p in procs)
        if cpu != last:
            last, still_since = cpu, time.monotonic()
        elif cpu > 0 and time.monotonic() - still_since >= 0.5:
            return
        time.sleep(0.05)
    raise RuntimeError("the workers did not start")


def run_workers(
    data_dir: Path,
    expected_events: int,
    workers: int,
    batch_size: int = 200,
    fill: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Time the workers from the moment the queue holds the envelopes until it is empty and
    every error is an event. With ``fill``, the workers start first on an empty queue and
    ``fill`` commits the envelopes once they are idle, so their start-up (≈ 0.4 s of CPU
    each: Python and Django) is not counted: a running service digests at that rate."""
    env = dict(os.environ, SPYGLASS_DATA_DIR=str(data_dir), SPYGLASS_LOG_LEVEL="WARNING")
    spyglass = str(Path(sys.executable).parent / "spyglass")
    command = [spyglass, "worker", "--batch-size", str(batch_size)]
    procs = [subprocess.Popen(command, env=env, cwd=ROOT) for _ in range(workers)]
    cpu_before = 0.0
    if fill is not None:
        wait_idle(procs)
        cpu_before = sum(proc_stat(p.pid)[0] for p in procs)
        fill()
    start, peak_rss, peak_pss, cpu = time.monotonic(), 0, 0, 0.0
    try:
        while True:
            stats = [proc_stat(p.pid) for p in procs]
            cpu = sum(c for c, _ in stats) - cpu_before
            peak_rss = max(peak_rss, sum(r for _, r in stats))
            peak_pss = max(peak_pss, sum(pss(p.pid) for p in procs))
            left = count(data_dir, "queue.sqlite3", "SELECT count(*) FROM spyglass_queue")
            events = count(data_dir, "spyglass.sqlite3", "SELECT count(*) FROM events_event")
            if left == 0 and events >= expected_events:
                break
            for p in procs:
                if p.poll() is not None:
                    raise RuntimeError(f"a worker exited with {p.returncode}")
            time.sleep(0.1)
        elapsed = time.monotonic() - start
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
    return {"seconds": elapsed, "cpu_seconds": cpu, "peak_rss": peak_rss, "peak_pss": peak_pss}


# Tables whose bytes are the cost of storing error events (each with its indexes); every
# issues_* table counts too. The performance_* tables are the cost of transactions.
ERROR_TABLES = (
    "events_event",
    "events_issuetagvalue",
    "events_issuecount",
    "events_compressiondictionary",
)


def table_bytes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes of pages per table, its indexes included (sqlite's dbstat), free space in those
    pages included: what the table costs on disk."""
    rows = db.execute(
        "SELECT s.tbl_name, sum(d.pgsize) FROM dbstat AS d"
        " JOIN sqlite_schema AS s ON s.name = d.name GROUP BY s.tbl_name"
    )
    return {name: int(size) for name, size in rows}


def disk_per_event(data_dir: Path) -> dict[str, float]:
    """Bytes per stored error event of the tables that hold error events, bytes per stored
    transaction of the performance tables, and the whole file."""
    with sqlite3.connect(data_dir / "spyglass.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        events, body = db.execute("SELECT count(*), sum(length(body)) FROM events_event").fetchone()
        transactions = db.execute("SELECT count(*) FROM performance_transaction").fetchone()[0]
        sizes = table_bytes(db)
        pages = (
            db.execute("PRAGMA page_count").fetchone()[0]
            * db.execute("PRAGMA page_size").fetchone()[0]
        )
    per = events or 1  # an empty run: totals rather than a division by zero
    errors = {n: b for n, b in sizes.items() if n in ERROR_TABLES or n.startswith("issues_")}
    return {
        "events": events,
        "transactions": transactions,
        "body_bytes": (body or 0) / per,
        "error_bytes": sum(errors.values()) / per,
        "event_table_bytes": sizes.get("events_event", 0) / per,
        "tag_bytes": sizes.get("events_issuetagvalue", 0) / per,
        "transaction_bytes": sum(b for n, b in sizes.items() if n.startswith("performance_"))
        / (transactions or 1),
        "db_bytes": pages / per,
        "file_bytes": pages,
    }


def profile(data_dir: Path, project_id: int, pool: list[Built]) -> list[tuple[str, float]]:
    """CPU ms per envelope by step, from cProfile's cumulative times, in-process."""
    os.environ["SPYGLASS_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
    import django

    django.setup()
    from spyglass.digest.batch import process_batch
    from spyglass.queue.consumer import QueuedItem
    from spyglass.queue.worker import BATCH_SIZE

    items = [
        QueuedItem(n, project_id, 1, time.time(), "", "203.0.113.1", "bench", enc, body, 1)
        for n, (body, enc) in enumerate(map(body_of, pool), start=1)
    ]
    profiler = cProfile.Profile()
    profiler.enable()
    for start in range(0, len(items), BATCH_SIZE):
        process_batch(items[start : start + BATCH_SIZE])
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    rows = []
    for label, path, function in STEPS:
        seconds = sum(
            value[3]
            for (file, _line, name), value in stats.items()
            if file.endswith(path) and name == function
        )
        rows.append((label, 1000 * seconds / len(items)))
    return rows


# The steps ``--steps`` times: (label, module, function). The function is replaced by a timing
# wrapper in every spyglass module that holds it.
TIMED_STEPS = [
    ("parse envelope", "spyglass.protocol.envelope", "parse_envelope"),
    ("normalize (Relay)", "spyglass.digest.normalize", "normalize"),
    ("scrub", "spyglass.digest.events", "_scrub"),
    ("group", "spyglass.digest.events", "_group"),
    ("derive tags", "spyglass.digest.derive", "event_tags"),
    ("compress event", "spyglass.digest.store", "compress_event"),
    ("store events + issues", "spyglass.digest.store", "store_events"),
    ("prepare transactions", "spyglass.digest.items_performance", "prepare_transactions"),
    ("store transactions", "spyglass.digest.items_performance", "store_transactions"),
    ("rollups", "spyglass.performance.rollups", "record"),
    ("after-commit hooks", "spyglass.digest.hooks", "run"),
]


def steps(data_dir: Path, project_id: int, public_key: str, n: int) -> None:
    """Print the CPU ms per envelope of each step of ``n`` envelopes digested in-process."""
    os.environ["SPYGLASS_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
    import django

    django.setup()
    from spyglass.digest.batch import process_batch
    from spyglass.queue.consumer import QueuedItem
    from spyglass.queue.worker import BATCH_SIZE

    totals: dict[str, float] = defaultdict(float)
    inner: list[float] = []  # per active wrapper: time spent in timed steps it called

    def timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            inner.append(0.0)
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.process_time() - start
                totals[label] += elapsed - inner.pop()
                if inner:
                    inner[-1] += elapsed

        return wrapper

    for label, module_name, name in TIMED_STEPS:
        function = getattr(importlib.import_module(module_name), name)
        wrapper = timed(label, function)
        for module in list(sys.modules.values()):
            module_id = getattr(module, "__name__", "") or ""
            if module_id.startswith("spyglass") and getattr(module, name, None) is function:
                setattr(module, name, wrapper)

    collecting = {"since": 0.0, "seconds": 0.0}

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            collecting["since"] = time.process_time()
        else:
            collecting["seconds"] += time.process_time() - collecting["since"]

    def digest(pool: list[Built], first_id: int) -> float:
        items = [
            QueuedItem(
                first_id + i, project_id, 1, time.time(), "", "203.0.113.1", "bench", e, b, 1
            )
            for i, (b, e) in enumerate(map(body_of, pool))
        ]
        start = time.process_time()
        for at in range(0, len(items), BATCH_SIZE):
            process_batch(items[at : at + BATCH_SIZE])
        return time.process_time() - start

    digest(build_pool(1000, project_id, public_key, seed=3), 10**7)  # warm-up
    totals.clear()
    gc.callbacks.append(on_gc)
    try:
        seconds = digest(build_pool(n, project_id, public_key, seed=2), 1)
    finally:
        gc.callbacks.remove(on_gc)
    print(f"CPU ms per envelope by step (in-process, process_time, {n} envelopes):")
    print(f"  {'total':<28} {1000 * seconds / n:6.3f}")
    for label, spent in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"  {label:<28} {1000 * spent / n:6.3f}")
    print(f"  {'rest (batch, derive, …)':<28} {1000 * (seconds - sum(totals.values())) / n:6.3f}")
    print(f"  {'of all that, in the GC':<28} {1000 * collecting['seconds'] / n:6.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envelopes", type=int, default=20_000)
    parser.add_argument(
        "--warmup",
        type=int,
        default=400,
        help="envelopes digested (not timed) before the project's dictionary is trained; 0: none",
    )
    parser.add_argument("--profile", type=int, default=2_000, help="0 to skip")
    parser.add_argument("--workers", type=int, default=1, help="spyglass worker processes")
    parser.add_argument(
        "--batch-size", type=int, default=200, help="envelopes per batch (the worker's default)"
    )
    parser.add_argument(
        "--count-startup",
        action="store_true",
        help="fill the queue before the workers start and count their start-up (as before)",
    )
    parser.add_argument(
        "--steps", type=int, default=0, help="only time each step of N envelopes in-process"
    )
    args = parser.parse_args()
    if args.steps:
        with tempfile.TemporaryDirectory(prefix="spyglass-digest-bench-") as tmp:
            project_id, public_key = prepare_data_dir(Path(tmp))
            steps(Path(tmp), project_id, public_key, args.steps)
        return
    with tempfile.TemporaryDirectory(prefix="spyglass-digest-bench-") as tmp:
        data_dir = Path(tmp)
        project_id, public_key = prepare_data_dir(data_dir)
        warmed = 0
        if args.warmup:
            # A project in steady state has a compression dictionary (the scheduler trains one
            # once it has 200 events): digest a first pool, train, then time the run.
            warm = build_pool(args.warmup, project_id, public_key, seed=3)
            warmed = sum(1 for b in warm if b.kind == "error")
            fill_queue(data_dir, project_id, warm)
            run_workers(data_dir, warmed, 1, args.batch_size)
            train_dictionary(data_dir)
        pool = build_pool(args.envelopes, project_id, public_key)
        errors = sum(1 for b in pool if b.kind == "error")
        if args.count_startup:
            fill_queue(data_dir, project_id, pool)
            run = run_workers(data_dir, warmed + errors, args.workers, args.batch_size)
        else:
            run = run_workers(
                data_dir,
                warmed + errors,
                args.workers,
                args.batch_size,
                fill=lambda: fill_queue(data_dir, project_id, pool),
            )
        disk = disk_per_event(data_dir)
        issues = count(data_dir, "spyglass.sqlite3", "SELECT count(*) FROM issues_issue")
        rate = args.envelopes / run["seconds"]
        print(
            f"envelopes: {args.envelopes} ({errors} errors, {args.envelopes - errors} transactions)"
        )
        print(f"issues: {issues}; events stored: {disk['events']:.0f} (warm-up included)")
        print(f"digest: {rate:,.0f} envelopes/s ({run['seconds']:.1f} s, {args.workers} worker(s))")
        print(f"worker CPU: {1000 * run['cpu_seconds'] / args.envelopes:.2f} ms per envelope")
        print(
            f"workers' peak RSS (sum): {run['peak_rss'] / 2**20:.0f} MB;"
            f" PSS (sum): {run['peak_pss'] / 2**20:.0f} MB"
        )
        print(
            f"disk per stored error event: {disk['error_bytes']:,.0f} B (events table and its"
            f" indexes {disk['event_table_bytes']:,.0f} B, of which compressed body"
            f" {disk['body_bytes']:,.0f} B; issue tag values {disk['tag_bytes']:,.0f} B)"
        )
        print(f"disk per stored transaction: {disk['transaction_bytes']:,.0f} B")
        print(
            f"database file: {disk['file_bytes'] / 2**20:,.1f} MB"
            f" ({disk['db_bytes']:,.0f} B per stored error event, everything included)"
        )
        if args.profile:
            extra = build_pool(args.profile, project_id, public_key, seed=2)
            print(
                f"\nCPU ms per envelope by step (cProfile, in-process, {args.profile} envelopes;"
                " cumulative, so 'other item handlers' is the whole batch):"
            )
            for label, ms in profile(data_dir, project_id, extra):
                print(f"  {label:<28} {ms:6.2f}")


if __name__ == "__main__":
    main()
