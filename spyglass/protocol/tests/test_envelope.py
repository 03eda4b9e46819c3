from __future__ import annotations

import pytest

from spyglass.protocol.envelope import (
    MAX_ITEMS,
    Envelope,
    Item,
    check_envelope,
    find_event_id,
    parse_envelope,
)
from spyglass.protocol.errors import BadRequest, PayloadTooLarge

EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"
HYPHENATED = "9ec79c33-ec99-42ab-8353-589fcb2e04dc"
KIB = 1024
MIB = 1024 * KIB


def types(envelope: Envelope) -> list[str]:
    return [item.type for item in envelope.items]


def payloads(envelope: Envelope) -> list[bytes]:
    return [item.payload for item in envelope.items]


def check(envelope: Envelope, *, event: int = MIB, attachment: int = 10 * MIB) -> None:
    check_envelope(envelope, max_event_size=event, max_attachment_size=attachment)


# -- framing -------------------------------------------------------------------------------


def test_it_parses_items_with_a_length() -> None:
    envelope = parse_envelope(
        b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","dsn":"https://k@h/1"}\n'
        b'{"type":"attachment","length":10,"filename":"a.txt"}\n'
        b"01234\n6789\n"
        b'{"type":"event","length":41,"content_type":"application/json"}\n'
        b'{"message":"hello world","level":"error"}\n'
    )
    assert envelope.event_id == EVENT_ID
    assert envelope.headers["dsn"] == "https://k@h/1"
    assert types(envelope) == ["attachment", "event"]
    assert payloads(envelope) == [b"01234\n6789", b'{"message":"hello world","level":"error"}']


def test_it_parses_items_without_a_length_up_to_the_next_newline() -> None:
    envelope = parse_envelope(
        b'{}\n{"type":"session"}\n{"sid":"a"}\n{"type":"event"}\n{"message":"x"}\n'
    )
    assert types(envelope) == ["session", "event"]
    assert payloads(envelope) == [b'{"sid":"a"}', b'{"message":"x"}']


def test_it_parses_both_framings_mixed_and_without_a_final_newline() -> None:
    envelope = parse_envelope(
        b'{}\n{"type":"a","length":3}\nabc\n{"type":"b"}\nde\n{"type":"c","length":2}\nfg'
    )
    assert payloads(envelope) == [b"abc", b"de", b"fg"]


def test_it_counts_length_in_utf8_bytes() -> None:
    payload = "héllo ✓".encode()
    envelope = parse_envelope(
        b'{}\n{"type":"event","length":%d}\n' % len(payload) + payload + b"\n"
    )
    assert payloads(envelope) == [payload]


@pytest.mark.parametrize("tail", [b"\n", b"\n\n", b"\n\n\n\n", b"\n\r\n", b"\n \n\t\n", b""])
def test_it_ignores_trailing_blank_lines(tail: bytes) -> None:
    envelope = parse_envelope(b'{}\n{"type":"event","length":2}\n{}' + tail)
    assert payloads(envelope) == [b"{}"]


def test_it_accepts_crlf_after_header_lines() -> None:
    envelope = parse_envelope(
        b'{"event_id":"%s"}\r\n{"type":"event","length":2}\r\n{}' % (EVENT_ID.encode())
    )
    assert envelope.event_id == EVENT_ID
    # With "\r\n" after the item header, the payload starts after the "\n".
    assert payloads(envelope) == [b"{}"]


def test_it_keeps_a_carriage_return_before_the_newline_in_the_payload() -> None:
    # Relay: without a length, the payload runs to "\n"; a "\r" before it is payload.
    envelope = parse_envelope(b'{}\n{"type":"event"}\n{"a":1}\r\n{"type":"session"}\nx\r\n')
    assert payloads(envelope) == [b'{"a":1}\r', b"x\r"]


def test_it_refuses_a_carriage_return_after_a_payload_with_a_length() -> None:
    with pytest.raises(BadRequest, match="missing newline"):
        parse_envelope(b'{}\n{"type":"event","length":2}\n{}\r\n{"type":"session"}\n{}\n')


@pytest.mark.parametrize("body", [b"{}", b"{}\n", b"{}\n\n", b"  {}  \n"])
def test_it_parses_an_envelope_with_an_empty_header_and_no_items(body: bytes) -> None:
    envelope = parse_envelope(body)
    assert envelope.headers == {}
    assert envelope.items == []
    assert envelope.event_id is None


