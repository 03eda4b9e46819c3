"""The handlers of non-event items, fed with real SDK captures (``shared/reference/sdk-capture``,
copied into the test folders of the apps they concern) and with hostile payloads."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import zstandard
from django.conf import settings as django_settings
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.attachments.models import Attachment
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items import HANDLERS, count_only
from spyglass.events.models import Event
from spyglass.feedback.models import UserFeedback
from spyglass.issues.models import Issue, IssueCounter
from spyglass.logs.models import LogEntry
from spyglass.monitors.models import CheckIn, Monitor
from spyglass.performance.models import Span, Transaction
from spyglass.protocol.envelope import parse_envelope
from spyglass.protocol.tests.sdk_fixtures import FIXTURES as PROTOCOL_FIXTURES
from spyglass.releases.models import SessionCount, SessionState, SessionUser
from spyglass.test import World

pytestmark = pytest.mark.django_db

APPS = Path(__file__).resolve().parents[2]
ROOTS = [PROTOCOL_FIXTURES] + [
    APPS / app / "tests" / "fixtures" for app in ("performance", "monitors", "logs", "feedback")
]
CAPTURED = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)  # shortly after the captures were made
MINUTE = 60


def requests(case: str) -> list[Path]:
    """The captured requests of one case (``client/case``), in order."""
    for root in ROOTS:
        found = sorted(p.parent for p in (root / case).glob("*/meta.json"))
        if found:
            return found
    raise AssertionError(f"no capture {case}")


def body(request: Path) -> bytes:
    decoded = request / "body.decoded"
    return (decoded if decoded.exists() else request / "body.raw").read_bytes()


def contexts(
    world: World, *cases: str, only: str | None = None, received_at: datetime = CAPTURED
) -> dict[str, list[ItemContext]]:
    """The items of captured envelopes by type, as the batch hands them to handlers."""
    found: dict[str, list[ItemContext]] = defaultdict(list)
    for case in cases:
        name, _, number = case.partition("#")
        for request in requests(name):
            if number and not request.name.startswith(number):
                continue
            envelope = parse_envelope(body(request))
            for item in envelope.items:
                if only is None or item.type == only:
                    found[item.type].append(
                        item_context(
                            world, item.payload, item.headers, envelope.headers, received_at
                        )
                    )
    return found


def item_context(
    world: World,
    payload: bytes,
    headers: dict[str, Any],
    envelope_headers: dict[str, Any] | None = None,
    received_at: datetime = CAPTURED,
    project_id: int | None = None,
) -> ItemContext:
    envelope_headers = envelope_headers or {}
    return ItemContext(
        project_id=project_id or world.project.id,
        organization_id=world.org.id,
        event_id=envelope_headers.get("event_id") or "",
        envelope_headers=envelope_headers,
        item_headers=headers,
        payload=payload,
        received_at=received_at,
        client_ip="203.0.113.9",
        user_agent="test",
    )


def item(world: World, item_type: str, payload: Any, **headers: Any) -> ItemContext:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    envelope = {"event_id": headers.pop("event_id")} if "event_id" in headers else {}
    return item_context(world, raw, {"type": item_type, **headers}, envelope)


def run(
    items: dict[str, list[ItemContext]] | list[ItemContext], batch: BatchContext | None = None
) -> BatchContext:
    batch = batch or BatchContext(timezone.now())
    if isinstance(items, list):
        grouped: dict[str, list[ItemContext]] = defaultdict(list)
        for ctx in items:
            grouped[ctx.item_headers["type"]].append(ctx)
        items = grouped
    for item_type, group in items.items():
        HANDLERS.get(item_type, count_only)(batch, group)
    return batch


def outcomes(batch: BatchContext) -> dict[tuple[str, str, str], int]:
    return {(c, o, r): n for (_, c, o, r), n in batch.outcomes.counts.items()}


def unzstd(data: Any) -> Any:
    """A span's attributes: zstd JSON, or plain JSON when small."""
    data = bytes(data)
    return orjson.loads(data if data[:1] == b"{" else zstandard.ZstdDecompressor().decompress(data))


def stored_event(world: World, event_id: str) -> Event:
    now = CAPTURED
    counter, _ = IssueCounter.objects.get_or_create(project=world.project)
    counter.value += 1
    counter.save()
    issue = Issue.objects.create(
        project=world.project, number=counter.value, title="boom", first_seen=now, last_seen=now
    )
    return Event.objects.create(
        project=world.project,
        issue=issue,
        event_id=event_id,
        timestamp=now,
        received_at=now,
        title="boom",
        body=b"",
    )


# --- transactions -----------------------------------------------------------------------------


