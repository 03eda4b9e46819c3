"""Hostile envelopes: parse_envelope returns or raises BadRequest/PayloadTooLarge, nothing else."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.protocol.envelope import Envelope, Item, check_envelope, find_event_id, parse_envelope
from spyglass.protocol.errors import BadRequest, PayloadTooLarge

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
# Anything an attacker could put where a length goes.
lengths = st.one_of(
    st.none(),
    st.integers(min_value=-5, max_value=200),
    st.integers(min_value=2**31, max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=5),
    st.lists(st.integers(), max_size=2),
)
item_types = st.sampled_from(
    ["event", "transaction", "attachment", "session", "check_in", "span", "log", "x-unknown", ""]
) | st.text(max_size=10)


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return repr(value).encode()


@st.composite
def hostile_envelopes(draw: st.DrawFn) -> bytes:
    header: Any = draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    if draw(st.integers(0, 4)) == 0:
        header = draw(json_values)
    parts = [dumps(header)]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        payload = draw(st.binary(max_size=50))
        item_header: Any = {"type": draw(item_types)}
        length = draw(st.one_of(st.just("exact"), lengths))
        if length == "exact":
            item_header["length"] = len(payload)
        elif length is not None:
            item_header["length"] = length
        if draw(st.integers(0, 4)) == 0:
            item_header = draw(json_values)
        parts += [dumps(item_header), payload]
    separator = draw(st.sampled_from([b"\n"] * 4 + [b"\r\n", b"\n\n", b""]))
    body = separator.join(parts) + draw(st.sampled_from([b"", b"\n", b"\n\n", b"\r\n"]))
    cut = draw(st.integers(min_value=0, max_value=len(body)))
    if draw(st.integers(0, 2)) == 0:
        body = body[:cut]  # truncated anywhere
    if body and draw(st.integers(0, 2)) == 0:
        at = draw(st.integers(min_value=0, max_value=len(body) - 1))
        body = body[:at] + bytes([draw(st.integers(0, 255))]) + body[at + 1 :]
    return body


def parse_or_refuse(body: bytes) -> Envelope | None:
    try:
        envelope = parse_envelope(body)
        check_envelope(envelope, max_event_size=100, max_attachment_size=100)
        find_event_id(envelope)
    except (BadRequest, PayloadTooLarge):
        return None
    return envelope


@FUZZ
@given(st.binary(max_size=300))
def test_it_parses_or_refuses_random_bytes(body: bytes) -> None:
    parse_or_refuse(body)


@FUZZ
@given(hostile_envelopes())
def test_it_parses_or_refuses_hostile_envelopes(body: bytes) -> None:
    envelope = parse_or_refuse(body)
    if envelope is not None:
        # What it accepts it can write back: the queue stores a re-serialized envelope.
        again = parse_envelope(envelope.serialize())
        assert [item.payload for item in again.items] == [item.payload for item in envelope.items]


@st.composite
def valid_envelopes(draw: st.DrawFn) -> Envelope:
    header = draw(st.dictionaries(st.sampled_from(["sdk", "sent_at", "trace", "x"]), json_values))
    items = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        kind = draw(st.sampled_from(["attachment", "session", "log", "client_report", "y"]))
        payload = draw(st.binary(max_size=40))
        items.append(Item({"type": kind, "filename": draw(st.text(max_size=5))}, payload))
    return Envelope(header, items)


@FUZZ
@given(valid_envelopes())
def test_it_parses_back_what_it_serializes(envelope: Envelope) -> None:
    again = parse_envelope(envelope.serialize())
    assert again.headers == envelope.headers
    assert [(i.type, i.payload) for i in again.items] == [
        (i.type, i.payload) for i in envelope.items
    ]


@FUZZ
@given(
    st.lists(
        st.tuples(st.sampled_from(["event", "session", "z"]), st.text(max_size=30)), max_size=6
    ),
    st.sampled_from([b"\n", b"\r\n"]),
)
def test_it_parses_newline_framed_items_of_any_text(
    items: list[tuple[str, str]], eol: bytes
) -> None:
    lines = [b"{}"]
    for kind, text in items:
        payload = text.replace("\n", " ").replace("\r", " ").encode()
        lines += [b'{"type":"%s"}' % kind.encode(), payload]
    envelope = parse_envelope(eol.join(lines) + eol)
    expected = [text.replace("\n", " ").replace("\r", " ").encode() for _, text in items]
    if eol == b"\r\n":
        expected = [p + b"\r" for p in expected]
    assert [item.payload for item in envelope.items] == expected


@settings(max_examples=20, deadline=None)
@given(st.sampled_from([b"[", b"{", b'{"a":', b'[{"a":']), st.sampled_from([0, 1]))
def test_it_refuses_deeply_nested_headers(opener: bytes, line: int) -> None:
    deep = opener * 100_000
    body = deep if line == 0 else b"{}\n" + deep + b"\n"
    assert parse_or_refuse(body) is None
