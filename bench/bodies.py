"""Event bodies on disk: bytes per stored error event with and without the project's zstd
dictionary, and what compression costs.

    python bench/bodies.py [--warmup 400] [--envelopes 3000]

Digests ``--warmup`` envelopes of the digest benchmark's pool with one real `spyglass worker`
(bodies without a dictionary), runs the scheduler's dictionary training once, digests
``--envelopes`` more (bodies with the dictionary), and reports the database's bytes per
stored error event after each step and for the second step alone (sqlite's dbstat, as
bench/digest.py counts them). Then it compresses the stored events again in-process: zstd
levels with and without a dictionary, dictionary sizes, without the Python SDK's `modules`,
and a dictionary trained on Python events only applied to Node events.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import zstandard

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from digest import ROOT, count, disk_per_event, fill_queue, table_bytes  # noqa: E402
from ingest import prepare_data_dir  # noqa: E402
from payloads import build_pool  # noqa: E402


def spyglass(data_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, SPYGLASS_DATA_DIR=str(data_dir), SPYGLASS_LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "spyglass"), *args], env=env, cwd=ROOT
    )


def digest(data_dir: Path, expected_events: int) -> None:
    """One worker until the queue holds nothing it could still digest."""
    worker = spyglass(data_dir, "worker")
    pending = "SELECT count(*) FROM spyglass_queue WHERE failed_at IS NULL"
    try:
        while count(data_dir, "queue.sqlite3", pending):
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited with {worker.returncode}")
            time.sleep(0.2)
    finally:
        worker.terminate()
        worker.wait(30)
    stored = count(data_dir, "spyglass.sqlite3", "SELECT count(*) FROM events_event")
    if stored < expected_events:
        raise RuntimeError(f"{stored} events stored of {expected_events}: see the queue's errors")


def train(data_dir: Path) -> None:
    code = "from spyglass.events.bodies import train_dictionaries; print(train_dictionaries())"
    if spyglass(data_dir, "shell", "-v0", "-c", code).wait() != 0:
        raise RuntimeError("training failed")


def sizes(data_dir: Path) -> tuple[dict[str, float], dict[str, int]]:
    with sqlite3.connect(data_dir / "spyglass.sqlite3") as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return disk_per_event(data_dir), table_bytes(db)


def report_disk(label: str, disk: dict[str, float]) -> None:
    print(
        f"{label}: {disk['events']:,.0f} error events, {disk['error_bytes']:,.0f} B each"
        f" (events table and indexes {disk['event_table_bytes']:,.0f} B, body"
        f" {disk['body_bytes']:,.0f} B, tag values {disk['tag_bytes']:,.0f} B);"
        f" {disk['transaction_bytes']:,.0f} B per transaction;"
        f" whole file {disk['db_bytes']:,.0f} B per error event"
    )


def report_marginal(before: dict[str, int], after: dict[str, int], events: float) -> None:
    grown = {name: (after[name] - before.get(name, 0)) / events for name in after}
    print(f"the second step alone, per error event it stored ({events:,.0f}):")
    for name, size in sorted(grown.items(), key=lambda item: -item[1]):
        if size >= 1:
            print(f"  {name:<36} {size:8,.0f} B")


def stored_events(data_dir: Path) -> list[tuple[bytes, str]]:
    """(JSON, SDK name) of every stored event, read back as Spyglass reads bodies."""
    os.environ["SPYGLASS_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
    import django

    django.setup()
    from spyglass.events.bodies import decompress
    from spyglass.events.models import Event

    rows = Event.objects.order_by("id").values_list("body", "sdk_name")
    return [(decompress(body), sdk) for body, sdk in rows]


def timed(compressor: Any, data: list[bytes]) -> tuple[float, float]:
    """(mean compressed bytes, µs per event)."""
    start = time.perf_counter()
    out = [compressor.compress(d) for d in data]
    elapsed = time.perf_counter() - start
    return sum(map(len, out)) / len(out), 1e6 * elapsed / len(data)


def report_compression(events: list[tuple[bytes, str]]) -> None:
    train_set = [data for data, _ in events[:500]]
    test = [data for data, _ in events[500:]]
    mean = sum(map(len, test)) / len(test)
    print(
        f"\ncompression of {len(test):,} stored events (mean JSON {mean:,.0f} B;"
        " dictionaries trained on 500 others):"
    )
    print("  | compression | bytes | µs per event |")
    print("  |---|---:|---:|")
    rows: list[tuple[str, Any, list[bytes]]] = []
    for level in (1, 3, 6, 9):
        rows.append((f"level {level}, no dictionary", zstandard.ZstdCompressor(level=level), test))
    for size in (16, 32, 64, 110):
        trained = _dictionary(size * 1024, train_set)
        for level in (1, 3, 6) if size == 64 else (3,):
            compressor = zstandard.ZstdCompressor(level=level, dict_data=trained)
            rows.append((f"level {level}, {size} KB dictionary", compressor, test))
    without = [orjson.dumps(_without_modules(orjson.loads(d))) for d in train_set + test]
    trained = _dictionary(64 * 1024, without[:500])
    rows.append(
        ("level 3, no dictionary, no `modules`", zstandard.ZstdCompressor(level=3), without[500:])
    )
    rows.append(
        (
            "level 3, 64 KB dictionary, no `modules`",
            zstandard.ZstdCompressor(level=3, dict_data=trained),
            without[500:],
        )
    )
    python = [data for data, sdk in events if "python" in sdk]
    node = [data for data, sdk in events if "python" not in sdk]
    if len(python) >= 500 and node:
        trained = _dictionary(64 * 1024, python[:500])
        rows.append(("Node events, no dictionary", zstandard.ZstdCompressor(level=3), node))
        rows.append(
            (
                "Node events, dictionary of Python events",
                zstandard.ZstdCompressor(level=3, dict_data=trained),
                node,
            )
        )
    for label, compressor, data in rows:
        mean_size, micros = timed(compressor, data)
        print(f"  | {label} | {mean_size:,.0f} | {micros:.1f} |")


def _dictionary(size: int, samples: list[bytes]) -> zstandard.ZstdCompressionDict:
    return zstandard.train_dictionary(size, list[bytes | bytearray | memoryview](samples), level=3)


def _without_modules(event: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in event.items() if key != "modules"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warmup", type=int, default=400, help="envelopes before training")
    parser.add_argument("--envelopes", type=int, default=3000, help="envelopes after training")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="spyglass-bodies-bench-") as tmp:
        data_dir = Path(tmp)
        project_id, public_key = prepare_data_dir(data_dir)
        warmup = build_pool(args.warmup, project_id, public_key, seed=3)
        fill_queue(data_dir, project_id, warmup)
        digest(data_dir, sum(1 for b in warmup if b.kind == "error"))
        train(data_dir)
        first, before = sizes(data_dir)
        report_disk("warm-up (bodies without a dictionary, then training)", first)
        pool = build_pool(args.envelopes, project_id, public_key)
        fill_queue(data_dir, project_id, pool)
        digest(data_dir, int(first["events"]) + sum(1 for b in pool if b.kind == "error"))
        second, after = sizes(data_dir)
        report_disk("warm-up + bodies with the dictionary", second)
        report_marginal(before, after, second["events"] - first["events"])
        report_compression(stored_events(data_dir))


if __name__ == "__main__":
    main()