def test_a_python_transaction_is_stored_with_its_trace_timing_measurements_and_spans(
    world: World,
) -> None:
    batch = run(contexts(world, "python/transaction_spans"))
    tx = Transaction.objects.get()
    assert (tx.event_id, tx.name, tx.op) == (
        "ee3febe51307473fa09aa57a57155073",
        "process_orders",
        "task",
    )
    assert (tx.trace_id, tx.span_id, tx.parent_span_id) == (
        "8670735f8d454796b1e6d8d1eaa75bc2",
        "843e4958a4c67181",
        "",
    )
    assert tx.status == "unknown"  # sent without a status: Relay's default
    assert tx.start == datetime(2026, 11, 22, 15, 53, 46, 945831, tzinfo=UTC)
    assert tx.duration_ms == pytest.approx(22.915)
    assert (tx.release, tx.environment, tx.platform) == ("myapp@1.0.0", "production", "python")
    assert (tx.sdk_name, tx.sdk_version) == ("sentry.python.flask", "2.75.0")
    assert tx.measurements == {"orders_processed": {"value": 5.0, "unit": "none"}}
    assert tx.tags == [["batch", "nightly"]]
    assert tx.span_count == 23
    body = unzstd(tx.body)
    assert len(body["spans"]) == 23 and body["spans"][0]["op"] == "db"
    # Its spans, and its own span (the segment's), go to the span table too.
    assert outcomes(batch) == {("transaction", "accepted", ""): 1, ("span", "accepted", ""): 24}


def test_flask_transactions_keep_the_http_method_status_code_and_user(world: World) -> None:
    run(contexts(world, "python/flask_500", only="transaction"))
    failed, ok = Transaction.objects.order_by("start")
    assert (failed.name, failed.op, failed.status) == ("orders", "http.server", "internal_error")
    assert (failed.http_method, failed.http_status_code) == ("POST", 500)
    assert (ok.name, ok.status, ok.http_method, ok.http_status_code) == ("ok", "ok", "GET", 200)
    assert failed.user_key == "ip:127.0.0.1"
    assert failed.failed and not ok.failed


def test_a_transaction_delivered_twice_is_stored_and_counted_once(world: World) -> None:
    items = contexts(world, "python/transaction_spans")
    first = run(items)
    second = run(items)
    assert (Transaction.objects.count(), Span.objects.count()) == (1, 24)
    assert outcomes(first) == {("transaction", "accepted", ""): 1, ("span", "accepted", ""): 24}
    assert outcomes(second) == {}


def test_a_transaction_without_timestamps_or_not_json_is_counted_invalid(world: World) -> None:
    batch = run(
        [
            item(world, "transaction", b"{not json"),
            item(world, "transaction", b"[1, 2]"),
            item(world, "transaction", {"transaction": "x", "timestamp": "yesterday"}),
            item(world, "transaction", {"start_timestamp": 1e300, "timestamp": 1e300}),
        ]
    )
    assert Transaction.objects.count() == 0
    assert outcomes(batch) == {
        ("transaction", "invalid", "invalid_json"): 2,
        ("transaction", "invalid", "invalid_timestamp"): 2,
    }


def test_odd_transaction_fields_become_empty_and_nothing_breaks_the_database(world: World) -> None:
    hostile = {
        "event_id": "not-an-id",
        "transaction": "\x00" + "n" * 500,
        "start_timestamp": 1795362829.1,
        "timestamp": 1795362829.0,  # ends before it starts
        "contexts": {"trace": {"trace_id": 7, "op": {"x": 1}, "status": "bogus"}},
        "tags": {"k\x00": "v\x00", "n": 1, "": "empty"},
        "measurements": {"lcp": {"value": "fast"}, "fcp": {"value": 12, "unit": "\x00ms"}},
        "request": {"method": ["GET"]},
        "user": {"id": "\x00" * 300},
        "spans": "many",
        "sdk": "python",
    }
    batch = run([item(world, "transaction", hostile, event_id="ab" * 16)])
    tx = Transaction.objects.get()
    assert tx.event_id == "ab" * 16  # the envelope's
    assert tx.name == "n" * 200 and tx.status == "unknown" and tx.op == ""
    assert tx.duration_ms == 0 and tx.span_count == 0 and tx.trace_id == ""
    assert tx.tags == [["k", "v"], ["n", "1"]]
    assert tx.measurements == {"fcp": {"value": 12.0, "unit": "ms"}}
    assert tx.user_key == ""
    assert outcomes(batch) == {("transaction", "accepted", ""): 1}


# --- spans ------------------------------------------------------------------------------------


