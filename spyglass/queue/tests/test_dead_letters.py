"""Retry and discard touch set-aside envelopes only; `spyglass queue failed/retry/discard`."""

from __future__ import annotations

import io

import orjson
import pytest
from django.core.management import CommandError, call_command

from spyglass.queue import dead_letters
from spyglass.queue.consumer import Consumer
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.tests.helpers import T0, enqueue

pytestmark = pytest.mark.django_db(databases="__all__")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("queue", *args, stdout=out)
    return out.getvalue()


def set_aside(count: int = 1, **fields: object) -> list[int]:
    values: dict[str, object] = {
        "failed_at": T0,
        "attempts": 6,
        "last_error": "KeyError('x')",
        **fields,
    }
    return enqueue(count, **values)


def failed_ids() -> list[int]:
    return sorted(
        QueuedEnvelope.objects.filter(failed_at__isnull=False).values_list("id", flat=True)
    )


def test_retry_resets_attempts_and_error_and_a_worker_claims_the_envelope_again() -> None:
    [failed] = set_aside(1)
    [claimed] = enqueue(1)
    consumer = Consumer("w1")
    consumer.claim(10)

    assert dead_letters.retry([failed, claimed]) == 1

    row = QueuedEnvelope.objects.get(id=failed)
    assert (row.failed_at, row.attempts, row.last_error, row.claimed_until) == (None, 0, "", None)
    # The claimed row kept its lease: retry never touches what a worker holds.
    assert QueuedEnvelope.objects.get(id=claimed).claimed_by == "w1"
    assert [item.id for item in Consumer("w2").claim(10)] == [failed]


def test_discard_deletes_only_set_aside_envelopes() -> None:
    failed = set_aside(3)
    waiting = enqueue(2)

    assert dead_letters.discard([failed[0], waiting[0], 424242]) == 1
    assert failed_ids() == failed[1:]
    assert dead_letters.discard(None) == 2
    assert sorted(QueuedEnvelope.objects.values_list("id", flat=True)) == waiting


def test_many_ids_are_handled_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dead_letters, "_CHUNK", 2)
    failed = set_aside(5)
    assert dead_letters.set_aside([*failed, 0]) == set(failed)
    assert dead_letters.retry(failed + failed) == 5
    assert failed_ids() == []


def test_queue_failed_lists_set_aside_envelopes_newest_first() -> None:
    enqueue(1)
    older = set_aside(1, failed_at=T0, last_error="first line\nsecond line", project_id=9)
    newer = set_aside(1, failed_at=T0 + 60, body=b"12345")

    lines = run("failed").splitlines()

    assert lines[0].split("\t") == [
        "id",
        "project",
        "received at",
        "attempts",
        "bytes",
        "last error",
    ]
    assert [line.split("\t")[0] for line in lines[1:]] == [str(newer[0]), str(older[0])]
    assert lines[1].split("\t")[4] == "5"
    assert lines[2].split("\t")[1] == "9"
    assert lines[2].endswith("\tfirst line")


def test_queue_failed_as_json_and_when_empty() -> None:
    assert run("failed").strip() == "nothing is set aside"
    [failed] = set_aside(1)
    [row] = orjson.loads(run("failed", "--json"))
    assert (row["id"], row["attempts"], row["last_error"]) == (failed, 6, "KeyError('x')")
    assert row["failed_at"].startswith("2023-11-14T22:13:20")


def test_queue_retry_ids() -> None:
    failed = set_aside(3)
    output = run("retry", str(failed[0]), str(failed[2]))
    assert output.strip() == "2 set-aside envelopes sent back to the queue, attempts reset"
    assert failed_ids() == [failed[1]]


def test_queue_retry_all() -> None:
    set_aside(2)
    assert "2 set-aside envelopes sent back" in run("retry", "--all")
    assert failed_ids() == []


def test_queue_discard_ids_and_all() -> None:
    failed = set_aside(3)
    assert run("discard", str(failed[1])).strip() == "1 set-aside envelope discarded"
    assert failed_ids() == [failed[0], failed[2]]
    assert run("discard", "--all").strip() == "2 set-aside envelopes discarded"
    assert QueuedEnvelope.objects.count() == 0


def test_queue_retry_names_the_ids_it_left_alone_and_fails() -> None:
    [failed] = set_aside(1)
    [waiting] = enqueue(1)
    out = io.StringIO()
    with pytest.raises(CommandError, match=rf"left alone: {waiting}, 999999\b"):
        call_command("queue", "retry", str(failed), str(waiting), "999999", stdout=out)
    assert "1 set-aside envelope sent back" in out.getvalue()
    assert failed_ids() == []


@pytest.mark.parametrize("verb", ["retry", "discard"])
@pytest.mark.parametrize("args", [[], ["--all", "1"]])
def test_queue_retry_and_discard_want_ids_or_all(verb: str, args: list[str]) -> None:
    set_aside(1)
    with pytest.raises(CommandError, match="ids or --all"):
        run(verb, *args)
    assert len(failed_ids()) == 1
