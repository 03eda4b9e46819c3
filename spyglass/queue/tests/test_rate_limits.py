"""Per-key rate limits, counted in the same transaction that queues the envelope."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest
import time_machine

from spyglass.queue.models import QueuedEnvelope, RateCounter
from spyglass.queue.tests.helpers import T0, submission
from spyglass.queue.writer import GroupCommitWriter, Outcome, RateLimit

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

MakeWriter = Callable[..., GroupCommitWriter]
WINDOW_START = T0 // 60 * 60  # T0 is 20 s into its minute


@pytest.fixture
def writer(make_writer: MakeWriter) -> GroupCommitWriter:
    writer = make_writer()
    writer.start()
    return writer


def test_it_counts_each_key_separately_and_drops_what_is_over_the_limit(
    writer: GroupCommitWriter,
) -> None:
    limit = RateLimit(key_id=7, count=2, window=60)
    other = RateLimit(key_id=8, count=2, window=60)
    with time_machine.travel(T0, tick=False):
        outcomes = [writer.submit_sync(submission(n, rate_limit=limit)) for n in range(3)]
        other_outcome = writer.submit_sync(submission(3, key_id=8, rate_limit=other))

    assert outcomes == [
        Outcome(queued=True),
        Outcome(queued=True),
        Outcome(queued=False, rate_limited_for=40),
    ]
    assert other_outcome == Outcome(queued=True)
    assert QueuedEnvelope.objects.filter(key_id=7).count() == 2
    counts = dict(RateCounter.objects.values_list("key_id", "count"))
    assert counts == {7: 3, 8: 1}
    assert set(RateCounter.objects.values_list("window_start", flat=True)) == {WINDOW_START}


def test_over_the_limit_it_queues_the_envelope_without_its_limited_items(
    writer: GroupCommitWriter,
) -> None:
    limit = RateLimit(key_id=7, count=1, window=60)
    with time_machine.travel(T0, tick=False):
        writer.submit_sync(submission(0, rate_limit=limit, limited_body=b"sessions only"))
        outcome = writer.submit_sync(submission(1, rate_limit=limit, limited_body=b"sessions"))

    assert outcome == Outcome(queued=True, rate_limited_for=40)
    first, second = QueuedEnvelope.objects.order_by("id")
    assert bytes(first.body) == b"envelope 0"
    # The limited body is plain bytes, and the event it no longer holds is not named.
    assert (bytes(second.body), second.content_encoding, second.event_id) == (b"sessions", "", "")


def test_a_new_window_starts_a_new_count(writer: GroupCommitWriter) -> None:
    limit = RateLimit(key_id=7, count=1, window=60)
    with time_machine.travel(T0, tick=False) as traveller:
        assert writer.submit_sync(submission(0, rate_limit=limit)).queued
        assert not writer.submit_sync(submission(1, rate_limit=limit)).queued
        traveller.move_to(WINDOW_START + 60)
        assert writer.submit_sync(submission(2, rate_limit=limit)) == Outcome(queued=True)


@pytest.mark.parametrize("into_window", [0.0, 0.25, 30.0, 59.5, 59.999])
def test_it_tells_the_client_to_wait_at_most_until_the_window_ends(
    writer: GroupCommitWriter, into_window: float
) -> None:
    limit = RateLimit(key_id=7, count=1, window=60)
    with time_machine.travel(WINDOW_START + into_window, tick=False):
        writer.submit_sync(submission(0, rate_limit=limit))
        outcome = writer.submit_sync(submission(1, rate_limit=limit))

    assert outcome.rate_limited_for is not None
    assert 1 <= outcome.rate_limited_for <= 60
    assert outcome.rate_limited_for == max(1, math.ceil(60 - into_window))


def test_two_writers_share_the_counters_so_the_limit_holds_across_processes(
    make_writer: MakeWriter,
) -> None:
    writers = [make_writer(), make_writer()]
    for writer in writers:
        writer.start()
    limit = RateLimit(key_id=7, count=5, window=3600)
    outcomes: list[Outcome] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        outcome = writers[n % 2].submit_sync(submission(n, rate_limit=limit))
        with lock:
            outcomes.append(outcome)

    with time_machine.travel(T0, tick=False):
        threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert len(outcomes) == 24
    assert sum(outcome.queued for outcome in outcomes) == 5
    assert QueuedEnvelope.objects.count() == 5
    assert RateCounter.objects.get().count == 24
    assert sum(writer.commits for writer in writers) >= 2