def test_node_span_v2_items_become_spans_and_each_segment_a_transaction(world: World) -> None:
    batch = run(contexts(world, "node/transaction_spans", only="span"))
    assert Span.objects.count() == 11
    db = Span.objects.get(span_id="854420b28085f104")
    assert (db.name, db.op, db.status, db.is_segment) == (
        "SELECT id, user_id FROM orders",
        "db",
        "ok",
        False,
    )
    assert (db.trace_id, db.parent_span_id, db.segment_id) == (
        "7309648f7a80473ab117e250861b9d50",
        "81c351161f50941e",
        "8cad9a7904d3d463",
    )
    assert db.duration_ms == pytest.approx(0.2148, abs=1e-3)
    attrs = unzstd(db.attributes)
    assert attrs["db.system"] == "postgresql" and "sentry.op" not in attrs
    task = Transaction.objects.get(span_id="8cad9a7904d3d463")
    assert (task.name, task.op, task.status) == ("process_orders", "task", "ok")
    assert task.event_id == "7309648f7a80473a8cad9a7904d3d463"
    assert (task.release, task.environment, task.platform) == ("myapp@1.0.0", "production", "node")
    assert task.tags == [["batch", "nightly"]]
    assert task.span_count == 9  # the spans of its segment in this batch
    assert task.duration_ms == pytest.approx(81.62, abs=0.01)
    server = Transaction.objects.get(span_id="8e2dd7976d9fc5af")
    assert (server.name, server.op, server.http_method, server.http_status_code) == (
        "GET /downstream/api/items",  # streamed as "GET": named as the static lifecycle names it
        "http.server",
        "GET",
        200,
    )
    assert server.parent_span_id == "809a57f73ad7b3de"
    assert unzstd(server.body)["span_id"] == "8e2dd7976d9fc5af"
    assert outcomes(batch) == {("span", "accepted", ""): 11, ("transaction", "accepted", ""): 2}


def test_a_browser_pageload_segment_keeps_its_web_vitals_as_measurements(world: World) -> None:
    run(contexts(world, "browser/fetch_tracing_stream", only="span"))
    pageload = Transaction.objects.get()
    # The SDK names a streamed page load "Pageload"; Sentry shows it by its URL path.
    assert (pageload.name, pageload.op, pageload.platform) == (
        "/index.html",
        "pageload",
        "javascript",
    )
    assert pageload.release == "web@1.0.0"
    assert set(pageload.measurements) >= {"fcp", "fp", "ttfb"}
    assert pageload.measurements["fcp"] == {"value": 264.0, "unit": "millisecond"}
    assert Span.objects.filter(segment_id=pageload.span_id).count() == Span.objects.count()


def test_python_streamed_spans_make_one_segment_transaction(world: World) -> None:
    run(contexts(world, "python/transaction_spans_stream"))
    assert Span.objects.count() == 24
    tx = Transaction.objects.get()
    assert (tx.name, tx.op, tx.span_count, tx.platform) == ("process_orders", "task", 23, "python")


def test_a_legacy_standalone_span_is_stored(world: World) -> None:
    span = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "parent_span_id": "c" * 16,
        "op": "db",
        "description": "SELECT 1",
        "status": "deadline_exceeded",
        "start_timestamp": 1795362829.0,
        "timestamp": 1795362829.5,
        "data": {"db.system": "sqlite"},
        "tags": {"shard": "7"},
    }
    batch = run([item(world, "span", span)])
    row = Span.objects.get()
    assert (row.op, row.name, row.status, row.duration_ms) == (
        "db",
        "SELECT 1",
        "deadline_exceeded",
        500.0,
    )
    assert unzstd(row.attributes) == {"db.system": "sqlite", "shard": "7"}
    assert not Transaction.objects.exists()
    assert outcomes(batch) == {("span", "accepted", ""): 1}


def test_spans_delivered_twice_are_stored_once(world: World) -> None:
    items = contexts(world, "node/transaction_spans", only="span")
    run(items)
    again = run(items)
    assert (Span.objects.count(), Transaction.objects.count()) == (11, 2)
    assert outcomes(again) == {}


def test_bad_spans_are_counted_invalid_one_by_one(world: World) -> None:
    good = {
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "start_timestamp": 1.0,
        "end_timestamp": 2.0,
        "name": "ok",
        "status": "ok",
    }
    batch = run(
        [
            item(
                world,
                "span",
                {
                    "version": 2,
                    "items": [
                        good,
                        {"span_id": "x"},
                        "nope",
                        {**good, "span_id": "c" * 16, "end_timestamp": None},
                    ],
                },
            ),
            item(world, "span", {"version": 2, "items": {"not": "a list"}}),
            item(world, "span", b"\xff\xfe"),
        ]
    )
    assert list(Span.objects.values_list("span_id", flat=True)) == ["b" * 16]
    assert outcomes(batch) == {
        ("span", "accepted", ""): 1,
        ("span", "invalid", "invalid_span"): 4,
        ("span", "invalid", "invalid_json"): 1,
    }


# --- sessions ---------------------------------------------------------------------------------


def counts(**filters: Any) -> dict[str, int]:
    rows = SessionCount.objects.filter(**filters)
    names = ("started", "exited", "errored", "crashed", "abnormal")
    return {n: sum(getattr(r, n) for r in rows) for n in names}


def test_python_sessions_count_as_started_exited_and_errored_per_minute(world: World) -> None:
    batch = run(contexts(world, "python/session", only="session"))
    assert counts() == {"started": 2, "exited": 2, "errored": 1, "crashed": 0, "abnormal": 0}
    row = SessionCount.objects.get()
    assert (row.release, row.environment) == ("myapp@1.0.0", "production")
    assert row.bucket == int(datetime(2026, 11, 22, 15, 53, tzinfo=UTC).timestamp())
    user = SessionUser.objects.get()
    assert (user.distinct_id, user.day, user.crashed) == ("42", CAPTURED.date(), False)
    assert outcomes(batch) == {("session", "accepted", ""): 2}


