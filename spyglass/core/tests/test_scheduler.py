"""Periodic jobs, and the leadership that keeps them to one scheduler at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.db import connections
from django.test import override_settings

from spyglass.core import scheduler
from spyglass.core.scheduler import (
    Job,
    Leadership,
    checkpoint_queue,
    prune_queue_stats,
    prune_rate_counters,
    run_scheduler,
)
from spyglass.queue.models import QueueStat, RateCounter
from spyglass.queue.tests.helpers import T0

# The SQLite lock is a file lock, the PostgreSQL one an advisory lock: each test runs in the
# pass of `make test` on its database (conftest.py deselects it in the other).
on_sqlite = pytest.mark.sqlite_only
on_postgres = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path) -> Iterator[None]:
    """The SQLite leadership lock lives in the data directory: one per test."""
    with override_settings(DATA_DIR=tmp_path):
        yield


class Ticks:
    """A monotonic clock that moves one second per scheduler pass and stops it after ``n``."""

    def __init__(self, stop: threading.Event, n: int, start: float) -> None:
        self.stop, self.now, self.end = stop, start, start + n

    def monotonic(self) -> float:
        self.now += 1
        if self.now >= self.end:
            self.stop.set()  # this pass still runs
        return self.now


class Counter:
    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail

    def __call__(self) -> None:
        self.runs += 1
        if self.fail:
            raise RuntimeError("job failed")


def run_passes(
    monkeypatch: pytest.MonkeyPatch, jobs: list[Job], passes: int, start: float = 1e6
) -> None:
    stop = threading.Event()
    fake_time = SimpleNamespace(time=time.time, monotonic=Ticks(stop, passes, start).monotonic)
    monkeypatch.setattr(scheduler, "time", fake_time)
    run_scheduler(stop, jobs, tick=0)


@pytest.mark.django_db(transaction=True)
def test_it_runs_each_job_at_start_and_then_at_its_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    every_pass, every_third, every_fifth, daily = Counter(), Counter(), Counter(), Counter()
    jobs = [
        Job("every-pass", 1, every_pass),
        Job("every-third", 3, every_third),
        Job("every-fifth", 5, every_fifth),
        Job("daily", 86400, daily),
    ]

    run_passes(monkeypatch, jobs, 12)

    assert (every_pass.runs, every_third.runs, every_fifth.runs, daily.runs) == (12, 4, 3, 1)


@pytest.mark.django_db(transaction=True)
def test_an_hourly_job_runs_at_start_however_long_the_machine_has_been_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hourly = Counter()
    # Just booted: the monotonic clock reads less than the job's interval.
    run_passes(monkeypatch, [Job("hourly", 3600, hourly)], 3, start=10.0)
    assert hourly.runs == 1


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_neither_stops_the_others_nor_its_own_next_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failing, healthy = Counter(fail=True), Counter()

    run_passes(monkeypatch, [Job("failing", 2, failing), Job("healthy", 1, healthy)], 10)

    assert (failing.runs, healthy.runs) == (5, 10)


@pytest.mark.django_db(transaction=True)
def test_a_second_scheduler_waits_while_another_leads_and_runs_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    leader = Leadership()
    assert leader.acquire()
    try:
        job = Counter()
        stop = threading.Event()
        thread = threading.Thread(
            target=run_scheduler, args=(stop, [Job("j", 1, job)], 0.01), daemon=True
        )
        with caplog.at_level("INFO", logger="spyglass.core.scheduler"):
            thread.start()
            deadline = time.monotonic() + 30
            while "another scheduler is active" not in caplog.text:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            stop.set()
            thread.join(30)
    finally:
        leader.release()

    assert not thread.is_alive()
    assert job.runs == 0


@pytest.mark.django_db(transaction=True)
def test_leadership_is_exclusive_until_released() -> None:
    first, second = Leadership(), Leadership()
    try:
        assert first.acquire()
        assert first.acquire()  # holding it is no reason to fail
        assert not second.acquire()
        first.release()
        assert second.acquire()
        assert not first.acquire()
    finally:
        first.release()
        second.release()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_on_sqlite_another_process_cannot_lead_while_this_one_does(tmp_path: Path) -> None:
    def acquire_elsewhere() -> str:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env["SPYGLASS_DATA_DIR"] = str(tmp_path)
        code = (
            "import django; django.setup();"
            "from spyglass.core.scheduler import Leadership; print(Leadership().acquire())"
        )
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        ).stdout.strip()

    leader = Leadership()
    assert leader.acquire()
    try:
        assert acquire_elsewhere() == "False"
    finally:
        leader.release()
    assert acquire_elsewhere() == "True"


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_on_postgres_leadership_survives_django_closing_its_connections() -> None:
    leader, rival = Leadership(), Leadership()
    try:
        assert leader.acquire()
        # The scheduler calls close_old_connections() before each job; with CONN_MAX_AGE that
        # closes the thread's connection, which must not end the leadership.
        connections["default"].close()
        held: list[bool] = []
        thread = threading.Thread(target=lambda: held.append(rival.acquire()), daemon=True)
        thread.start()
        thread.join(30)
        assert held == [False]
    finally:
        leader.release()
        rival.release()


@pytest.mark.django_db(databases="__all__")
def test_old_rate_counters_are_pruned_after_a_day() -> None:
    RateCounter.objects.create(key_id=1, window_start=int(T0) - 86401)
    RateCounter.objects.create(key_id=1, window_start=int(T0) - 86400)
    with time_machine.travel(T0, tick=False):
        prune_rate_counters()
    assert list(RateCounter.objects.values_list("window_start", flat=True)) == [int(T0) - 86400]


@pytest.mark.django_db(databases="__all__")
def test_queue_statistics_are_kept_for_a_week() -> None:
    minute = int(T0 // 60)
    QueueStat.objects.create(minute=minute - 7 * 1440 - 1)
    QueueStat.objects.create(minute=minute - 7 * 1440)
    with time_machine.travel(T0, tick=False):
        prune_queue_stats()
    assert list(QueueStat.objects.values_list("minute", flat=True)) == [minute - 7 * 1440]


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_the_queue_checkpoint_runs_on_either_database() -> None:
    checkpoint_queue()
