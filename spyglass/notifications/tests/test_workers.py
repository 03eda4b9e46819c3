"""Two outbox workers at once deliver every row exactly once (separate connections; on
PostgreSQL the claim is FOR UPDATE SKIP LOCKED, on SQLite the one write lock)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection
from django.test import override_settings

from spyglass.notifications import outbox
from spyglass.notifications.models import Delivery, DeliveryAttempt
from spyglass.notifications.send import send
from spyglass.notifications.tests.factories import issue_alert, make_channel, make_issue
from spyglass.notifications.tests.receivers import http_receiver
from spyglass.test import build_world

ROWS = 40


def work(name: str, start: threading.Barrier, errors: list[BaseException]) -> None:
    try:
        start.wait(10)
        while outbox.run_once(name, limit=3):
            pass
    except BaseException as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
@override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
def test_two_workers_deliver_each_row_exactly_once() -> None:
    world = build_world()
    issue = make_issue(world.project)
    with http_receiver() as receiver:
        receiver.delay = 0.02  # long enough for the workers' claims to interleave
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        for number in range(ROWS):
            send(channel, issue_alert(issue, dedup_key=f"row-{number}"))
        errors: list[BaseException] = []
        start = threading.Barrier(2)
        threads = [
            threading.Thread(target=work, args=(f"worker-{n}", start, errors)) for n in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == []
    seen = Counter(r.headers["X-Spyglass-Dedup-Key"] for r in receiver.requests)
    assert seen == Counter({f"row-{n}": 1 for n in range(ROWS)})
    assert Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == ROWS
    assert DeliveryAttempt.objects.count() == ROWS
    # Both workers took part (otherwise this proves nothing about concurrency).
    workers = set(DeliveryAttempt.objects.values_list("worker", flat=True))
    assert workers == {"worker-0", "worker-1"}


@pytest.mark.django_db(transaction=True)
def test_a_claim_whose_lease_ran_out_is_claimed_again() -> None:
    from datetime import timedelta

    from django.utils import timezone

    world = build_world()
    channel = make_channel(world.org, "webhook", "hook", url="http://127.0.0.1:9/")
    send(channel, issue_alert(make_issue(world.project)))
    assert outbox.claim("dead-worker") != []
    assert outbox.claim("live-worker") == []
    Delivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    [delivery_id] = outbox.claim("live-worker")
    assert Delivery.objects.get(pk=delivery_id).claimed_by == "live-worker"
    # The dead worker, back to life, finds the row is no longer its own.
    assert outbox.process(delivery_id, "dead-worker") is None


def test_threads_loading_the_kinds_at_once_all_see_every_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from spyglass.notifications import registry

    monkeypatch.setattr(registry, "_loaded", None)
    start = threading.Barrier(8)
    found: list[str] = []
    errors: list[BaseException] = []

    def look() -> None:
        start.wait(10)
        try:
            found.append(registry.get("apprise").name)  # the last one loaded
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=look) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and found == ["apprise"] * 8


@pytest.mark.django_db(transaction=True)
def test_a_stopping_worker_gives_back_what_it_has_not_sent() -> None:
    world = build_world()
    channel = make_channel(world.org, "webhook", "hook", url="http://127.0.0.1:9/")
    issue = make_issue(world.project)
    for number in range(3):
        send(channel, issue_alert(issue, dedup_key=str(number)))
    stop = threading.Event()
    stop.set()
    assert outbox.run_once("stopping", limit=10, stop=stop) == 0
    assert set(Delivery.objects.values_list("status", "claimed_by")) == {("pending", "")}
    assert DeliveryAttempt.objects.count() == 0
    assert len(outbox.claim("next")) == 3
