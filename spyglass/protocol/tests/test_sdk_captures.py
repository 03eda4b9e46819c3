"""Every captured real-SDK request parses: both framings, every encoding the SDKs used."""

from __future__ import annotations

import orjson
import pytest

from spyglass.ingest.endpoints import Limits, prepare_store
from spyglass.protocol.encoding import decode_all
from spyglass.protocol.envelope import find_event_id, parse_envelope
from spyglass.protocol.tests.sdk_fixtures import (
    FIXTURES,
    Capture,
    capture,
    envelope_captures,
    store_captures,
)

LIMITS = Limits(max_envelope_size=20 << 20, max_event_size=1 << 20, max_attachment_size=100 << 20)
TOTAL_SIZE_BUDGET = 2 * 1024 * 1024

# The cases the other tests in this folder (and in ingest/tests) rely on.
REQUIRED = {
    "python/exception_chained/001_POST_api_1_envelope",  # br
    "python/exception_chained_gzip/001_POST_api_1_envelope",  # gzip
    "python/attachment/001_POST_api_1_envelope",  # attachments with length
    "node/exception_chained/002_POST_api_1_envelope",  # chunked, items without length
    "node/large_event/002_POST_api_1_envelope",  # gzip above 32 KiB
    "node/attachment/002_POST_api_1_envelope",
    "browser/handled_error/003_POST_api_1_envelope",  # text/plain, Origin
    "cli/send_event/001_POST_api_1_envelope",  # hyphenated envelope event_id
    "cli/monitors_run/001_POST_api_1_envelope",  # check_in, header {}
    "go/store_errors_gin_panic/001_POST_api_1_store",  # legacy store
}


def test_it_keeps_the_captures_the_tests_rely_on_and_keeps_them_small() -> None:
    names = {c.name for c in envelope_captures() + store_captures()}
    assert names >= REQUIRED
    assert sum(f.stat().st_size for f in FIXTURES.rglob("*") if f.is_file()) < TOTAL_SIZE_BUDGET


@pytest.mark.parametrize("case", envelope_captures(), ids=lambda c: c.name)
def test_it_parses_every_captured_sdk_envelope(case: Capture) -> None:
    body = decode_all(case.content_encoding, case.raw, LIMITS.max_envelope_size)
    if case.has_decoded:
        assert body == case.decoded
    envelope = parse_envelope(body)
    assert [item.type for item in envelope.items] == case.item_types
    for item in envelope.items:
        if "length" in item.headers:
            assert len(item.payload) == item.headers["length"]
        if item.type in ("event", "transaction", "session", "check_in", "log", "span"):
            assert isinstance(orjson.loads(item.payload), dict)


@pytest.mark.parametrize("case", store_captures(), ids=lambda c: c.name)
def test_it_parses_every_captured_store_request(case: Capture) -> None:
    sent = orjson.loads(case.raw)
    prepared = prepare_store(case.raw, LIMITS)
    assert prepared.event_id == sent["event_id"]
    [item] = prepared.envelope.items
    assert item.type == "event"
    assert orjson.loads(item.payload) == sent
    # The wrapped envelope is itself a valid envelope.
    assert parse_envelope(prepared.body).event_id == sent["event_id"]


def test_it_decodes_the_python_sdk_brotli_body() -> None:
    case = capture("python/exception_chained/001_POST_api_1_envelope")
    assert case.content_encoding == "br"
    assert decode_all("br", case.raw, 1 << 20) == case.decoded


def test_it_decodes_the_python_sdk_gzip_body() -> None:
    case = capture("python/exception_chained_gzip/001_POST_api_1_envelope")
    assert case.content_encoding == "gzip"
    assert decode_all("gzip", case.raw, 1 << 20) == case.decoded


def test_it_parses_node_items_that_have_no_length() -> None:
    case = capture("node/exception_chained/002_POST_api_1_envelope")
    assert case.header("transfer-encoding") == "chunked"
    envelope = parse_envelope(case.raw)
    [event] = envelope.items
    assert "length" not in event.headers
    assert orjson.loads(event.payload)["event_id"] == envelope.event_id


def test_it_parses_the_node_large_gzip_event() -> None:
    case = capture("node/large_event/002_POST_api_1_envelope")
    assert case.content_encoding == "gzip"
    envelope = parse_envelope(decode_all("gzip", case.raw, 1 << 20))
    assert len(envelope.items[0].payload) > 32 * 1024


def test_it_normalizes_the_hyphenated_event_id_sentry_cli_sends() -> None:
    case = capture("cli/send_event/001_POST_api_1_envelope")
    sent = orjson.loads(case.raw.split(b"\n", 1)[0])["event_id"]
    assert "-" in sent
    envelope = parse_envelope(case.raw)
    assert envelope.event_id == sent.replace("-", "")
    assert find_event_id(envelope) == sent.replace("-", "")


def test_it_parses_the_check_ins_of_sentry_cli_monitors_run() -> None:
    statuses = []
    for name in ("001_POST_api_1_envelope", "002_POST_api_1_envelope"):
        envelope = parse_envelope(capture(f"cli/monitors_run/{name}").raw)
        assert envelope.headers == {}
        [item] = envelope.items
        statuses.append(orjson.loads(item.payload)["status"])
    assert statuses == ["in_progress", "ok"]


@pytest.mark.parametrize(
    "name", ["python/attachment/001_POST_api_1_envelope", "node/attachment/002_POST_api_1_envelope"]
)
def test_it_keeps_attachment_bytes_exactly(name: str) -> None:
    case = capture(name)
    envelope = parse_envelope(decode_all(case.content_encoding, case.raw, 1 << 20))
    attachments = [item for item in envelope.items if item.type == "attachment"]
    assert attachments
    for item in attachments:
        assert item.headers["filename"]
        assert len(item.payload) == item.headers["length"]
    assert envelope.event_id is not None
    assert find_event_id(envelope) == envelope.event_id
