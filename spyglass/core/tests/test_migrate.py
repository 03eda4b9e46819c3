"""`spyglass migrate` migrates every database alias: the queue has a database of its own."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command


def migrate_sqlite(data_dir: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SPYGLASS_DATA_DIR"] = str(data_dir)
    subprocess.run(
        [sys.executable, "-m", "spyglass", "migrate", "--noinput", "-v0", *args],
        env=env,
        check=True,
        timeout=120,
    )


def tables(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_migrate_creates_the_queue_tables_in_the_queue_database_and_the_rest_in_the_main_one(
    tmp_path: Path,
) -> None:
    migrate_sqlite(tmp_path)

    main, queue = tables(tmp_path / "spyglass.sqlite3"), tables(tmp_path / "queue.sqlite3")
    assert {"accounts_user", "projects_project", "projects_projectkey"} <= main
    assert {"spyglass_queue", "spyglass_queue_stat", "spyglass_rate_counter"} <= queue
    assert not main & {"spyglass_queue", "spyglass_rate_counter"}
    assert "accounts_user" not in queue


def test_migrate_with_a_named_database_migrates_that_one_only(tmp_path: Path) -> None:
    # Django's test runner names each database it sets up: the real ones must stay untouched.
    migrate_sqlite(tmp_path, "--database", "default")

    assert "accounts_user" in tables(tmp_path / "spyglass.sqlite3")
    assert "spyglass_queue" not in tables(tmp_path / "queue.sqlite3")


@pytest.mark.django_db(databases="__all__")
def test_migrating_again_changes_nothing() -> None:
    out = StringIO()
    call_command("migrate", "--noinput", stdout=out)
    assert "No migrations to apply" in out.getvalue()