def test_it_parses_an_empty_payload_in_either_framing() -> None:
    envelope = parse_envelope(
        b'{}\n{"type":"a","length":0}\n\n{"type":"b"}\n\n{"type":"c","length":0}\n'
    )
    assert payloads(envelope) == [b"", b"", b""]


@pytest.mark.parametrize(
    "body",
    [
        b'{}\n{"type":"attachment","length":0}',
        b'{}\n{"type":"attachment"}',
        b'{}\n{"type":"attachment"}\n',
    ],
)
def test_it_accepts_a_last_item_with_an_empty_payload_and_no_newline(body: bytes) -> None:
    # Relay clamps the payload start to the end of the body.
    assert payloads(parse_envelope(body)) == [b""]


def test_it_keeps_unknown_item_types_and_header_keys() -> None:
    envelope = parse_envelope(
        b'{"future_key":{"x":1}}\n{"type":"brand_new_thing","length":3,"extra":[1]}\nabc\n'
    )
    assert envelope.headers == {"future_key": {"x": 1}}
    assert types(envelope) == ["brand_new_thing"]
    assert envelope.items[0].headers["extra"] == [1]


@pytest.mark.parametrize("value", [HYPHENATED, HYPHENATED.upper(), EVENT_ID.upper(), EVENT_ID])
def test_it_normalizes_the_envelope_event_id_to_32_hex(value: str) -> None:
    envelope = parse_envelope(b'{"event_id":"%s"}\n' % value.encode())
    assert envelope.event_id == EVENT_ID


def test_it_treats_a_null_event_id_as_none() -> None:
    assert parse_envelope(b'{"event_id":null}\n').event_id is None


@pytest.mark.parametrize("value", [b'""', b'"nope"', b"42", b"[]", b'"9ec79c33ec9942ab8353"'])
def test_it_refuses_an_event_id_that_is_not_a_uuid(value: bytes) -> None:
    with pytest.raises(BadRequest, match="event_id"):
        parse_envelope(b'{"event_id":%s}\n' % value)


