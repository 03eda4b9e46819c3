"""Claiming, acking and releasing: at-least-once delivery with leases."""

from __future__ import annotations

import contextlib
import gzip
import threading
import zlib
from collections.abc import Iterator

import brotli
import pytest
import time_machine
import zstandard
from django.db import connections, transaction

from spyglass.queue import consumer as consumer_module
from spyglass.queue.consumer import Consumer, QueuedItem
from spyglass.queue.models import QueuedEnvelope, QueueStat
from spyglass.queue.router import queue_alias
from spyglass.queue.tests.helpers import T0, enqueue

queue_db = pytest.mark.django_db(databases="__all__")
# SKIP LOCKED is PostgreSQL's: this runs in the PostgreSQL pass of `make test` only.
on_postgres = pytest.mark.postgres_only


@pytest.fixture
def pinned() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def ids(items: list[QueuedItem]) -> list[int]:
    return [item.id for item in items]


@queue_db
@pytest.mark.usefixtures("pinned")
def test_it_claims_the_oldest_envelopes_first_and_says_who_holds_them() -> None:
    queued = enqueue(5)

    first = Consumer("w1").claim(2)
    second = Consumer("w1").claim(2)

    assert ids(first) == queued[:2]
    assert ids(second) == queued[2:4]
    row = QueuedEnvelope.objects.get(id=queued[0])
    assert (row.claimed_by, row.claimed_until, row.attempts) == ("w1", T0 + 300, 1)
    assert first[0].attempts == 1
    assert first[0].body == b"envelope 0"


@queue_db
@pytest.mark.usefixtures("pinned")
def test_it_never_gives_a_leased_envelope_to_another_worker() -> None:
    queued = enqueue(3)

    mine = Consumer("w1", lease_seconds=30).claim(10)
    theirs = Consumer("w2", lease_seconds=30).claim(10)

    assert ids(mine) == queued
    assert theirs == []


@queue_db
def test_an_envelope_whose_worker_died_is_delivered_again_when_the_lease_runs_out(
    pinned: time_machine.Traveller,
) -> None:
    [queued] = enqueue(1)
    Consumer("dead", lease_seconds=30).claim(10)  # ... and never acks

    pinned.move_to(T0 + 29)
    assert Consumer("w2", lease_seconds=30).claim(10) == []
    pinned.move_to(T0 + 31)
    [again] = Consumer("w2", lease_seconds=30).claim(10)

    assert (again.id, again.attempts) == (queued, 2)
    assert QueuedEnvelope.objects.get().claimed_by == "w2"