def test_a_browser_session_is_started_once_and_errored_by_its_update(world: World) -> None:
    run(contexts(world, "browser/message_logs_feedback", only="session"))
    assert counts() == {"started": 1, "exited": 0, "errored": 1, "crashed": 0, "abnormal": 0}
    state = SessionState.objects.get()
    assert (state.sid, state.status, state.counted, state.errored) == (
        "f0848d1b13304afb91b5f838fd0ca888",
        "ok",
        True,
        True,
    )


def test_node_process_sessions_start_and_exit(world: World) -> None:
    run(contexts(world, "node/session", "node/feedback", only="session"))
    assert counts() == {"started": 3, "exited": 2, "errored": 1, "crashed": 0, "abnormal": 0}


def test_session_updates_delivered_twice_count_once(world: World) -> None:
    items = contexts(world, "python/session", "browser/message_logs_feedback", only="session")
    run(items)
    run(items)
    assert counts() == {"started": 3, "exited": 2, "errored": 2, "crashed": 0, "abnormal": 0}


def test_a_crashed_session_counts_as_crashed_and_errored_and_marks_its_user(world: World) -> None:
    sid = "ee" * 16
    base = {
        "sid": sid,
        "did": "u1",
        "started": "2026-11-22T15:50:00Z",
        "attrs": {"release": "r@1", "environment": "prod"},
    }
    run(
        [
            item(world, "session", {**base, "init": True, "status": "ok"}),
            item(world, "session", {**base, "status": "crashed", "errors": 1}),
            item(world, "session", {**base, "status": "exited"}),  # after the end: ignored
        ]
    )
    assert counts() == {"started": 1, "exited": 0, "errored": 1, "crashed": 1, "abnormal": 0}
    assert SessionUser.objects.get().crashed is True


def test_session_aggregates_add_their_counts(world: World) -> None:
    run(contexts(world, "node/transaction_spans", "python/flask_500", only="sessions"))
    assert counts() == {"started": 3, "exited": 2, "errored": 1, "crashed": 1, "abnormal": 0}
    assert (
        counts(bucket=int(datetime(2026, 11, 22, 15, 54, tzinfo=UTC).timestamp()))["started"] == 3
    )


def test_bad_sessions_are_counted_invalid(world: World) -> None:
    old = (CAPTURED - timedelta(days=6)).isoformat()
    attrs = {"release": "r@1"}
    batch = run(
        [
            item(world, "session", b"nope"),
            item(world, "session", {"sid": "x", "started": old, "attrs": attrs}),
            item(world, "session", {"sid": "a" * 32, "started": "2026-11-22T15:00:00Z"}),
            item(world, "session", {"sid": "a" * 32, "init": True, "started": old, "attrs": attrs}),
            item(world, "sessions", {"aggregates": "many", "attrs": attrs}),
            item(
                world, "sessions", {"aggregates": [{"started": None, "exited": 1}], "attrs": attrs}
            ),
        ]
    )
    assert not SessionCount.objects.exists()
    assert outcomes(batch) == {
        ("session", "invalid", "invalid_json"): 1,
        ("session", "invalid", "invalid_sid"): 1,
        ("session", "invalid", "missing_release"): 1,
        ("session", "invalid", "timestamp"): 1,
        ("session", "invalid", "invalid_aggregates"): 1,
        ("session", "invalid", "invalid_timestamp"): 1,
    }


# --- check-ins --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["python/checkin", "node/checkin"])
def test_sdk_check_ins_create_monitors_and_close_their_runs(world: World, case: str) -> None:
    batch = run(contexts(world, case))
    nightly = Monitor.objects.get(slug="nightly-report")
    assert nightly.config["schedule"] == {"type": "crontab", "value": "0 3 * * *"}
    assert nightly.config["timezone"] == "Europe/Berlin"
    assert nightly.last_status == "ok"
    run_ = CheckIn.objects.get(monitor=nightly)
    assert (run_.status, run_.duration, run_.environment, run_.release) == (
        "ok",
        0.05,
        "production",
        "myapp@1.0.0",
    )
    assert len(run_.trace_id) == 32
    hourly = CheckIn.objects.get(monitor__slug="hourly-sync")
    assert hourly.status == "error" and hourly.duration is not None
    assert hourly.monitor.config["schedule"] == {"type": "interval", "value": 1, "unit": "hour"}
    assert outcomes(batch) == {("monitor", "accepted", ""): 4}


@pytest.mark.parametrize("case", ["cli/monitors_run", "cli/monitors_run_schedule"])
def test_sentry_cli_check_ins_work_with_and_without_a_schedule(world: World, case: str) -> None:
    run(contexts(world, case))
    checkin = CheckIn.objects.get()
    assert checkin.status in ("ok", "error") and checkin.duration is not None
    assert checkin.duration < 1 and checkin.release == ""