# -- bad envelopes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n\n",
        b"   ",
        b"not json\n",
        b"[]\n",
        b'"string"\n',
        b"1\n",
        b"null\n",
        b"true\n",
        b'{}\n[]\n{"a":1}\n',
        b'{}\n"event"\n{}\n',
        b'{}\n{"length":2}\n{}\n',
        b'{}\n{"type":""}\n{}\n',
        b'{}\n{"type":7}\n{}\n',
        b'{}\n{"type":null}\n{}\n',
        b'{}\n{"type":"event","length":-1}\n{}\n',
        b'{}\n{"type":"event","length":2.0}\n{}\n',
        b'{}\n{"type":"event","length":true}\n{}\n',
        b'{}\n{"type":"event","length":"2"}\n{}\n',
        b'{}\n{"type":"event","length":[2]}\n{}\n',
        b'{}\n{"type":"event","length":99}\n{}\n',
        b'{}\n{"type":"event","length":18446744073709551616}\n{}\n',
        b'{}\n{"type":"event","length":1}\n{}\n',
        b'{}\n{"type":"event","length":2}\n{}x\n',
        b'{}\n\n{"type":"event"}\n{}\n',
        b"\xff\xfe{}\n",
        b'{"a":"\xff"}\n',
        b'{"a":"\\ud800"}\n',
        b"{}\n\x00\x01\x02\n",
        b"[" * 100_000,
        b"{}\n" + b"[" * 100_000 + b"\n",
        b'{"a":' * 100_000,
    ],
)
def test_it_refuses_malformed_envelopes_with_400(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_envelope(body)


def test_it_refuses_more_than_max_items() -> None:
    item = b'{"type":"session"}\n{}\n'
    assert len(parse_envelope(b"{}\n" + item * MAX_ITEMS).items) == MAX_ITEMS
    with pytest.raises(BadRequest, match="more than"):
        parse_envelope(b"{}\n" + item * (MAX_ITEMS + 1))


def test_it_refuses_ten_thousand_tiny_items() -> None:
    with pytest.raises(BadRequest, match="more than"):
        parse_envelope(b"{}\n" + b'{"type":"a","length":0}\n\n' * 10_000)


def test_it_does_not_parse_payloads_so_deep_json_in_a_payload_is_kept() -> None:
    deep = b"[" * 100_000
    envelope = parse_envelope(b'{}\n{"type":"attachment","length":%d}\n' % len(deep) + deep)
    assert payloads(envelope) == [deep]


# -- serialize -------------------------------------------------------------------------------


def test_it_serializes_an_envelope_that_parses_back_to_the_same_items() -> None:
    envelope = Envelope(
        {"event_id": EVENT_ID, "sdk": {"name": "x"}},
        [
            Item({"type": "event"}, b'{"message":"a\\nb"}'),
            Item({"type": "attachment", "filename": "f", "length": 999}, b"line1\nline2\n"),
            Item({"type": "session"}, b""),
        ],
    )
    again = parse_envelope(envelope.serialize())
    assert again.headers == envelope.headers
    assert payloads(again) == payloads(envelope)
    assert [item.headers["length"] for item in again.items] == [18, 12, 0]
    assert again.items[1].headers["filename"] == "f"


# -- check_envelope --------------------------------------------------------------------------


def envelope_of(*items: tuple[str, int]) -> Envelope:
    return Envelope({}, [Item({"type": kind}, b"x" * size) for kind, size in items])


def test_it_accepts_one_event_with_attachments_and_other_items() -> None:
    check(envelope_of(("event", 10), ("attachment", 10), ("attachment", 10), ("session", 5)))


@pytest.mark.parametrize(
    "kinds",
    [
        ("event", "event"),
        ("event", "transaction"),
        ("transaction", "transaction"),
        ("event", "raw_security"),
        ("security", "nel"),
    ],
)
def test_it_refuses_two_event_items_with_400(kinds: tuple[str, str]) -> None:
    with pytest.raises(BadRequest, match="duplicate event items"):
        check(envelope_of((kinds[0], 1), (kinds[1], 1)))


def test_it_accepts_an_event_of_exactly_the_limit_and_refuses_one_byte_more() -> None:
    check(envelope_of(("event", MIB)))
    with pytest.raises(PayloadTooLarge, match="size limits"):
        check(envelope_of(("event", MIB + 1)))


@pytest.mark.parametrize("kind", ["transaction", "span", "log", "session", "brand_new_thing"])
def test_it_applies_the_event_size_limit_to_other_json_items(kind: str) -> None:
    with pytest.raises(PayloadTooLarge):
        check(envelope_of((kind, 1001)), event=1000)


@pytest.mark.parametrize(("kind", "limit"), [("check_in", 100 * KIB), ("client_report", 4 * KIB)])
def test_it_applies_relays_fixed_item_limits(kind: str, limit: int) -> None:
    check(envelope_of((kind, limit)))
    with pytest.raises(PayloadTooLarge):
        check(envelope_of((kind, limit + 1)))


def test_it_limits_each_attachment_and_all_attachments_together() -> None:
    check(envelope_of(("attachment", 600)), attachment=1000)
    with pytest.raises(PayloadTooLarge):
        check(envelope_of(("attachment", 1001)), attachment=1000)
    with pytest.raises(PayloadTooLarge, match="attachments"):
        check(envelope_of(("attachment", 600), ("attachment", 600)), attachment=1000)


# -- find_event_id ---------------------------------------------------------------------------


def test_it_finds_the_event_id_in_the_header_first() -> None:
    envelope = parse_envelope(
        b'{"event_id":"%s"}\n{"type":"event"}\n{"event_id":"%s"}\n'
        % (HYPHENATED.encode(), b"0" * 32)
    )
    assert find_event_id(envelope) == EVENT_ID


@pytest.mark.parametrize("kind", [b"event", b"transaction"])
def test_it_finds_the_event_id_in_the_event_payload(kind: bytes) -> None:
    envelope = parse_envelope(
        b'{}\n{"type":"%s"}\n{"event_id":"%s"}\n' % (kind, HYPHENATED.encode())
    )
    assert find_event_id(envelope) == EVENT_ID


@pytest.mark.parametrize(
    "body",
    [
        b'{}\n{"type":"session"}\n{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n',
        b'{}\n{"type":"event"}\n{"message":"no id"}\n',
        b'{}\n{"type":"event"}\n{"event_id":42}\n',
        b'{}\n{"type":"event"}\n{"event_id":"nope"}\n',
        b'{}\n{"type":"event"}\nnot json\n',
        b'{}\n{"type":"event"}\n[1,2]\n',
        b"{}\n",
    ],
)
def test_it_finds_no_event_id_when_there_is_none(body: bytes) -> None:
    assert find_event_id(parse_envelope(body)) is None
