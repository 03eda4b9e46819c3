"""queue_stats(): what `spyglass queue stats` and the status page show."""

from __future__ import annotations

import pytest
import time_machine

from spyglass.queue.consumer import Consumer
from spyglass.queue.models import QueueStat
from spyglass.queue.stats import queue_stats
from spyglass.queue.tests.helpers import T0, enqueue

pytestmark = pytest.mark.django_db(databases="__all__")
MINUTE = int(T0 // 60)


def test_an_empty_queue_has_no_depth_no_age_and_no_rates() -> None:
    assert queue_stats() == {
        "depth": 0,
        "claimed": 0,
        "failed": 0,
        "oldest_age_seconds": None,
        "accepted_per_minute": 0.0,
        "done_per_minute": 0.0,
        "accepted_last_hour": 0,
        "done_last_hour": 0,
    }


def test_it_counts_waiting_claimed_and_failed_envelopes_and_the_age_of_the_oldest() -> None:
    enqueue(1, received_at=T0 - 5000, failed_at=T0 - 10)  # set aside: neither depth nor age
    enqueue(2, received_at=T0 - 90.5)
    enqueue(3, received_at=T0 - 10)
    with time_machine.travel(T0, tick=False):
        Consumer("w1").claim(3)
        stats = queue_stats()

    assert (stats["depth"], stats["claimed"], stats["failed"]) == (5, 3, 1)
    assert stats["oldest_age_seconds"] == 90.5


def test_an_envelope_waiting_for_its_retry_is_not_counted_as_claimed() -> None:
    enqueue(2)
    with time_machine.travel(T0, tick=False):
        consumer = Consumer("w1")
        [first, _] = consumer.claim(2)
        consumer.release([first.id], error="boom", retry_in=60)
        stats = queue_stats()

    assert (stats["depth"], stats["claimed"]) == (2, 1)


def test_an_expired_lease_is_not_counted_as_claimed() -> None:
    enqueue(1)
    with time_machine.travel(T0, tick=False) as traveller:
        Consumer("w1", lease_seconds=30).claim(1)
        traveller.move_to(T0 + 31)
        assert queue_stats()["claimed"] == 0


def test_rates_are_per_minute_over_the_last_complete_minutes() -> None:
    QueueStat.objects.bulk_create(
        [
            QueueStat(minute=MINUTE, accepted=1000, done=1000),  # partial: not in the rate
            QueueStat(minute=MINUTE - 1, accepted=30, done=20),
            QueueStat(minute=MINUTE - 5, accepted=20, done=5),
            QueueStat(minute=MINUTE - 6, accepted=500, done=500),  # before the window
            QueueStat(minute=MINUTE - 59, accepted=7, done=3),
            QueueStat(minute=MINUTE - 60, accepted=10**6, done=10**6),  # over an hour ago
        ]
    )
    with time_machine.travel(T0, tick=False):
        stats = queue_stats()

    assert (stats["accepted_per_minute"], stats["done_per_minute"]) == (10.0, 5.0)
    assert stats["accepted_last_hour"] == 1000 + 30 + 20 + 500 + 7
    assert stats["done_last_hour"] == 1000 + 20 + 5 + 500 + 3