def test_check_ins_delivered_twice_keep_one_closed_row(world: World) -> None:
    items = contexts(world, "python/checkin")
    run(items)
    again = run(items)
    assert CheckIn.objects.count() == 2
    assert sorted(CheckIn.objects.values_list("status", flat=True)) == ["error", "ok"]
    assert outcomes(again) == {}


def test_a_closing_check_in_without_duration_gets_the_time_since_it_opened(world: World) -> None:
    opened = item(
        world,
        "check_in",
        {"check_in_id": "c" * 32, "monitor_slug": "Job One", "status": "in_progress"},
    )
    closing = item(
        world, "check_in", {"check_in_id": "c" * 32, "monitor_slug": "job-one", "status": "ok"}
    )
    closing.received_at = opened.received_at + timedelta(seconds=42)
    run([opened])
    run([closing])
    checkin = CheckIn.objects.get()
    assert (checkin.monitor.slug, checkin.status, checkin.duration) == ("job-one", "ok", 42.0)
    assert checkin.environment == "production"


def test_the_nil_check_in_id_closes_the_latest_run_in_progress(world: World) -> None:
    run(
        [
            item(
                world,
                "check_in",
                {"check_in_id": "d" * 32, "monitor_slug": "j", "status": "in_progress"},
            )
        ]
    )
    run(
        [
            item(
                world,
                "check_in",
                {"check_in_id": "0" * 32, "monitor_slug": "j", "status": "error", "duration": 3},
            )
        ]
    )
    assert list(CheckIn.objects.values_list("check_in_id", "status", "duration")) == [
        ("d" * 32, "error", 3.0)
    ]


def test_bad_check_ins_are_counted_invalid(world: World) -> None:
    batch = run(
        [
            item(world, "check_in", b"{"),
            item(world, "check_in", {"monitor_slug": "", "status": "ok"}),
            item(world, "check_in", {"monitor_slug": "j", "status": "missed"}),
            item(world, "check_in", {"monitor_slug": "j", "status": "ok", "check_in_id": "zz"}),
        ]
    )
    assert not Monitor.objects.exists()
    assert outcomes(batch) == {
        ("monitor", "invalid", "invalid_json"): 1,
        ("monitor", "invalid", "missing_monitor_slug"): 1,
        ("monitor", "invalid", "invalid_status"): 1,
        ("monitor", "invalid", "invalid_check_in_id"): 1,
    }


# --- logs -------------------------------------------------------------------------------------


def test_python_logs_are_stored_with_their_level_trace_and_compact_attributes(
    world: World,
) -> None:
    batch = run(contexts(world, "python/logs", only="log"))
    entries = list(LogEntry.objects.order_by("timestamp"))
    assert [(e.level, e.severity_number) for e in entries][:3] == [
        ("info", 9),
        ("warn", 13),
        ("error", 17),
    ]
    first = entries[0]
    assert first.body == "User 42 logged in from 10.0.0.1"
    assert (first.trace_id, first.span_id) == (
        "1e306b6efdb64cf9b00b2bdc02d3c1bb",
        "bf36cea0942372c3",
    )
    assert (first.release, first.environment) == ("myapp@1.0.0", "production")
    assert first.attributes["sentry.message.template"] == "User {user_id} logged in from {ip}"
    assert first.attributes["sentry.message.parameter.user_id"] == 42
    assert "sentry.release" not in first.attributes
    assert "sentry.severity_number" not in first.attributes
    assert outcomes(batch) == {("log_item", "accepted", ""): len(entries)}


def test_javascript_logs_take_their_span_from_the_parent_span_attribute(world: World) -> None:
    run(contexts(world, "node/logs", "browser/message_logs_feedback", only="log"))
    assert LogEntry.objects.count() == 5
    cart = LogEntry.objects.get(body="render failed")
    assert (cart.level, cart.span_id, cart.attributes["component"]) == (
        "error",
        "80c3653961b20b21",
        "Cart",
    )


def test_logs_delivered_twice_are_stored_once(world: World) -> None:
    items = contexts(world, "node/logs", only="log")
    run(items)
    run(items)
    assert LogEntry.objects.count() == 3


def test_bad_logs_are_counted_invalid_and_odd_fields_get_defaults(world: World) -> None:
    batch = run(
        [
            item(world, "log", b"null"),
            item(world, "log", {"items": "x"}),
            item(
                world,
                "log",
                {
                    "items": [
                        42,
                        {
                            "body": "\x00hi",
                            "level": "WARNING",
                            "timestamp": "soon",
                            "severity_number": 99,
                        },
                    ]
                },
            ),
        ]
    )
    entry = LogEntry.objects.get()
    assert (entry.body, entry.level, entry.severity_number) == ("hi", "warn", 13)
    assert entry.timestamp == CAPTURED
    assert outcomes(batch) == {
        ("log_item", "invalid", "invalid_json"): 1,
        ("log_item", "invalid", "invalid_log"): 2,
        ("log_item", "accepted", ""): 1,
    }


