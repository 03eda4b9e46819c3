"""A batch delivered twice (the queue is at-least-once: a worker may die between the batch's
commit and the queue's ack) is stored once: the digest ledger skips the items whose writes
would add up, and the scheduler forgets queue rows once they have left the queue."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from django.db import connection, transaction
from django.db.models import Sum

from spyglass.attachments.models import Attachment
from spyglass.core import scheduler
from spyglass.core.models import LedgerEntry, claim, forget_before
from spyglass.digest.batch import process_batch
from spyglass.digest.tests.test_items import CAPTURED, body, counts, item, requests, run
from spyglass.events.models import Event, Outcome
from spyglass.feedback.models import UserFeedback
from spyglass.issues.models import Issue
from spyglass.logs.models import LogEntry
from spyglass.monitors.models import CheckIn
from spyglass.performance.models import Span, Transaction
from spyglass.queue.consumer import QueuedItem
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.tests.helpers import enqueue
from spyglass.releases.models import SessionUser
from spyglass.test import World

pytestmark = pytest.mark.django_db

# Together: every item type a handler stores or counts, and error events besides.
CASES = [
    "python/flask_500",  # event, transaction, sessions, client report
    "python/checkin",
    "node/logs",
    "node/feedback",  # event, feedback, session
    "python/metrics",
    "python/profile",
    "python/attachment",
]


def envelope(*items: tuple[dict[str, Any], bytes]) -> bytes:
    lines = [b"{}"]
    for headers, payload in items:
        lines += [orjson.dumps({**headers, "length": len(payload)}), payload]
    return b"\n".join(lines) + b"\n"


def batch_of(world: World, data_dir: Path) -> list[QueuedItem]:
    bodies = [body(request) for case in CASES for request in requests(case)]
    report = {"event_id": "c" * 32, "name": "Bob", "email": "bob@example.com", "comments": "Hm"}
    bodies.append(
        envelope(
            ({"type": "user_report"}, orjson.dumps(report)),
            ({"type": "statsd"}, b"orders@none:1|c"),
            ({"type": "something_new"}, b"{}"),
        )
    )
    return [queued(world, n, data) for n, data in enumerate(bodies, start=1)]


def queued(world: World, queue_id: int, data: bytes, received_at: float = 0) -> QueuedItem:
    return QueuedItem(
        id=queue_id,
        project_id=world.project.id,
        key_id=world.key.id,
        received_at=received_at or CAPTURED.timestamp(),
        event_id="",
        client_ip="203.0.113.9",
        user_agent="sentry.python/2.75.0",
        content_encoding="",
        body=data,
        attempts=1,
    )


def stored() -> dict[str, Any]:
    """Everything a batch adds to, in a form to compare."""
    outcomes: dict[tuple[str, str, str], int] = defaultdict(int)
    for row in Outcome.objects.values("category", "outcome", "reason").annotate(n=Sum("quantity")):
        outcomes[(row["category"], row["outcome"], row["reason"])] += row["n"]
    return {
        "sessions": counts(),
        "session users": SessionUser.objects.count(),
        "check-ins": sorted(CheckIn.objects.values_list("check_in_id", "status", "duration")),
        "logs": LogEntry.objects.count(),
        "feedback": sorted(UserFeedback.objects.values_list("feedback_id", "source")),
        "issues": sorted(Issue.objects.values_list("category", "times_seen")),
        "events": Event.objects.count(),
        "transactions": Transaction.objects.count(),
        "spans": Span.objects.count(),
        "attachments": Attachment.objects.count(),
        "outcomes": dict(outcomes),
    }


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_a_batch_delivered_twice_adds_nothing_the_second_time(world: World, data_dir: Path) -> None:
    batch = batch_of(world, data_dir)
    process_batch(batch)
    first = stored()
    process_batch(batch)  # the worker died before the ack: the queue delivers it again
    assert stored() == first
    # ... and the first delivery did store and count everything.
    assert first["sessions"]["started"] > 0 and first["check-ins"] and first["logs"]
    assert ("feedback", 1) in first["issues"] and len(first["feedback"]) == 2
    assert first["transactions"] and first["spans"] and first["attachments"]
    assert {
        ("session", "accepted", ""),
        ("monitor", "accepted", ""),
        ("log_item", "accepted", ""),
        ("user_report_v2", "accepted", ""),
        ("profile", "accepted", ""),
        ("trace_metric", "accepted", ""),
        ("statsd", "filtered", "unsupported"),
        ("something_new", "filtered", "unsupported"),
        ("error", "client_discard", "event_processor"),
    } <= set(first["outcomes"])


def test_filtered_and_invalid_items_of_a_batch_delivered_twice_are_counted_once(
    world: World, data_dir: Path
) -> None:
    world.project.inbound_filters = {"error_messages": ["*context canceled*"]}
    world.project.save(update_fields=["inbound_filters"])
    filtered = {"event_id": "a" * 32, "message": "request failed: context canceled"}
    bad_transaction = {"type": "transaction", "spans": "not a list", "timestamp": "yesterday"}
    batch = [
        queued(world, 1, envelope(({"type": "event"}, orjson.dumps(filtered)))),
        queued(world, 2, envelope(({"type": "transaction"}, orjson.dumps(bad_transaction)))),
        queued(world, 3, envelope(({"type": "log"}, b"{not json"))),
        queued(world, 4, b"not an envelope at all\n"),
        queued(world, 5, envelope(({"type": "security"}, b"[]"))),
    ]
    process_batch(batch)
    first = stored()
    process_batch(batch)  # the worker died before the ack: the queue delivers it again
    assert stored() == first
    assert first["events"] == first["transactions"] == 0
    assert first["outcomes"] == {
        ("default", "filtered", "error-message"): 1,  # a message event is of type default
        ("transaction", "invalid", "invalid_timestamp"): 1,
        ("log_item", "invalid", "invalid_json"): 1,
        ("default", "invalid", "invalid_envelope"): 1,
        ("security", "invalid", "invalid_report"): 1,
    }
    # One ledger row per queue row whose outcomes were held (the log's row has its "log" row
    # besides: the log handler is ledgered as a whole).
    held = LedgerEntry.objects.filter(item_type="outcomes").values_list("queue_id", flat=True)
    assert sorted(held) == [1, 2, 3, 4, 5]


def test_the_ledger_records_each_queue_row_and_item_type_that_adds_up(
    world: World, data_dir: Path
) -> None:
    process_batch(batch_of(world, data_dir))
    recorded = set(LedgerEntry.objects.values_list("item_type", flat=True))
    assert recorded == {
        "sessions",
        "session",
        "client_report",
        "check_in",
        "log",
        "feedback",
        "trace_metric",
        "profile",
        "user_report",
        "statsd",
        "something_new",
    }
    # Events, transactions, spans and attachments are stored once by their ids already.
    assert not recorded & {"event", "transaction", "span", "attachment"}


def test_a_queue_row_id_seen_again_with_another_receive_time_is_a_new_envelope(
    world: World,
) -> None:
    # A queue database started afresh counts its ids from 1 again.
    aggregate = {
        "aggregates": [{"started": "2026-11-22T15:50:00Z", "exited": 2}],
        "attrs": {"release": "r@1"},
    }
    data = envelope(({"type": "sessions"}, orjson.dumps(aggregate)))
    process_batch([queued(world, 7, data)])
    process_batch([queued(world, 7, data)])
    assert counts()["started"] == 2
    process_batch([queued(world, 7, data, received_at=CAPTURED.timestamp() + 1)])
    assert counts()["started"] == 4
    assert LedgerEntry.objects.get().received_at == CAPTURED.timestamp() + 1


def test_items_from_no_queue_row_are_always_handled(world: World) -> None:
    discarded = [{"reason": "sample_rate", "category": "transaction", "quantity": 3}]
    report = item(world, "client_report", {"discarded_events": discarded})
    run([report])
    batch = run([report])
    assert batch.outcomes.counts == {
        (world.project.id, "transaction", "client_discard", "sample_rate"): 3
    }
    assert not LedgerEntry.objects.exists()


def test_claiming_returns_only_what_was_not_recorded_before() -> None:
    assert claim([(1, "session", 10.0), (2, "session", 10.0), (1, "log", 10.0)]) == {
        (1, "session"),
        (2, "session"),
        (1, "log"),
    }
    assert claim([(1, "session", 10.0), (3, "session", 11.0), (1, "log", 12.0)]) == {
        (3, "session"),
        (1, "log"),  # another envelope with a reused id
    }
    assert claim([]) == set()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_second_worker_with_the_same_rows_waits_for_the_first_then_finds_them() -> None:
    # PostgreSQL, two workers, one batch: its lease ran out while the first was still at it.
    claimed = threading.Event()
    results: dict[str, set[tuple[int, str]]] = {}

    def worker(name: str) -> None:
        try:
            with transaction.atomic():
                results[name] = claim([(1, "session", 1.0), (2, "session", 1.0)])
                if name == "first":
                    claimed.set()
                    time.sleep(0.3)  # still storing
        finally:
            connection.close()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    claimed.wait(5)
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    first.join(5)
    second.join(5)
    assert results == {"first": {(1, "session"), (2, "session")}, "second": set()}


def test_forgetting_goes_in_chunks_and_keeps_rows_from_the_bound_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    claim([(n, kind, 1.0) for n in range(1, 21) for kind in ("session", "log")])
    monkeypatch.setattr("spyglass.core.models._FORGET_CHUNK", 3)
    assert forget_before(15) == 28
    assert min(LedgerEntry.objects.values_list("queue_id", flat=True)) == 15
    assert forget_before(1) == 0


@pytest.mark.django_db(databases="__all__")
def test_the_scheduler_forgets_the_queue_rows_that_left_the_queue() -> None:
    failed, waiting, _ = enqueue(3)
    QueuedEnvelope.objects.filter(id=failed).update(failed_at=1.0)
    QueuedEnvelope.objects.filter(id__gt=waiting).delete()  # acked
    claim([(n, "session", 1.0) for n in range(failed - 5, waiting + 2)])
    scheduler.prune_digest_ledger()
    # A set-aside row does not hold the ledger back: it was never stored.
    assert sorted(LedgerEntry.objects.values_list("queue_id", flat=True)) == [
        waiting,
        waiting + 1,
    ]
    QueuedEnvelope.objects.all().delete()
    scheduler.prune_digest_ledger()
    assert not LedgerEntry.objects.exists()


def test_the_scheduler_runs_the_ledger_and_session_jobs() -> None:
    names = {job.name: job for job in scheduler.JOBS}
    assert names["prune-digest-ledger"].run is scheduler.prune_digest_ledger
    assert names["expire-session-states"].run is scheduler.expire_session_states
