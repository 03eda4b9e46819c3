from __future__ import annotations

import pytest

from spyglass.grouping import normalize_message
from spyglass.grouping.parameterize import parameterize


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Connection to 10.0.0.1 failed after 3000 tries",
            "Connection to <ip> failed after <int> tries",
        ),
        ("peer ::1 and 2001:db8::1 gone", "peer <ip> and <ip> gone"),
        # as in Sentry, the first IPv6 form that fits wins, even when a longer one would
        ("at 2001:db8:85a3::8a2e:370:7334", "at <ip>:<int>:<int>"),
        ("mail alice@example.com bounced", "mail <email> bounced"),
        ("GET https://api.example.com/v1/items?id=3 failed", "GET <url> failed"),
        ("cannot resolve db.example.com", "cannot resolve <hostname>"),
        ("order 550e8400-e29b-41d4-a716-446655440000 lost", "order <uuid> lost"),
        ("commit da39a3ee5e6b4b0d3255bfef95601890afd80709", "commit <sha1>"),
        ("etag d41d8cd98f00b204e9800998ecf8427e", "etag <md5>"),
        ("trace 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "trace <traceparent>"),
        ("at 2024-05-01T10:20:30.123Z", "at <date>"),
        ("at 2024-05-01 10:20:30", "at <date>"),
        ("since Mon, 02 Jan 2006 15:04:05 MST", "since <date>"),
        ("on 2024-05-01", "on <date>"),
        ("took 350ms, then 2.5s", "took <duration>, then <duration>"),
        ("pointer 0xDEADbeef", "pointer <hex>"),
        ("request 5f3a9c2e11 failed", "request <hex> failed"),
        ("balance -12.50 left", "balance <float> left"),
        ("order #1231 of -5", "order #<int> of <int>"),
        ("id 12345678 is an id, not a number", "id <hex> is an id, not a number"),
        ("user='bob smith' active=true", "user=<quoted_str> active=<bool>"),
        ("item-5 and v2", "item-<int> and v2"),
        ("SomeClass::someMethod() failed", "SomeClass::someMethod() failed"),
        ("no numbers here", "no numbers here"),
    ],
)
def test_variable_parts_become_placeholders(message: str, expected: str) -> None:
    assert parameterize(message) == expected


def test_only_the_first_two_non_blank_lines_are_kept() -> None:
    assert normalize_message("one 1\n\n   \ntwo 2\nthree") == "one <int>\ntwo <int>..."
    assert normalize_message("single line 7") == "single line <int>"


def test_trimming_can_be_skipped() -> None:
    assert normalize_message("a 1\nb\nc", trim=False) == "a <int>\nb\nc"