@queue_db
@pytest.mark.usefixtures("pinned")
def test_ack_deletes_the_envelopes_and_counts_them_done() -> None:
    queued = enqueue(3)
    consumer = Consumer("w1")
    consumer.ack(ids(consumer.claim(2)))

    assert list(QueuedEnvelope.objects.values_list("id", flat=True)) == queued[2:]
    stat = QueueStat.objects.get()
    assert (stat.minute, stat.accepted, stat.done) == (int(T0 // 60), 0, 2)


@queue_db
@pytest.mark.usefixtures("pinned")
def test_acking_an_envelope_twice_counts_it_done_once() -> None:
    # A worker whose lease ran out and the one that took over both finish the same envelope.
    queued = enqueue(2)
    Consumer("w1").ack(queued)
    Consumer("w2").ack(queued)
    Consumer("w2").ack([])

    assert QueueStat.objects.get().done == 2


@queue_db
def test_release_makes_envelopes_claimable_again_after_retry_in(
    pinned: time_machine.Traveller,
) -> None:
    queued = enqueue(2)
    consumer = Consumer("w1")
    consumer.release(ids(consumer.claim(10)), error="boom", retry_in=10)

    row = QueuedEnvelope.objects.get(id=queued[0])
    assert (row.last_error, row.claimed_by, row.claimed_until) == ("boom", "", T0 + 10)
    pinned.move_to(T0 + 9)
    assert Consumer("w2").claim(10) == []
    pinned.move_to(T0 + 11)
    assert [(i.id, i.attempts) for i in Consumer("w2").claim(10)] == [(q, 2) for q in queued]


@queue_db
@pytest.mark.usefixtures("pinned")
def test_release_without_retry_in_makes_envelopes_claimable_at_once() -> None:
    [queued] = enqueue(1)
    consumer = Consumer("w1")
    consumer.release(ids(consumer.claim(10)))
    consumer.release([])

    assert ids(Consumer("w2").claim(10)) == [queued]


@queue_db
def test_a_worker_whose_lease_ran_out_cannot_release_what_another_now_holds(
    pinned: time_machine.Traveller,
) -> None:
    [queued] = enqueue(1)
    slow = Consumer("slow", lease_seconds=30)
    slow.claim(10)
    pinned.move_to(T0 + 31)
    Consumer("w2", lease_seconds=30).claim(10)

    slow.release([queued], error="too late")

    assert Consumer("w3", lease_seconds=30).claim(10) == []
    assert QueuedEnvelope.objects.get().claimed_by == "w2"


@queue_db
@pytest.mark.usefixtures("pinned")
def test_a_poison_envelope_is_set_aside_after_max_attempts_and_the_rest_flow_on() -> None:
    poison, healthy = enqueue(2)
    consumer = Consumer("w1", max_attempts=2)
    for _ in range(2):
        assert poison in ids(consumer.claim(1))
        consumer.release([poison], error="boom")

    assert ids(consumer.claim(10)) == [healthy]  # the third attempt is one too many
    row = QueuedEnvelope.objects.get(id=poison)
    assert (row.failed_at, row.claimed_until, row.attempts) == (T0, None, 3)
    consumer.release([healthy])
    assert ids(consumer.claim(10)) == [healthy]


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("", lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", zstandard.ZstdCompressor().compress),
    ],
)
def test_envelope_bytes_decodes_the_body_as_the_client_compressed_it(
    encoding: str, encode: object
) -> None:
    envelope = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{}\n'
    assert callable(encode)
    item = QueuedItem(1, 3, 7, T0, "", "", "", encoding, encode(envelope), 1)
    assert item.envelope_bytes() == envelope


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_concurrent_claims_never_hand_out_the_same_envelope_twice() -> None:
    queued = enqueue(120)
    claimed: dict[str, list[int]] = {"w1": [], "w2": []}
    start = threading.Barrier(2)

    def work(worker_id: str) -> None:
        try:
            consumer = Consumer(worker_id)
            start.wait(10)
            while batch := consumer.claim(7):
                claimed[worker_id].extend(ids(batch))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not set(claimed["w1"]) & set(claimed["w2"])
    assert sorted(claimed["w1"] + claimed["w2"]) == queued


@on_postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_claim_skips_rows_another_open_claim_has_locked_instead_of_waiting() -> None:
    queued = enqueue(4)
    others: list[list[int]] = []

    def claim_meanwhile() -> None:
        try:
            others.append(ids(Consumer("w2").claim(10)))
        finally:
            connections.close_all()

    with transaction.atomic(using=queue_alias()):
        mine = Consumer("w1").claim(2)  # its transaction is still open: rows stay locked
        thread = threading.Thread(target=claim_meanwhile, daemon=True)
        thread.start()
        thread.join(30)  # a hang guard: without SKIP LOCKED it would wait for our commit
        assert not thread.is_alive()

    assert ids(mine) == queued[:2]
    assert others == [queued[2:]]


@queue_db
@pytest.mark.usefixtures("pinned")
def test_a_big_claim_and_its_ack_take_several_short_write_turns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each turn holds the lock the ingest edge commits under: a batch must not hold it whole.
    monkeypatch.setattr(consumer_module, "TURN", 2)
    turns = []
    real_turn = consumer_module.writer_turn

    @contextlib.contextmanager
    def counted(alias: str) -> Iterator[None]:
        with real_turn(alias):
            turns.append(alias)
            yield

    monkeypatch.setattr(consumer_module, "writer_turn", counted)
    queued = enqueue(5)
    # one row over the attempts limit in the middle: set aside, the claim goes on past it
    QueuedEnvelope.objects.filter(id=queued[1]).update(attempts=5)
    consumer = Consumer("w1", max_attempts=5)

    claimed = consumer.claim(10)
    assert ids(claimed) == [queued[0], *queued[2:]]
    assert len(turns) == 3  # 2 + 2 + 1 rows
    assert QueuedEnvelope.objects.get(id=queued[1]).failed_at is not None

    turns.clear()
    consumer.ack(ids(claimed))
    assert len(turns) == 2
    assert list(QueuedEnvelope.objects.values_list("id", flat=True)) == [queued[1]]
    assert QueueStat.objects.get().done == 4