# --- attachments ------------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_python_attachments_are_written_and_linked_to_their_events_issue(
    world: World, data_dir: Path
) -> None:
    event_id = "0a6a258d24484953a24d5f16c1c7cfca"
    batch = BatchContext(timezone.now())
    batch.event_issues[(world.project.id, event_id)] = stored_event(world, event_id).issue_id
    run(contexts(world, "python/attachment", only="attachment"), batch)
    rows = list(Attachment.objects.order_by("path"))
    assert [r.name for r in rows] == ["app.log", "state.json", "blob.bin"]
    assert [r.path for r in rows] == [
        f"attachments/{world.project.id}/{event_id}/{n}-{name}"
        for n, name in enumerate(["app.log", "state.json", "blob.bin"])
    ]
    state = rows[1]
    assert (data_dir / state.path).read_bytes() == b'{"cart": [1, 2, 3]}'
    assert (state.size, state.content_type, state.attachment_type) == (
        19,
        "application/json",
        "event.attachment",
    )
    assert state.issue_id == batch.event_issues[(world.project.id, event_id)]
    assert len(state.sha1) == 40
    sizes = sum(r.size for r in rows)
    assert outcomes(batch) == {
        ("attachment", "accepted", ""): sizes,
        ("attachment_item", "accepted", ""): 3,
    }


def test_node_attachments_find_their_stored_event(world: World, data_dir: Path) -> None:
    event = stored_event(world, "7b76ade7080749caa7aae30b4371d13e")
    run(contexts(world, "node/attachment", only="attachment"))
    assert list(Attachment.objects.values_list("name", "issue_id")) == [
        ("app.log", event.issue_id),
        ("blob.bin", event.issue_id),
    ]
    assert Attachment.objects.get(name="blob.bin").content_type == ""


def test_attachments_delivered_twice_are_stored_once(world: World, data_dir: Path) -> None:
    items = contexts(world, "python/attachment", only="attachment")
    run(items)
    again = run(items)
    assert Attachment.objects.count() == 3
    assert outcomes(again) == {}
    assert len(list((data_dir / "attachments").rglob("*"))) == 2 + 3  # two directories


@pytest.mark.parametrize(
    "filename",
    [
        "../../../etc/passwd",
        "..",
        "/etc/shadow",
        "..\\..\\win.ini",
        "a/../../b",
        "\x00",
        "",
        ".hidden",
        "x" * 400,
        "ünïcode ✓.txt",
    ],
)
def test_attachment_names_never_leave_the_events_directory(
    world: World, data_dir: Path, filename: str
) -> None:
    event_id = "e" * 32
    run([item(world, "attachment", b"secret", filename=filename, event_id=event_id)])
    row = Attachment.objects.get()
    path = (data_dir / row.path).resolve()
    assert path.parent == (data_dir / "attachments" / str(world.project.id) / event_id)
    assert path.read_bytes() == b"secret"
    assert not path.name.split("-", 1)[1].startswith(".")
    assert len(row.name) <= 255


def test_an_attachment_without_an_event_is_counted_invalid(world: World, data_dir: Path) -> None:
    batch = run([item(world, "attachment", b"data", filename="a.txt")])
    assert not Attachment.objects.exists()
    assert outcomes(batch) == {("attachment", "invalid", "missing_event_id"): 1}


# --- feedback ---------------------------------------------------------------------------------


def test_node_feedback_is_stored_and_linked_to_the_issue_of_its_event(world: World) -> None:
    event = stored_event(world, "f0a2e69a266f4d02a96b663e97ad91c6")
    batch = run(contexts(world, "node/feedback", only="feedback"))
    feedback = UserFeedback.objects.get()
    assert (feedback.name, feedback.email, feedback.comments) == (
        "Alice",
        "alice@example.com",
        "The checkout button does nothing",
    )
    assert feedback.url == "https://shop.example.invalid/cart"
    assert (feedback.feedback_id, feedback.event_id) == (
        "9c325ec9407d4b1587e64eaaa0820f4f",
        event.event_id,
    )
    assert feedback.issue_id == event.issue_id
    assert feedback.source == "feedback"
    assert outcomes(batch) == {("user_report_v2", "accepted", ""): 1}


def test_browser_feedback_takes_the_page_url_and_may_have_no_issue_yet(world: World) -> None:
    run(contexts(world, "browser/message_logs_feedback", only="feedback"))
    feedback = UserFeedback.objects.get()
    assert feedback.url.startswith("http://127.0.0.1:46203/index.html")
    assert feedback.issue_id is None
    assert (feedback.release, feedback.environment) == ("web@1.0.0", "production")


def test_legacy_user_reports_keep_one_report_per_event(world: World) -> None:
    event = stored_event(world, "c" * 32)
    report = {
        "event_id": "c" * 32,
        "name": "Bob",
        "email": "bob@example.com",
        "comments": "It broke",
    }
    run([item(world, "user_report", report)])
    run([item(world, "user_report", report)])
    run([item(world, "user_report", {**report, "comments": "It broke again"})])
    feedback = UserFeedback.objects.get()
    assert (feedback.comments, feedback.issue_id, feedback.source) == (
        "It broke again",
        event.issue_id,
        "user_report",
    )


