"""The spans of classic ``transaction`` items go to the span table, as the same spans sent
on their own (span v2) do: one place for traces, whichever way an SDK sends them."""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.digest.batch import process_batch
from spyglass.digest.tests.test_items import (
    CAPTURED,
    body,
    contexts,
    item,
    outcomes,
    requests,
    run,
    unzstd,
)
from spyglass.digest.tests.test_items_ledger import queued
from spyglass.performance.models import Span, Transaction
from spyglass.performance.waterfall import _from_row as waterfall_row
from spyglass.test import World

pytestmark = pytest.mark.django_db

START = CAPTURED.timestamp()


def test_a_classic_transactions_spans_are_stored_with_its_trace_and_segment(
    world: World,
) -> None:
    run(contexts(world, "python/transaction_spans"))
    tx = Transaction.objects.get()
    spans = list(Span.objects.all())
    assert len(spans) == 24
    assert {(s.project_id, s.trace_id, s.segment_id) for s in spans} == {
        (world.project.id, tx.trace_id, tx.span_id)
    }
    own = Span.objects.get(is_segment=True)
    assert (own.span_id, own.parent_span_id, own.name, own.op) == (
        tx.span_id,
        "",
        "process_orders",
        "task",
    )
    assert (own.start, own.duration_ms, own.status) == (tx.start, tx.duration_ms, tx.status)
    query = Span.objects.get(name="SELECT id, user_id FROM orders")
    assert (query.op, query.is_segment) == ("db", False)
    assert Span.objects.filter(span_id=query.parent_span_id).exists()
    assert unzstd(query.attributes)["db.system"] == "sqlite"
    assert unzstd(own.attributes)["thread.name"] == "MainThread"  # the trace context's data


def test_a_classic_transaction_and_the_same_code_streamed_give_the_same_spans(
    world: World,
) -> None:
    def shape() -> list[tuple[str, str, bool]]:
        # Only the ports of the local test server differ between the two runs.
        return sorted((s.op, s.name.split(":")[0], s.is_segment) for s in Span.objects.all())

    run(contexts(world, "python/transaction_spans"))
    classic = shape()
    Span.objects.all().delete()
    run(contexts(world, "python/transaction_spans_stream"))
    assert shape() == classic


def test_spans_of_a_transaction_through_the_whole_digest_are_stored(world: World) -> None:
    # Relay's normalization (and scrubbing) runs first in a real batch.
    batch = [queued(world, 1, body(r)) for r in requests("python/transaction_spans")]
    process_batch(batch)
    assert Span.objects.count() == 24
    assert Span.objects.filter(trace_id=Transaction.objects.get().trace_id).count() == 24


def transaction(**fields: Any) -> dict[str, Any]:
    return {
        "event_id": "ab" * 16,
        "transaction": "GET /orders",
        "start_timestamp": START,
        "timestamp": START + 0.5,
        "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16, "op": "http.server"}},
        **fields,
    }


def test_child_spans_take_the_transactions_trace_and_bad_ones_are_counted_invalid(
    world: World,
) -> None:
    child = {"span_id": "c" * 16, "start_timestamp": START, "timestamp": START + 0.1}
    spans = [
        child,
        {**child, "span_id": "d" * 16, "trace_id": "e" * 32, "parent_span_id": "c" * 16},
        {**child, "span_id": "nope"},
        {**child, "span_id": "f" * 16, "timestamp": None},
        "junk",
    ]
    batch = run([item(world, "transaction", transaction(spans=spans))])
    assert sorted(Span.objects.values_list("span_id", "trace_id", "segment_id")) == [
        ("b" * 16, "a" * 32, "b" * 16),
        ("c" * 16, "a" * 32, "b" * 16),
        ("d" * 16, "a" * 32, "b" * 16),
    ]
    assert outcomes(batch) == {
        ("transaction", "accepted", ""): 1,
        ("span", "accepted", ""): 3,
        ("span", "invalid", "invalid_span"): 3,
    }


def test_a_transaction_without_a_trace_context_stores_no_spans(world: World) -> None:
    child = {"span_id": "c" * 16, "start_timestamp": START, "timestamp": START + 0.1}
    run([item(world, "transaction", transaction(contexts={}, spans=[child]))])
    assert Transaction.objects.exists() and not Span.objects.exists()


def test_a_span_already_stored_is_not_stored_or_counted_again(world: World) -> None:
    streamed = {
        "trace_id": "a" * 32,
        "span_id": "c" * 16,
        "start_timestamp": START,
        "end_timestamp": START + 0.1,
        "name": "streamed first",
    }
    run([item(world, "span", streamed)])
    child = {"span_id": "c" * 16, "start_timestamp": START, "timestamp": START + 0.1}
    batch = run([item(world, "transaction", transaction(spans=[child]))])
    assert Span.objects.get(span_id="c" * 16).name == "streamed first"
    assert outcomes(batch)[("span", "accepted", "")] == 1  # the transaction's own


def test_small_span_attributes_are_stored_as_json_and_big_ones_compressed(
    world: World,
) -> None:
    def span(span_id: str, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "trace_id": "a" * 32,
            "span_id": span_id,
            "op": "db",
            "description": "SELECT 1",
            "start_timestamp": START,
            "timestamp": START + 0.5,
            "data": data,
        }

    small, big = {"db.system": "sqlite"}, {"db.statement": "SELECT " + "x, " * 200 + "1"}
    run([item(world, "span", span("b" * 16, small)), item(world, "span", span("c" * 16, big))])
    small_row, big_row = Span.objects.get(span_id="b" * 16), Span.objects.get(span_id="c" * 16)
    assert bytes(small_row.attributes) == b'{"db.system":"sqlite"}'
    assert bytes(big_row.attributes)[:4] == b"\x28\xb5\x2f\xfd"  # a zstd frame
    assert len(bytes(big_row.attributes)) < len(big["db.statement"])
    # The waterfall reads both.
    assert waterfall_row(small_row).data == small
    assert waterfall_row(big_row).data == big
