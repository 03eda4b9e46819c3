"""The digest benchmark's disk figure counts the tables that hold error events, per event."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]


def bench_digest() -> Any:
    spec = importlib.util.spec_from_file_location("bench_digest", ROOT / "bench" / "digest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SCHEMA = """
CREATE TABLE events_event (id INTEGER PRIMARY KEY, project_id INT, event_id TEXT, body BLOB);
CREATE UNIQUE INDEX event_id_unique ON events_event (project_id, event_id);
CREATE TABLE events_issuetagvalue (id INTEGER PRIMARY KEY, key TEXT, value TEXT);
CREATE TABLE issues_issue (id INTEGER PRIMARY KEY, title TEXT);
CREATE TABLE performance_transaction (id INTEGER PRIMARY KEY, body BLOB);
CREATE TABLE performance_span (id INTEGER PRIMARY KEY, body BLOB);
CREATE TABLE auth_user (id INTEGER PRIMARY KEY, name TEXT);
"""


def tiny_db(path: Path, *, events: int, body: int, transactions: int, other: int) -> None:
    with sqlite3.connect(path / "spyglass.sqlite3") as db:
        db.executescript(SCHEMA)
        db.executemany(
            "INSERT INTO events_event (project_id, event_id, body) VALUES (1, ?, ?)",
            [(f"{n:032x}", bytes(body)) for n in range(events)],
        )
        db.executemany(
            "INSERT INTO performance_transaction (body) VALUES (?)",
            [(bytes(1000),) for _ in range(transactions)],
        )
        db.execute("INSERT INTO auth_user (name) VALUES (?)", ["x" * other])


def test_it_counts_error_tables_per_event_and_transactions_apart(tmp_path: Path) -> None:
    bench = bench_digest()
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    tiny_db(small, events=10, body=500, transactions=10, other=10)
    # ten times the transactions and a big unrelated row: the error figure does not move
    tiny_db(big, events=10, body=500, transactions=100, other=200_000)
    a, b = bench.disk_per_event(small), bench.disk_per_event(big)
    assert (a["events"], a["transactions"], a["body_bytes"]) == (10, 10, 500)
    assert a["error_bytes"] == b["error_bytes"]
    # each table and index takes at least a page: 5 error-event pages for 10 events
    assert a["error_bytes"] >= 5 * 4096 / 10
    assert a["event_table_bytes"] >= 2 * 4096 / 10  # the table and its index
    assert b["transactions"] == 100 and b["transaction_bytes"] >= 1000
    assert b["file_bytes"] >= 200_000 + b["events"] * b["error_bytes"]
    assert b["db_bytes"] == b["file_bytes"] / 10


def test_bigger_bodies_cost_that_much_more_per_event(tmp_path: Path) -> None:
    bench = bench_digest()
    small, big = tmp_path / "small", tmp_path / "big"
    small.mkdir()
    big.mkdir()
    tiny_db(small, events=50, body=100, transactions=0, other=0)
    tiny_db(big, events=50, body=3100, transactions=0, other=0)
    a, b = bench.disk_per_event(small), bench.disk_per_event(big)
    assert b["body_bytes"] - a["body_bytes"] == 3000
    assert b["error_bytes"] - a["error_bytes"] >= 3000
    assert (a["transactions"], a["transaction_bytes"]) == (0, 2 * 4096)  # totals: empty tables