def test_bad_feedback_is_counted_invalid(world: World) -> None:
    batch = run(
        [
            item(world, "feedback", b"<html>"),
            item(world, "feedback", {"contexts": {"feedback": {"message": "  "}}}),
            item(world, "user_report", {"comments": "no event"}),
            item(world, "user_report", {"event_id": "a" * 32}),
        ]
    )
    assert not UserFeedback.objects.exists()
    assert outcomes(batch) == {
        ("user_report_v2", "invalid", "invalid_json"): 1,
        ("user_report_v2", "invalid", "missing_feedback_message"): 1,
        ("user_report_v2", "invalid", "missing_event_id"): 1,
        ("user_report_v2", "invalid", "missing_comments"): 1,
    }


# --- counted only -----------------------------------------------------------------------------


def test_client_reports_become_client_discard_outcomes(world: World) -> None:
    batch = run(contexts(world, "python/client_reports", "python/flask_500", only="client_report"))
    assert outcomes(batch) == {
        ("error", "client_discard", "before_send"): 2,
        ("transaction", "client_discard", "sample_rate"): 1,
        ("span", "client_discard", "sample_rate"): 1,
        ("error", "client_discard", "event_processor"): 1,
    }


def test_bad_client_reports_are_counted_invalid_or_skipped(world: World) -> None:
    junk = [
        {"reason": "x", "category": "error", "quantity": -3},
        "junk",
        {"reason": "y", "category": "span", "quantity": 2},
        {"reason": "z" * 65, "category": "error", "quantity": 1},
        {"reason": "ok", "category": "Error; DROP", "quantity": 1},
        {"reason": "ok", "category": "error", "quantity": "1"},
    ]
    batch = run(
        [
            item(world, "client_report", b"]"),
            item(world, "client_report", {"discarded_events": "all"}),
            item(world, "client_report", {"discarded_events": junk}),
        ]
    )
    assert outcomes(batch) == {
        ("client_report", "invalid", "invalid_json"): 1,
        ("client_report", "invalid", "invalid_client_report"): 1,
        ("span", "client_discard", "y"): 2,
    }


def test_profiles_and_trace_metrics_are_accepted_and_counted_only(world: World) -> None:
    batch = run(
        contexts(world, "python/profile", "python/metrics", "python/logs", only="profile")
        | contexts(world, "python/metrics", "python/logs", only="trace_metric")
    )
    assert outcomes(batch) == {
        ("profile", "accepted", ""): 1,
        ("trace_metric", "accepted", ""): 3,
    }


def test_a_profile_that_is_not_a_json_object_is_counted_invalid(world: World) -> None:
    batch = run([item(world, "profile", b"  [1]"), item(world, "profile", b' \n{"version":"1"}')])
    assert outcomes(batch) == {
        ("profile", "invalid", "invalid_json"): 1,
        ("profile", "accepted", ""): 1,
    }


def test_unsupported_and_unknown_item_types_are_counted_never_an_error(world: World) -> None:
    batch = run(
        [
            item(world, "replay_event", b"{}"),
            item(world, "replay_recording", b"\x00\x01binary"),
            item(world, "statsd", b"metric@none:1|c"),
            item(world, "otel_log", b"{"),
            item(world, "x" * 100, b""),
        ]
    )
    assert outcomes(batch) == {
        ("replay_event", "filtered", "unsupported"): 1,
        ("replay_recording", "filtered", "unsupported"): 1,
        ("statsd", "filtered", "unsupported"): 1,
        ("otel_log", "filtered", "unsupported"): 1,
        ("x" * 32, "filtered", "unsupported"): 1,
    }


def test_every_item_type_sdks_send_has_a_handler() -> None:
    assert set(HANDLERS) >= {
        "transaction",
        "span",
        "session",
        "sessions",
        "check_in",
        "log",
        "attachment",
        "client_report",
        "user_report",
        "feedback",
        "profile",
        "trace_metric",
        "statsd",
        "metric_buckets",
        "replay_event",
        "replay_recording",
        "replay_video",
        "profile_chunk",
        "otel_log",
    }
    assert django_settings.DATA_DIR  # handlers write attachments below it


def test_a_batch_of_transactions_spans_and_logs_costs_a_few_queries(
    world: World, django_assert_num_queries: Any
) -> None:
    items = contexts(world, "python/transaction_spans", "python/flask_500", only="transaction")
    items |= contexts(world, "node/transaction_spans", "browser/fetch_tracing_stream", only="span")
    items |= contexts(world, "python/logs", "node/logs", only="log")
    for n, ctx in enumerate(ctx for group in items.values() for ctx in group):
        ctx.queue_id = n + 1
    # transactions: look up, insert, and the same for their spans; spans: look up, insert,
    # and the same for their segments; logs: record in the ledger, insert; rollups of each
    # set of transactions stored: Apdex thresholds, insert, read (and lock), update; the
    # project's transaction name rules (read once a minute), the URL names seen (insert)
    with django_assert_num_queries(20):
        run(items)
    assert (Transaction.objects.count(), Span.objects.count(), LogEntry.objects.count()) == (
        6,
        24 + 2 + 11 + 17,  # python's 23 spans and its own, the own spans of flask's two
        7,
    )


