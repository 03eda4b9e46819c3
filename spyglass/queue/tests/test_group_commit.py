"""The group-commit writer: one transaction for many requests, durable before it answers."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connections

from spyglass.queue import writer as writer_module
from spyglass.queue.consumer import Consumer
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.router import queue_alias
from spyglass.queue.tests.helpers import committed_rows, enqueue, submission
from spyglass.queue.writer import GroupCommitWriter, Outcome, QueueUnavailable, Submission

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

MakeWriter = Callable[..., GroupCommitWriter]
Result = Outcome | BaseException
PLUG = submission(999)


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until ``condition`` holds; the timeout is a hang guard, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.002)


def submit(writer: GroupCommitWriter, sub: Submission) -> Result:
    try:
        return writer.submit_sync(sub)
    except BaseException as exc:
        return exc


def submit_while_busy(
    writer: GroupCommitWriter,
    monkeypatch: pytest.MonkeyPatch,
    submissions: list[Submission],
    *,
    meanwhile: Callable[[], None] = lambda: None,
    then: Callable[[Submission, Result], None] = lambda sub, result: None,
) -> tuple[Result, list[Result]]:
    """As under load: the writer is inside the commit of a first ("plug") submission while
    ``submissions`` arrive from their own threads and wait in its inbox; ``meanwhile`` runs
    then, before the writer goes on. Returns what the plug and each request were told;
    ``then`` runs in a request's thread right after its answer."""
    inside, gate = threading.Event(), threading.Event()
    real_write = writer._write

    def write(batch: list[Submission]) -> list[Outcome]:
        if not gate.is_set():
            inside.set()
            gate.wait(30)
        return real_write(batch)

    monkeypatch.setattr(writer, "_write", write)
    results: dict[str, Result] = {}

    def run(sub: Submission) -> None:
        result = submit(writer, sub)
        then(sub, result)
        results[sub.event_id] = result

    writer.start()
    plug = threading.Thread(target=run, args=(PLUG,), daemon=True)
    plug.start()
    assert inside.wait(30)
    threads = [threading.Thread(target=run, args=(sub,), daemon=True) for sub in submissions]
    for thread in threads:
        thread.start()
    wait_for(lambda: writer._inbox.qsize() == len(submissions))
    meanwhile()
    gate.set()
    for thread in [plug, *threads]:
        thread.join(30)
        assert not thread.is_alive()
    return results.pop(PLUG.event_id), [results[sub.event_id] for sub in submissions]


