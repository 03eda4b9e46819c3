"""Bad queries: each raises a SearchSyntaxError (or its SearchTypeError) with a message a
person at the search box can act on, and the position of the offending text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spyglass.search import SearchSyntaxError, SearchTypeError, parse

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
NESTED = "(" * 40 + "a" + ")" * 40

# (query, position, message)
ERRORS = [
    ("timesSeen:abc", 10, 'timesSeen: expected a number like 10, >10 or 1k, got "abc"'),
    ("timesSeen:>abc", 11, 'timesSeen: expected a number like 10, >10 or 1k, got "abc"'),
    ("timesSeen:1*", 10, 'timesSeen: expected a number like 10, >10 or 1k, got "1*"'),
    ("timesSeen:10s", 10, 'timesSeen: expected a number like 10, >10 or 1k, got "10s"'),
    ("timesSeen:[1, x]", 14, 'timesSeen: expected a number like 10, >10 or 1k, got "x"'),
    ("user.count:>=ten", 13, 'user.count: expected a number like 10, >10 or 1k, got "ten"'),
    (
        "http.status_code:2xx",
        17,
        'http.status_code: expected a number like 10, >10 or 1k, got "2xx"',
    ),
    (
        "transaction.duration:fast",
        21,
        'transaction.duration: expected a duration like 300ms, >1.5s or 2m, got "fast"',
    ),
    (
        "transaction.duration:-5ms",
        21,
        'transaction.duration: expected a duration like 300ms, >1.5s or 2m, got "-5ms"',
    ),
    (
        "firstSeen:yesterday",
        10,
        (
            "firstSeen: expected a date like -24h, +7d, 2026-11-01 or >2026-11-01T10:00:00, "
            'got "yesterday"'
        ),
    ),
    (
        "firstSeen:>-24h",
        10,
        (
            "firstSeen: a relative date takes no operator: -24h means within the last 24 "
            "hours, +24h more than 24 hours ago"
        ),
    ),
    (
        "firstSeen:<=+7d",
        10,
        (
            "firstSeen: a relative date takes no operator: -24h means within the last 24 "
            "hours, +24h more than 24 hours ago"
        ),
    ),
    ("firstSeen:2026-13-01", 10, 'firstSeen: "2026-13-01" is not a valid date'),
    ("firstSeen:2026-02-30T10:00:00", 10, 'firstSeen: "2026-02-30T10:00:00" is not a valid date'),
    (
        "firstSeen:2026-11-01+02:00",
        10,
        "firstSeen: a time zone needs a time: write 2026-11-01T00:00:00+02:00",
    ),
    ("firstSeen:[-24h, -7d]", 10, "firstSeen: takes one value, not a list"),
    ("firstSeen:2026-11-01T25:00:00", 10, 'firstSeen: "2026-11-01T25:00:00" is not a valid date'),
    (
        "lastSeen:-9999999999w",
        9,
        (
            "lastSeen: expected a date like -24h, +7d, 2026-11-01 or >2026-11-01T10:00:00, "
            'got "-9999999999w"'
        ),
    ),
    ("error.handled:maybe", 14, 'error.handled: expected true or false, got "maybe"'),
    ("error.handled:>1", 14, 'error.handled: expected true or false, got ">1"'),
    ("error.handled:[true, false]", 14, "error.handled: takes one value, not a list"),
    (
        "is:open",
        3,
        (
            "is: expected one of unresolved, resolved, ignored, new, ongoing, regressed, "
            "escalating, archived_until_escalating, archived_until_condition_met, "
            "archived_forever, assigned, unassigned, for_review, bookmarked, linked, "
            'unlinked, got "open"'
        ),
    ),
    ("is:", 3, 'expected a value after "is:"'),
    (
        "is:>new",
        3,
        (
            "is: expected one of unresolved, resolved, ignored, new, ongoing, regressed, "
            "escalating, archived_until_escalating, archived_until_condition_met, "
            "archived_forever, assigned, unassigned, for_review, bookmarked, linked, "
            'unlinked, got ">new"'
        ),
    ),
    (
        "level:critical",
        6,
        'level: expected one of fatal, error, warning, info, debug, got "critical"',
    ),
    ("level:err*", 6, 'level: expected one of fatal, error, warning, info, debug, got "err*"'),
    (
        "issue.priority:urgent",
        15,
        'issue.priority: expected one of high, medium, low, got "urgent"',
    ),
    (
        "issue.category:replay",
        15,
        'issue.category: expected one of error, performance, cron, uptime, feedback, got "replay"',
    ),
    (
        "transaction.status:broken",
        19,
        (
            "transaction.status: expected one of ok, cancelled, unknown, invalid_argument, "
            "deadline_exceeded, not_found, already_exists, permission_denied, "
            "resource_exhausted, failed_precondition, aborted, out_of_range, unimplemented, "
            'internal_error, unavailable, data_loss, unauthenticated, got "broken"'
        ),
    ),
    ("issue:123", 6, 'issue: expected a short id like PROJECT-1A, got "123"'),
    ("issue:PROJ-1I", 6, 'issue: expected a short id like PROJECT-1A, got "PROJ-1I"'),
    (
        "assigned:#",
        9,
        'assigned: expected me, my_teams, none, #team, an email or a username, got "#"',
    ),
    ("bookmarks:#team", 10, 'bookmarks: expected me, an email or a username, got "#team"'),
    (
        "assigned:me*",
        9,
        'assigned: expected me, my_teams, none, #team, an email or a username, got "me*"',
    ),
    (
        "release.version:>1.*",
        17,
        'release.version: expected a version without wildcards to compare with, got "1.*"',
    ),
    (
        "TypeError: boom",
        10,
        'expected a value after "TypeError:" (to search for this text, put it in quotes)',
    ),
    ("message:", 8, 'expected a value after "message:"'),
    ("message:>", 9, 'expected a value after "message:>"'),
    ('message:"unclosed', 8, "this quote is never closed"),
    ('"unclosed free text', 0, "this quote is never closed"),
    (
        'message:foo"bar',
        11,
        'a quote inside a value: put the whole value in quotes, or escape it as \\"',
    ),
    ('message:"a"b', 11, "expected a space after the closing quote"),
    ('""', 0, "empty quotes: nothing to search for"),
    ("(a", 0, "this '(' is never closed"),
    ("a)", 1, "this ')' has no '(' to close"),
    ("()", 0, "empty parentheses"),
    ("( )", 0, "empty parentheses"),
    ("a OR", 2, "expected a search term after 'OR'"),
    ("OR a", 0, "expected a search term before 'OR'"),
    ("a AND", 2, "expected a search term after 'AND'"),
    ("AND a", 0, "expected a search term before 'AND'"),
    ("a OR OR b", 5, "expected a search term after 'OR', found 'OR'"),
    ("a AND OR b", 6, "expected a search term after 'AND', found 'OR'"),
    ("(a OR) b", 3, "expected a search term after 'OR'"),
    ("!(a OR b)", 0, "'!' negates one filter (!level:error), not a group in parentheses"),
    ("has:", 4, "has: expected a key like has:user.email or has:tags[browser]"),
    (
        'has:"user email"',
        4,
        'has: expected a key like has:user.email or has:tags[browser], got "user email"',
    ),
    ("has:!foo", 4, 'has: expected a key like has:user.email or has:tags[browser], got "!foo"'),
    ("has:has", 4, 'has: expected a key like has:user.email or has:tags[browser], got "has"'),
    ("release:[a, b", 8, "this '[' is never closed: end the list with ']'"),
    ("release:[]", 9, "empty list"),
    ("release:[a,, b]", 11, "empty list value"),
    ("release:[a, b,]", 14, "empty list value"),
    ("release:[a b]", 11, "expected ',' or ']' in the list, found 'b'"),
    ("release:[a]b", 11, "expected a space after the list"),
    ("release:[a, (b)]", 12, "unexpected '(' in a list"),
    (
        "tags[]:x",
        0,
        '"tags[]": a tag key has letters, digits and _ . : - only (quote any other: '
        'tags["my key"])',
    ),
    (
        "tags[a/b]:x",
        0,
        '"tags[a/b]": a tag key has letters, digits and _ . : - only (quote any other: '
        'tags["my key"])',
    ),
    ("count():>100", 0, "aggregates like count() can't be used in this search"),
    ("!p95(transaction.duration):>1s", 0, "aggregates like count() can't be used in this search"),
    (
        "timesSeen:99999999999999999999999999999999",
        10,
        "timesSeen: 99999999999999999999999999999999 is too large",
    ),
    ("timesSeen:1000000000000000000000", 10, "timesSeen: 1000000000000000000000 is too large"),
    (
        "issue:PROJ-12345678901234",
        6,
        'issue: expected a short id like PROJECT-1A, got "PROJ-12345678901234"',
    ),
    ("a OR b)", 6, "this ')' has no '(' to close"),
    ("(a OR (b c)", 0, "this '(' is never closed"),
    ("level:error  (is:new OR ", 21, "expected a search term after 'OR'"),
    ("firstSeen:-24h)", 14, "this ')' has no '(' to close"),
    (
        "!has:tags[]",
        5,
        'has: expected a key like has:user.email or has:tags[browser], got "tags[]"',
    ),
    (NESTED, 32, "too many nested parentheses (at most 32)"),
    ("lastSeen:-999999999w", 9, "lastSeen: -999999999w is too far back"),
    (
        "firstSeen:0001-01-01T00:00:00+01:00",
        10,
        'firstSeen: "0001-01-01T00:00:00+01:00" is not a valid date',
    ),
]


@pytest.mark.parametrize(("query", "position", "message"), ERRORS, ids=[e[0] for e in ERRORS])
def test_a_bad_query_says_what_is_wrong_and_where(query: str, position: int, message: str) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse(query, now=NOW)
    assert (caught.value.message, caught.value.position) == (message, position)
    assert 0 <= caught.value.position <= caught.value.end <= len(query)


def test_the_error_table_is_big_enough() -> None:
    assert len(ERRORS) >= 30


def test_a_value_of_the_wrong_type_is_a_type_error_at_the_value() -> None:
    with pytest.raises(SearchTypeError) as caught:
        parse("is:unresolved timesSeen:abc", now=NOW)
    assert caught.value.position == 24
    assert caught.value.end == 27
    assert str(caught.value) == 'timesSeen: expected a number like 10, >10 or 1k, got "abc"'


def test_the_error_can_point_at_the_query() -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse("level:error\ttimesSeen:abc", now=NOW)
    assert caught.value.pointer("level:error\ttimesSeen:abc") == (
        "level:error timesSeen:abc\n                      ^^^"
    )


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(SearchTypeError) as caught:
        parse("timesSeen:" + "x" * 100, now=NOW)
    assert caught.value.message == (
        f'timesSeen: expected a number like 10, >10 or 1k, got "{"x" * 40}…"'
    )


def test_a_query_too_long_is_refused_before_parsing() -> None:
    with pytest.raises(SearchSyntaxError, match="too long"):
        parse("a " * 20_000, now=NOW)