# --- anything at all --------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "\x00",
            "a" * 40,
            "ok",
            "error",
            "crashed",
            "exited",
            "2026-11-22T15:53:00Z",
            "0001-01-01T00:00:00+14:00",
            "../..",
            "{{auto}}",
            "ab" * 16,
            "cd" * 8,
        ]
    )
)
_json = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
_time = st.floats(min_value=-1e12, max_value=1e12) | _json
_KEYS = {
    "transaction": [
        "event_id",
        "transaction",
        "start_timestamp",
        "timestamp",
        "contexts",
        "tags",
        "measurements",
        "request",
        "user",
        "spans",
        "sdk",
        "platform",
        "release",
    ],
    "span": [
        "trace_id",
        "span_id",
        "parent_span_id",
        "name",
        "status",
        "is_segment",
        "start_timestamp",
        "end_timestamp",
        "timestamp",
        "attributes",
        "data",
        "tags",
    ],
    "session": ["sid", "did", "init", "started", "timestamp", "status", "errors", "attrs"],
    "sessions": ["aggregates", "attrs"],
    "check_in": [
        "check_in_id",
        "monitor_slug",
        "status",
        "duration",
        "environment",
        "release",
        "monitor_config",
        "contexts",
    ],
    "log": ["timestamp", "level", "body", "trace_id", "span_id", "severity_number", "attributes"],
    "feedback": ["event_id", "contexts", "timestamp", "environment", "release", "request"],
    "user_report": ["event_id", "name", "email", "comments"],
    "client_report": ["timestamp", "discarded_events"],
    "trace_metric": ["items"],
}
_NESTED = {
    "contexts": st.fixed_dictionaries(
        {},
        optional={
            "trace": st.fixed_dictionaries(
                {},
                optional={
                    k: _json
                    for k in ("trace_id", "span_id", "parent_span_id", "op", "status", "data")
                },
            ),
            "feedback": st.fixed_dictionaries(
                {},
                optional={
                    k: _json
                    for k in ("message", "name", "contact_email", "url", "associated_event_id")
                },
            ),
            "response": _json,
        },
    ),
    "attrs": st.fixed_dictionaries({"release": _json}, optional={"environment": _json}),
    "attributes": st.dictionaries(
        st.sampled_from(
            [
                "sentry.op",
                "sentry.segment.name",
                "sentry.release",
                "x",
                "\x00",
                "browser.web_vital.lcp.value",
                "sentry.trace.parent_span_id",
            ]
        ),
        st.fixed_dictionaries({"value": _json}) | _json,
    ),
}


def _object(item_type: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            k: _NESTED.get(k, _time if "timestamp" in k or k == "started" else _json)
            for k in _KEYS.get(item_type, ["x"])
        },
    )


def _payload(item_type: str) -> st.SearchStrategy[bytes]:
    if item_type in ("span", "log"):
        inner = st.fixed_dictionaries({"items": st.lists(_object(item_type) | _json, max_size=4)})
        shape: st.SearchStrategy[Any] = inner | _object(item_type)
    elif item_type == "sessions":
        shape = st.fixed_dictionaries(
            {
                "aggregates": st.lists(
                    st.fixed_dictionaries(
                        {},
                        optional={
                            k: _time if k == "started" else _json
                            for k in ("started", "did", "exited", "errored", "crashed", "abnormal")
                        },
                    ),
                    max_size=3,
                ),
                "attrs": _NESTED["attrs"],
            }
        )
    else:
        shape = _object(item_type)
    return st.one_of(shape.map(orjson.dumps), st.binary(max_size=20))


@pytest.mark.parametrize("item_type", [*sorted(_KEYS), "attachment", "profile", "replay_event"])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_payload_makes_a_handler_raise(
    world: World, data_dir: Path, item_type: str, data: st.DataObject
) -> None:
    payloads = data.draw(st.lists(_payload(item_type), min_size=1, max_size=3))
    headers = data.draw(
        st.fixed_dictionaries(
            {}, optional={"filename": _json, "content_type": _json, "attachment_type": _json}
        )
    )
    event_id = data.draw(st.sampled_from(["", "ab" * 16, "nothex"]))
    items = [item(world, item_type, p, event_id=event_id, **headers) for p in payloads]
    batch = run(items)
    assert all(n > 0 for n in batch.outcomes.counts.values())


def test_an_empty_attachment_is_stored_and_counted_as_an_item(world: World, data_dir: Path) -> None:
    batch = run([item(world, "attachment", b"", filename="empty.txt", event_id="f" * 32)])
    assert Attachment.objects.get().size == 0
    assert outcomes(batch) == {("attachment_item", "accepted", ""): 1}
