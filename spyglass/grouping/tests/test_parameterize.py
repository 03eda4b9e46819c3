from __future__ import annotations

import random
import re

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


# Variable-looking pieces, and the characters the kinds look for, to glue messages from.
_PIECES = [
    "10.0.0.1", "::1", "2001:db8::1", "fe80::1%eth0", "::ffff:1.2.3.4", "alice@example.com",
    "a@b", "https://x.io/a?b=1", "ws://h", "ftp://f", "db.example.com", "x.co",
    "550e8400-e29b-41d4-a716-446655440000", "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "deadbeefdeadbeefdeadbeefdeadbeef", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "1-5759e988-bd862e3fe1be46a994272793", "2024-05-01T10:20:30.123Z", "2024-05-01 10:20:30",
    "Mon, 02 Jan 2006 15:04:05 MST", "Jan 02, 2006", "Monday, 02-Jan-06 15:04:05 MST",
    "Mon Jan 02 2006 15:04:05 GMT+0100 (CET)", "20240501 1020", "12:30pm", "23:59",
    "Mon Jan  2 15:04:05 2006", "2 Jan 2006 15:04 +0100", "datetime.datetime(2024, 1, 1)",
    "datetime.datetime()", "350ms", "2.5s", "0xDEADbeef", "5f3a9c2e11", "ABCDEF12", "-12.50",
    "#1231", "-5", "\u0663\u0664", "x=1", "user='bob smith'", 'k="v"', "active=true", "=False",
    "item-5", "SomeClass::someMethod()", "\u00dcn\u00efc\u00f6d\u00e9", "\n", "...", "Jan", "Wed",
    "checkout failed", "ord-123456", "a", "F", "T", "d", "0", "12345678", "123456789",
]  # fmt: skip


def test_a_message_is_parameterized_as_by_the_whole_alternation_of_kinds() -> None:
    # `parameterize` leaves out the kinds a message cannot hold and skips positions no
    # kind can start at: the result must be the one every kind, tried everywhere, gives.
    from spyglass.grouping import parameterize as module

    reference = re.compile("|".join(f"(?P<{kind}>{expr})" for kind, expr in module._KINDS))
    rng = random.Random(7)
    seen_kinds = set()
    for _ in range(3000):
        parts = []
        for _ in range(rng.randrange(1, 7)):
            if rng.random() < 0.7:
                parts.append(rng.choice(_PIECES))
            else:
                parts.append("".join(rng.choices("aF0-:.=@x\u0663 ", k=rng.randrange(1, 6))))
            parts.append(rng.choice(" ,/-:.='\"(\t_"))
        message = "".join(parts)
        expected = reference.sub(module._placeholder, message)
        assert parameterize(message) == expected, message
        seen_kinds.update(re.findall(r"<(\w+)>", expected))
    assert seen_kinds >= {kind for kind, _ in module._KINDS}  # every kind was exercised