def test_it_commits_what_arrives_during_a_commit_in_one_transaction_durable_when_answered(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()
    subs = [submission(n) for n in range(40)]
    durable: dict[str, bool] = {}

    def check(sub: Submission, result: Result) -> None:
        durable[sub.event_id] = (sub.event_id,) in committed_rows()

    plug, results = submit_while_busy(writer, monkeypatch, subs, then=check)
    assert plug == Outcome(queued=True)

    assert results == [Outcome(queued=True)] * len(subs)
    assert writer.commits == 2  # the plug's, then everything that waited for it
    assert durable == {sub.event_id: True for sub in [PLUG, *subs]}


def test_it_groups_concurrent_async_submissions_into_far_fewer_commits(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(window=0.005)
    writer.start()
    subs = [submission(n) for n in range(100)]

    async def submit(sub: Submission) -> bool:
        outcome = await writer.submit(sub)
        assert outcome.queued
        rows = await asyncio.to_thread(committed_rows)
        return (sub.event_id,) in rows

    async def main() -> list[bool]:
        return await asyncio.gather(*(submit(sub) for sub in subs))

    assert all(asyncio.run(main()))
    assert 1 <= writer.commits <= len(subs) // 4
    assert QueuedEnvelope.objects.count() == len(subs)


def test_it_starts_on_first_use_with_a_single_thread_however_many_requests_race_to_start_it(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    class SlowToCreateThread(threading.Thread):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            time.sleep(0.02)  # widens the gap between "no thread yet?" and "here is one"
            super().__init__(*args, **kwargs)

    fake_threading = SimpleNamespace(
        Thread=SlowToCreateThread, Event=threading.Event, Lock=threading.Lock
    )
    monkeypatch.setattr(writer_module, "threading", fake_threading)
    writer = make_writer()
    barrier = threading.Barrier(8)

    def run(n: int) -> None:
        barrier.wait(10)
        writer.submit_sync(submission(n))

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert [t.name for t in threading.enumerate()].count("queue-writer") == 1
    stopper = threading.Thread(target=writer.stop, daemon=True)
    stopper.start()
    stopper.join(30)  # a hang guard: stop() waited forever for a second writer thread
    assert not stopper.is_alive()
    assert "queue-writer" not in [t.name for t in threading.enumerate()]
    assert QueuedEnvelope.objects.count() == 8


def test_it_keeps_every_field_of_a_submission(make_writer: MakeWriter) -> None:
    writer = make_writer()
    sub = submission(5)

    assert writer.submit_sync(sub) == Outcome(queued=True, rate_limited_for=None)

    row = QueuedEnvelope.objects.get()
    assert (row.project_id, row.key_id, row.event_id) == (3, 7, f"{5:032x}")
    assert (row.client_ip, row.user_agent) == ("203.0.113.9", "sentry.python/2.0")
    assert row.content_encoding == "gzip"
    assert bytes(row.body) == b"envelope 5"
    assert row.received_at == sub.received_at
    assert (row.attempts, row.claimed_until, row.failed_at) == (0, None, None)


def test_it_answers_queue_unavailable_to_every_waiter_when_the_commit_fails_and_then_recovers(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()
    connection = connections[queue_alias()]

    def break_the_table() -> None:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE spyglass_queue RENAME TO spyglass_queue_away")

    try:
        plug, results = submit_while_busy(
            writer, monkeypatch, [submission(n) for n in range(5)], meanwhile=break_the_table
        )
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ALTER TABLE spyglass_queue_away RENAME TO spyglass_queue")

    assert [type(result) for result in [plug, *results]] == [QueueUnavailable] * 6
    assert writer.commits == 0
    # The writer thread survived, and the next request gets through.
    assert writer.submit_sync(submission(9)) == Outcome(queued=True)
    assert writer.commits == 1
    assert committed_rows() == [(f"{9:032x}",)]


def test_it_keeps_nothing_of_a_batch_whose_transaction_fails_halfway(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()
    # The envelopes go in, then the statistics update fails: all or nothing.
    monkeypatch.setattr(
        writer_module, "_COUNT_ACCEPTED", "INSERT INTO no_such_table VALUES (%s, %s, %s)"
    )

    results = [submit(writer, submission(n)) for n in range(3)]

    assert [type(result) for result in results] == [QueueUnavailable] * 3
    assert committed_rows() == []
    monkeypatch.undo()
    assert writer.submit_sync(submission(3)).queued


def test_stop_drains_everything_submitted_before_it(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()
    stopper = threading.Thread(target=writer.stop, daemon=True)

    def stop() -> None:
        stopper.start()
        wait_for(lambda: writer._inbox.qsize() == 21)  # the 20 requests, then the stop

    plug, results = submit_while_busy(
        writer, monkeypatch, [submission(n) for n in range(20)], meanwhile=stop
    )
    stopper.join(30)

    assert [plug, *results] == [Outcome(queued=True)] * 21
    assert len(committed_rows()) == 21
    assert "queue-writer" not in [t.name for t in threading.enumerate()]


def test_stopping_a_writer_that_never_started_does_nothing(make_writer: MakeWriter) -> None:
    writer = make_writer()
    writer.stop()
    writer.stop()
    assert writer.commits == 0


@pytest.fixture
def every_depth_check_is_due(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer looks at the depth at most once a second; let each look count here."""
    clock = iter(range(0, 10**9, 10))
    fake_time = SimpleNamespace(
        time=time.time, sleep=time.sleep, monotonic=lambda: float(next(clock))
    )
    monkeypatch.setattr(writer_module, "time", fake_time)
    monkeypatch.setattr(writer_module, "FULL_RECHECK_INTERVAL", 0.01)


@pytest.mark.usefixtures("every_depth_check_is_due")
def test_it_is_full_at_max_depth_and_no_longer_once_the_workers_drain_the_queue(
    make_writer: MakeWriter,
) -> None:
    writer = make_writer(max_depth=3)
    for n in range(2):
        writer.submit_sync(submission(n))
    assert not writer.full
    writer.submit_sync(submission(2))
    wait_for(lambda: writer.full)  # looked at right after the requests are answered

    # Ingest refuses envelopes while the writer is full, so nothing new is submitted: the
    # writer must notice on its own that the workers made room.
    consumer = Consumer("w1")
    consumer.ack([item.id for item in consumer.claim(10)])
    wait_for(lambda: not writer.full)


@pytest.mark.usefixtures("every_depth_check_is_due")
def test_it_knows_the_queue_is_full_when_it_starts(make_writer: MakeWriter) -> None:
    enqueue(3)
    writer = make_writer(max_depth=3)
    writer.start()
    wait_for(lambda: writer.full)


@pytest.mark.usefixtures("every_depth_check_is_due")
def test_failed_envelopes_do_not_count_towards_the_depth(make_writer: MakeWriter) -> None:
    enqueue(3, failed_at=time.time())
    writer = make_writer(max_depth=3)
    writer.submit_sync(submission(0))
    assert not writer.full


def test_a_request_whose_event_loop_is_gone_costs_no_other_request_its_answer(
    make_writer: MakeWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = make_writer()

    def abandon_a_request() -> None:
        # Submitted from an event loop that closes before the commit (a test's asyncio.run,
        # a server torn down): that answer has nowhere to go.
        loop = asyncio.new_event_loop()
        task = loop.create_task(writer.submit(submission(50)))
        loop.run_until_complete(asyncio.sleep(0))
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
        loop.close()
        wait_for(lambda: writer._inbox.qsize() == 2)

    _, answers = submit_while_busy(
        writer, monkeypatch, [submission(49)], meanwhile=abandon_a_request
    )
    later: list[Result] = []
    thread = threading.Thread(
        target=lambda: later.append(submit(writer, submission(51))), daemon=True
    )
    thread.start()
    thread.join(30)  # a hang guard: a writer thread that died answers nobody

    assert answers == later == [Outcome(queued=True)]
    assert len(committed_rows()) == 4  # the plug, 49, the abandoned 50 (queued all the same), 51
