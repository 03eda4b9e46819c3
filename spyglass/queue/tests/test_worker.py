"""The worker loop: claim, hand to the digest, ack or release; stop when asked."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
import time_machine
from django.db import OperationalError, connections

from spyglass.queue import worker as worker_module
from spyglass.queue.consumer import Consumer, QueuedItem
from spyglass.queue.models import QueuedEnvelope, QueueStat
from spyglass.queue.tests.helpers import T0, enqueue
from spyglass.queue.worker import load_digest_handler, run_once, run_worker


class Recorder:
    def __init__(self, fail: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail = fail

    def __call__(self, batch: Sequence[QueuedItem]) -> None:
        self.batches.append([item.id for item in batch])
        if self.fail:
            raise ValueError("digest blew up")


def process_batch(batch: Sequence[QueuedItem]) -> None:
    """A stand-in digest entry point."""


@pytest.mark.django_db(databases="__all__")
def test_run_once_hands_a_batch_to_the_digest_and_acks_it() -> None:
    queued = enqueue(3)
    handler = Recorder()

    assert run_once(Consumer("w1"), handler, batch_size=2) == 2

    assert handler.batches == [queued[:2]]
    assert list(QueuedEnvelope.objects.values_list("id", flat=True)) == queued[2:]
    assert QueueStat.objects.get().done == 2


@pytest.mark.django_db(databases="__all__")
def test_run_once_releases_a_batch_whose_digest_failed_for_a_later_retry() -> None:
    queued = enqueue(2)
    with time_machine.travel(T0, tick=False) as traveller:
        assert run_once(Consumer("w1"), Recorder(fail=True), batch_size=10) == 2

        rows = QueuedEnvelope.objects.order_by("id")
        assert [row.last_error for row in rows] == ["ValueError('digest blew up')"] * 2
        assert [row.claimed_by for row in rows] == ["", ""]
        assert run_once(Consumer("w2"), Recorder(), batch_size=10) == 0
        traveller.shift(6)
        handler = Recorder()
        assert run_once(Consumer("w2"), handler, batch_size=10) == 2
    assert handler.batches == [queued]


class FailsOn:
    """A digest that fails for any batch holding one given envelope."""

    def __init__(self, poison: int) -> None:
        self.poison = poison
        self.batches: list[list[int]] = []

    def __call__(self, batch: Sequence[QueuedItem]) -> None:
        self.batches.append([item.id for item in batch])
        if any(item.id == self.poison for item in batch):
            raise ValueError("poison")


@pytest.mark.django_db(databases="__all__")
def test_a_failed_batch_is_digested_one_by_one_and_only_the_bad_envelope_waits() -> None:
    queued = enqueue(3)
    handler = FailsOn(queued[1])

    assert run_once(Consumer("w1"), handler, batch_size=10) == 3

    assert handler.batches == [queued, [queued[0]], [queued[1]], [queued[2]]]
    row = QueuedEnvelope.objects.get()
    assert (row.id, row.last_error, row.claimed_by) == (queued[1], "ValueError('poison')", "")
    assert QueueStat.objects.get().done == 2


@pytest.mark.django_db(databases="__all__")
def test_run_once_on_an_empty_queue_calls_no_digest() -> None:
    handler = Recorder()
    assert run_once(Consumer("w1"), handler, batch_size=10) == 0
    assert handler.batches == []


def run_in_thread(stop: threading.Event, **kwargs: object) -> threading.Thread:
    def target() -> None:
        try:
            run_worker(stop, **kwargs)  # type: ignore[arg-type]
        finally:
            connections.close_all()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def digest_all(queued: list[int], **kwargs: object) -> list[int]:
    """Run the worker in a thread until it has handed every queued row to the digest, then
    stop it; the ids in the order it handed them over."""
    done = threading.Event()
    seen: list[int] = []

    def handler(batch: Sequence[QueuedItem]) -> None:
        seen.extend(item.id for item in batch)
        if len(seen) == len(queued):
            done.set()

    stop = threading.Event()
    thread = run_in_thread(stop, handler=handler, idle_sleep=0.01, **kwargs)
    assert done.wait(30)
    stop.set()
    thread.join(30)
    assert not thread.is_alive()
    return seen


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_run_worker_digests_until_the_stop_event_is_set() -> None:
    queued = enqueue(5)
    assert digest_all(queued, batch_size=2) == queued
    assert QueuedEnvelope.objects.count() == 0


class BusyOnce(Consumer):
    """A consumer whose first claims find the queue locked past the timeout."""

    def __init__(self, worker_id: str, busy: int) -> None:
        super().__init__(worker_id)
        self.busy = busy

    def claim(self, limit: int = 100) -> list[QueuedItem]:
        if self.busy:
            self.busy -= 1
            raise OperationalError("database is locked")
        return super().claim(limit)


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_queue_locked_past_its_timeout_costs_the_worker_a_pause_not_its_life() -> None:
    queued = enqueue(3)
    consumer = BusyOnce("w1", busy=2)
    assert digest_all(queued, consumer=consumer) == queued
    assert consumer.busy == 0


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_without_a_digest_the_worker_leaves_the_queue_alone_until_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_module, "DIGEST_ENTRY_POINT", "spyglass.no_digest.pipeline:run")
    enqueue(1)
    stop = threading.Event()
    thread = run_in_thread(stop)
    thread.join(0.1)
    assert thread.is_alive()
    stop.set()
    thread.join(30)

    assert not thread.is_alive()
    assert QueuedEnvelope.objects.get().attempts == 0


def test_with_no_digest_module_there_is_no_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "DIGEST_ENTRY_POINT", "spyglass.no_digest.pipeline:run")
    assert load_digest_handler() is None


def test_the_digest_handler_is_its_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "DIGEST_ENTRY_POINT", f"{__name__}:{process_batch.__name__}")
    assert load_digest_handler() is process_batch


def test_a_digest_that_fails_to_import_is_an_error_not_a_missing_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The module exists but needs something that does not: that must not go unnoticed.
    monkeypatch.setattr(worker_module, "DIGEST_ENTRY_POINT", "spyglass.queue.tests.broken:run")
    with pytest.raises(ModuleNotFoundError):
        load_digest_handler()
