"""The search language, query by query: each query and its AST (in `dump`'s notation).

Dates resolve against NOW (2026-11-10T12:00:00Z).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from spyglass.search import (
    And,
    DatePrecision,
    DateValue,
    Filter,
    FreeText,
    Key,
    Op,
    Scope,
    SearchSyntaxError,
    ShortIdValue,
    TextValue,
    dump,
    parse,
    render,
    walk,
)

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)

CASES = [
    # Sentry's documentation examples
    (
        'is:resolved user.username:"Jane Doe" server:web-8 example error',
        'and(is = resolved, user.username = "Jane Doe", tag:server = "web-8", '
        'text "example error")',
    ),
    (
        "is:unresolved !user.email:example@customer.com",
        'and(is = unresolved, !user.email = "example@customer.com")',
    ),
    ('browser:"Safari 11*"', 'tag:browser = "Safari 11*"'),
    ('!message:"*Timeout"', '!message = "*Timeout"'),
    ("release:[12.0, 13.0]", 'release in ["12.0", "13.0"]'),
    ("tags[project_id]:tag_value", 'tag:project_id = "tag_value"'),
    ("browser:Chrome OR browser:Opera", 'or(tag:browser = "Chrome", tag:browser = "Opera")'),
    ("event.timestamp:>2023-09-28T00:00:00-07:00", "event.timestamp > 2023-09-28T07:00:00Z"),
    ("transaction.duration:>5s", "transaction.duration > 5000.0ms"),
    ("x AND y OR z", 'or(and(text "x", text "y"), text "z")'),
    ("x AND (y OR z)", 'and(text "x", or(text "y", text "z"))'),
    (
        "is:unresolved issue.priority:[high, medium]",
        "and(is = unresolved, issue.priority in [high, medium])",
    ),
    # The searches of DESIGN.md
    (
        "is:unresolved environment:production level:error",
        'and(is = unresolved, environment = "production", level = error)',
    ),
    ('release:"api@2.0.0"', 'release = "api@2.0.0"'),
    ("firstSeen:-1h", "firstSeen >= 2026-11-10T11:00:00Z (1h)"),
    ("user.count:>=10", "user.count >= 10"),
    ('transaction:"POST /api/checkout"', 'transaction = "POST /api/checkout"'),
    ("error.type:*Database*", 'error.type = "*Database*"'),
    (
        "type:transaction op:process_events status:internal_error",
        'and(event.type = "transaction", transaction.op = "process_events", '
        "transaction.status = internal_error)",
    ),
    # is: (aliases and case are canonicalized; lists are ours)
    ("is:unresolved", "is = unresolved"),
    ("is:resolved", "is = resolved"),
    ("is:ignored", "is = ignored"),
    ("is:archived", "is = ignored"),
    ("is:muted", "is = ignored"),
    ("is:assigned", "is = assigned"),
    ("is:unassigned", "is = unassigned"),
    ("is:for_review", "is = for_review"),
    ("is:new", "is = new"),
    ("is:regressed", "is = regressed"),
    ("is:escalating", "is = escalating"),
    ("is:ongoing", "is = ongoing"),
    ("is:bookmarked", "is = bookmarked"),
    ("is:linked", "is = linked"),
    ("is:unlinked", "is = unlinked"),
    ("is:archived_until_escalating", "is = archived_until_escalating"),
    ("!is:resolved", "!is = resolved"),
    ("is:Unresolved", "is = unresolved"),
    ("is:[unresolved, for_review]", "is in [unresolved, for_review]"),
    # Assignees, bookmarks, subscriptions
    ("assigned:me", "assigned = me"),
    ("assigned:#backend", "assigned = #backend"),
    ("assigned:alice@example.com", 'assigned = user "alice@example.com"'),
    ("assigned:none", "assigned = none"),
    ("assigned:[me, none]", "assigned in [me, none]"),
    ("assigned_to:my_teams", "assigned = my_teams"),
    ("assigned:alice", 'assigned = user "alice"'),
    ("!assigned:me", "!assigned = me"),
    ("assigned_or_suggested:#ops", "assigned_or_suggested = #ops"),
    ("bookmarks:me", "bookmarks = me"),
    ("subscribed:bob@example.com", 'subscribed = user "bob@example.com"'),
    # Dates: -24h within the last 24 hours, +24h more than 24 hours ago; absolute in UTC
    ("firstSeen:-24h", "firstSeen >= 2026-11-09T12:00:00Z (24h)"),
    ("firstSeen:+24h", "firstSeen <= 2026-11-09T12:00:00Z (24h)"),
    ("lastSeen:-1h", "lastSeen >= 2026-11-10T11:00:00Z (1h)"),
    ("age:-7d", "firstSeen >= 2026-11-03T12:00:00Z (7d)"),
    ("firstSeen:+14d", "firstSeen <= 2026-10-27T12:00:00Z (14d)"),
    ("lastSeen:-30m", "lastSeen >= 2026-11-10T11:30:00Z (30m)"),
    ("lastSeen:-2w", "lastSeen >= 2026-10-27T12:00:00Z (2w)"),
    ("firstSeen:24h", "firstSeen >= 2026-11-09T12:00:00Z (24h)"),
    ("first_seen:-1d", "firstSeen >= 2026-11-09T12:00:00Z (1d)"),
    ("firstSeen:2026-11-01", "firstSeen = 2026-11-01T00:00:00Z (day)"),
    ("firstSeen:2026-11-01T10:00:00", "firstSeen = 2026-11-01T10:00:00Z"),
    ("lastSeen:>2026-11-01", "lastSeen > 2026-11-01T00:00:00Z (day)"),
    ("lastSeen:<=2026-11-01T10:00:00Z", "lastSeen <= 2026-11-01T10:00:00Z"),
    ("lastSeen:>=2026-11-01T10:00:00+02:00", "lastSeen >= 2026-11-01T08:00:00Z"),
    ("lastSeen:<2026-11-01T10:00:00.5-0330", "lastSeen < 2026-11-01T13:30:00.500000Z"),
    ("firstSeen:2026-11-01T10:00", "firstSeen = 2026-11-01T10:00:00Z"),
    ("!firstSeen:-24h", "!firstSeen >= 2026-11-09T12:00:00Z (24h)"),
    ("firstSeen:!=2026-11-01", "!firstSeen = 2026-11-01T00:00:00Z (day)"),
    ("timestamp:-1d", "event.timestamp >= 2026-11-09T12:00:00Z (1d)"),
    ('firstSeen:"-24h"', "firstSeen >= 2026-11-09T12:00:00Z (24h)"),
    # Numbers, with k / m / b
    ("timesSeen:>10", "timesSeen > 10"),
    ("times_seen:>100", "timesSeen > 100"),
    ("timesSeen:>1k", "timesSeen > 1000"),
    ("timesSeen:1.5k", "timesSeen = 1500"),
    ("timesSeen:>=2m", "timesSeen >= 2000000"),
    ("timesSeen:<1b", "timesSeen < 1000000000"),
    ("timesSeen:2K", "timesSeen = 2000"),
    ("timesSeen:10", "timesSeen = 10"),
    ("timesSeen:!=10", "!timesSeen = 10"),
    ("!timesSeen:>10", "!timesSeen > 10"),
    ("timesSeen:[1, 2, 3k]", "timesSeen in [1, 2, 3000]"),
    ("timesSeen:-5", "timesSeen = -5"),
    ("timesSeen:1.25", "timesSeen = 1.25"),
    ("http.status_code:500", "http.status_code = 500"),
    ("http.status_code:>=500", "http.status_code >= 500"),
    ("http.status_code:[500, 502]", "http.status_code in [500, 502]"),
    ("user.count:>=5", "user.count >= 5"),
    ("issue.id:123", "issue.id = 123"),
    # Durations, in milliseconds (a bare number is milliseconds)
    ("transaction.duration:>300ms", "transaction.duration > 300.0ms"),
    ("transaction.duration:>1.5s", "transaction.duration > 1500.0ms"),
    ("transaction.duration:<2m", "transaction.duration < 120000.0ms"),
    ("transaction.duration:>=1h", "transaction.duration >= 3600000.0ms"),
    ("transaction.duration:1d", "transaction.duration = 86400000.0ms"),
    ("transaction.duration:>1w", "transaction.duration > 604800000.0ms"),
    ("transaction.duration:500", "transaction.duration = 500.0ms"),
    ("transaction.duration:>2min", "transaction.duration > 120000.0ms"),
    ("transaction.duration:>1hr", "transaction.duration > 3600000.0ms"),
    ("transaction.duration:<=1wk", "transaction.duration <= 604800000.0ms"),
    ("transaction.duration:>2day", "transaction.duration > 172800000.0ms"),
    # Measurements: web vitals are durations, the rest numbers
    ("measurements.lcp:>2.5s", "measurements.lcp > 2500.0ms"),
    ("measurements.lcp:>2500", "measurements.lcp > 2500.0ms"),
    ("measurements.cls:>0.1", "measurements.cls > 0.1"),
    ("measurements.fcp:<=1000ms", "measurements.fcp <= 1000.0ms"),
    ("measurements.frames_slow:>1k", "measurements.frames_slow > 1000"),
    ("measurements.custom:>5", "measurements.custom > 5"),
    # Booleans
    ("error.handled:true", "error.handled = true"),
    ("error.handled:0", "error.handled = false"),
    ("error.unhandled:TRUE", "error.unhandled = true"),
    ("!error.handled:false", "!error.handled = false"),
    ("error.main_thread:1", "error.main_thread = true"),
    # Enums (case-insensitive)
    ("level:error", "level = error"),
    ("level:[error, fatal]", "level in [error, fatal]"),
    ("!level:info", "!level = info"),
    ("level:WARNING", "level = warning"),
    ("issue.priority:high", "issue.priority = high"),
    ("issue.category:performance", "issue.category = performance"),
    ("issue.category:[cron, uptime]", "issue.category in [cron, uptime]"),
    ("transaction.status:ok", "transaction.status = ok"),
    ("release.stage:adopted", "release.stage = adopted"),
    # Short ids
    ("issue:PROJ-123", "issue = PROJ-123"),
    ("issue:[API-1, API-2]", "issue in [API-1, API-2]"),
    ("issue:my-project-1a", "issue = MY-PROJECT-1A"),
    # Text: escapes, wildcards, operators as literal text (Sentry), != as negation
    ('message:"a b \\"c\\""', 'message = "a b \\"c\\""'),
    ("message:a\\*b", 'message = "a\\*b"'),
    ("message:*foo*bar*", 'message = "*foo*bar*"'),
    ("message:a\\\\*", 'message = "a\\\\*"'),
    ("transaction:>foo", 'transaction = ">foo"'),
    ("transaction:=foo", 'transaction = "foo"'),
    ("transaction:!=foo", '!transaction = "foo"'),
    ("!transaction:!=foo", 'transaction = "foo"'),
    ("url:https://example.com/a?b=c", 'url = "https://example.com/a?b=c"'),
    ("http.method:POST", 'http.method = "POST"'),
    ("browser.name:Chrome", 'browser.name = "Chrome"'),
    ('os.name:"Mac OS X"', 'os.name = "Mac OS X"'),
    ("device.family:iPhone", 'device.family = "iPhone"'),
    ("runtime.name:CPython", 'runtime.name = "CPython"'),
    ("user.id:42", 'user.id = "42"'),
    ("user.ip:127.0.0.1", 'user.ip = "127.0.0.1"'),
    ("server_name:web-1", 'server_name = "web-1"'),
    ("sdk.name:sentry.python", 'sdk.name = "sentry.python"'),
    ("trace:abc123", 'trace = "abc123"'),
    ("trace.id:0123456789abcdef0123456789abcdef", 'trace = "0123456789abcdef0123456789abcdef"'),
    ("event.type:error", 'event.type = "error"'),
    ("dist:42", 'dist = "42"'),
    ("location:app.py", 'location = "app.py"'),
    ('stack.filename:"C:\\path\\app.py"', 'stack.filename = "C:\\\\path\\\\app.py"'),
    ("stack.function:handle(request)", 'stack.function = "handle(request)"'),
    ("stack.module:app.views", 'stack.module = "app.views"'),
    ('error.value:"division by zero"', 'error.value = "division by zero"'),
    ("error.mechanism:celery", 'error.mechanism = "celery"'),
    ("platform:python", 'platform = "python"'),
    ("release:latest", 'release = "latest"'),
    ("firstRelease:latest", 'firstRelease = "latest"'),
    ("first-release:1.0", 'firstRelease = "1.0"'),
    ("release.version:>1.2.0", 'release.version > "1.2.0"'),
    ("release.version:1.2.*", 'release.version = "1.2.*"'),
    ("release.package:com.example", 'release.package = "com.example"'),
    ('message:""', 'message = ""'),
    ("message:*", 'message = "*"'),
    ('title:"Some title"', 'title = "Some title"'),
    # Tags: unknown keys, tags[...], keys are case-sensitive
    ("server:web-8", 'tag:server = "web-8"'),
    ("tags[level]:custom", 'tag:level = "custom"'),
    ("tags[foo:bar]:baz", 'tag:foo:bar = "baz"'),
    ("customer:acme", 'tag:customer = "acme"'),
    ("FirstSeen:-24h", 'tag:FirstSeen = "-24h"'),
    ("key:a:b", 'tag:key = "a:b"'),
    ("!key:[a, b]", '!tag:key in ["a", "b"]'),
    # has:
    ("has:user.email", "has user.email"),
    ("!has:user.email", "!has user.email"),
    ("has:tags[browser]", "has tag:browser"),
    ("has:server", "has tag:server"),
    ("has:level", "has level"),
    # Free text: adjacent words are one phrase
    ("example error", 'text "example error"'),
    ('"quoted text"', 'text "quoted text"'),
    ('a "b c" d', 'and(text "a", text "b c", text "d")'),
    ("foo*bar", 'text "foo*bar"'),
    ("foo\\*bar", 'text "foo\\*bar"'),
    ("!foo", 'text "!foo"'),
    ("-24h", 'text "-24h"'),
    (":foo", 'text ":foo"'),
    ("naïve café", 'text "naïve café"'),
    ("TypeError(foo) bar", 'text "TypeError(foo) bar"'),
    ("TypeError(foo bar) baz", 'text "TypeError(foo bar) baz"'),
    ("f(g(x y) z) (a OR b)", 'and(text "f(g(x y) z)", or(text "a", text "b"))'),
    ("undefined (reading x)", 'and(text "undefined", text "reading x")'),
    ("foo(bar", 'text "foo(bar"'),
    ("foo bar is:unresolved baz", 'and(text "foo bar", is = unresolved, text "baz")'),
    # AND, OR (any case), parentheses; AND binds tighter
    ("a OR b OR c", 'or(text "a", text "b", text "c")'),
    ("a or b", 'or(text "a", text "b")'),
    ("a AND b", 'and(text "a", text "b")'),
    ("a and b", 'and(text "a", text "b")'),
    ("(a OR b) (c OR d)", 'and(or(text "a", text "b"), or(text "c", text "d"))'),
    ("((a))", 'text "a"'),
    (
        "is:unresolved (level:error OR level:fatal)",
        "and(is = unresolved, or(level = error, level = fatal))",
    ),
    ("(level:error)", "level = error"),
    ("(message:foo(bar))", 'message = "foo(bar)"'),
    ("a OR (b AND c) d", 'or(text "a", and(text "b", text "c", text "d"))'),
    ("ORacle ANDroid", 'text "ORacle ANDroid"'),
    ("a OR(b)", 'text "a OR(b)"'),
    ("  is:unresolved\tlevel:error", "and(is = unresolved, level = error)"),
    # More mixtures
    ("transaction.duration:5 ms", 'and(transaction.duration = 5.0ms, text "ms")'),
    ("has:foo bar:baz", 'and(has tag:foo, tag:bar = "baz")'),
    (
        "level:error environment:production OR level:fatal",
        'or(and(level = error, environment = "production"), level = fatal)',
    ),
    (
        "!has:release (is:new OR is:regressed) -1h",
        'and(!has release, or(is = new, is = regressed), text "-1h")',
    ),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[query for query, _ in CASES])
def test_a_query_parses_to_its_ast(query: str, expected: str) -> None:
    assert dump(parse(query, now=NOW)) == expected


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[query for query, _ in CASES])
def test_the_canonical_rendering_of_a_query_parses_to_the_same_ast(
    query: str, expected: str
) -> None:
    ast = parse(query, now=NOW)
    assert parse(render(ast), now=NOW) == ast


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("query", ["", "   ", "\t\n"])
def test_the_empty_query_matches_everything(query: str) -> None:
    assert parse(query, now=NOW) == And(())
    assert render(And(())) == ""


def test_canonical_rendering_normalizes_keys_values_and_negation() -> None:
    ast = parse('times_seen:>1.5k age:-7d transaction:!=x level:WARNING "a b" c OR d', now=NOW)
    assert render(ast) == (
        'timesSeen:>1500 firstSeen:-7d !transaction:x level:warning "a b" "c" OR "d"'
    )
    assert render(parse("tags[level]:x tags[a:b]:y server:z has:tags[is]", now=NOW)) == (
        "tags[level]:x tags[a:b]:y server:z has:tags[is]"
    )
    assert render(parse("message:>x lastSeen:>2026-11-01T10:00:00+02:00", now=NOW)) == (
        'message:">x" lastSeen:>2026-11-01T08:00:00Z'
    )


def test_nodes_know_where_they_are_in_the_query() -> None:
    query = 'is:unresolved (level:error OR "disk full") firstSeen:-24h'
    ast = parse(query, now=NOW)
    spans = {dump(node): query[node.start : node.end] for node in walk(ast)}
    assert spans["is = unresolved"] == "is:unresolved"
    assert spans['text "disk full"'] == '"disk full"'
    assert spans['or(level = error, text "disk full")'] == 'level:error OR "disk full"'
    assert spans["firstSeen >= 2026-11-09T12:00:00Z (24h)"] == "firstSeen:-24h"


def test_positions_and_raw_text_take_no_part_in_equality() -> None:
    assert parse("  level:error", now=NOW) == parse("level:error", now=NOW)
    assert parse('message:"a"', now=NOW) == parse("message:a", now=NOW)
    value = parse("message:a\\\\b", now=NOW)
    assert isinstance(value, Filter)
    assert value.value == TextValue(("a\\b",))
    assert isinstance(value.value, TextValue) and value.value.raw == "a\\\\b"


def test_relative_dates_use_the_given_now() -> None:
    later = NOW + timedelta(days=1)
    first = parse("firstSeen:-24h", now=NOW)
    second = parse("firstSeen:-24h", now=later)
    assert isinstance(first, Filter) and isinstance(second, Filter)
    assert isinstance(first.value, DateValue) and isinstance(second.value, DateValue)
    assert second.value.at - first.value.at == timedelta(days=1)
    # any time zone will do for now; values are in UTC
    other = parse("firstSeen:-24h", now=NOW.astimezone(timezone(timedelta(hours=5))))
    assert other == first
    assert isinstance(other, Filter) and isinstance(other.value, DateValue)
    assert other.value.at.tzinfo == UTC


def test_a_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse("firstSeen:-24h", now=datetime(2026, 11, 10))


def test_a_date_covers_its_day_or_five_minutes_either_side() -> None:
    day = DateValue(datetime(2026, 11, 1, tzinfo=UTC), DatePrecision.DAY)
    assert day.covers() == (day.at, datetime(2026, 11, 2, tzinfo=UTC))
    instant = DateValue(datetime(2026, 11, 1, 10, tzinfo=UTC))
    assert instant.covers() == (
        datetime(2026, 11, 1, 9, 55, tzinfo=UTC),
        datetime(2026, 11, 1, 10, 5, tzinfo=UTC),
    )
    last = DateValue(datetime(9999, 12, 31, tzinfo=UTC), DatePrecision.DAY)
    assert last.covers()[1].year == 9999


def test_a_short_id_splits_into_project_and_number() -> None:
    node = parse("issue:my-project-1a", now=NOW)
    assert isinstance(node, Filter) and isinstance(node.value, ShortIdValue)
    assert node.value.project_slug == "MY-PROJECT"
    assert node.value.number == 42  # Crockford base 32, as Issue.short_id writes it


def test_text_values_expose_their_wildcards() -> None:
    node = parse("error.type:*Database* message:a\\*b message:*", now=NOW)
    assert isinstance(node, And)
    values = [child.value for child in node.children if isinstance(child, Filter)]
    assert [(v.parts, v.has_wildcards) for v in values if isinstance(v, TextValue)] == [
        (("", "Database", ""), True),
        (("a*b",), False),
        (("", ""), True),
    ]


def test_free_text_keeps_the_words_as_typed() -> None:
    node = parse("connection  reset by\tpeer", now=NOW)
    assert node == FreeText(TextValue.literal("connection  reset by\tpeer"))


@pytest.mark.parametrize(
    ("query", "scope"),
    [
        ("is:unresolved timesSeen:>10 level:error transaction:x", Scope.ISSUE),
        ("level:error message:x transaction:y has:user.email", Scope.EVENT),
        ("type:transaction op:x status:ok transaction.duration:>1s", Scope.TRANSACTION),
        ("measurements.lcp:>2s server:web-1 has:customer", Scope.TRANSACTION),
    ],
)
def test_keys_of_a_scope_are_accepted_there(query: str, scope: Scope) -> None:
    parse(query, now=NOW, scope=scope)


@pytest.mark.parametrize(
    ("query", "scope", "message", "position"),
    [
        (
            "transaction.duration:>1s",
            Scope.ISSUE,
            "transaction.duration: can't be used in issue search, it applies to transactions",
            0,
        ),
        (
            "level:error is:unresolved",
            Scope.EVENT,
            "is: can't be used in event search, it applies to issues",
            12,
        ),
        (
            "!has:error.type",
            Scope.TRANSACTION,
            "error.type: can't be used in transaction search, it applies to issues and events",
            5,
        ),
        (
            "op:db measurements.fcp:>1s",
            Scope.EVENT,
            "op: can't be used in event search, it applies to transactions",
            0,
        ),
    ],
)
def test_keys_of_another_scope_are_refused(
    query: str, scope: Scope, message: str, position: int
) -> None:
    with pytest.raises(SearchSyntaxError) as caught:
        parse(query, now=NOW, scope=scope)
    assert (caught.value.message, caught.value.position) == (message, position)


def test_the_key_of_a_filter_keeps_how_it_was_written() -> None:
    node = parse("times_seen:>1", now=NOW)
    assert isinstance(node, Filter)
    assert node.key == Key("timesSeen") and node.key.written == "times_seen"
    assert node.op == Op.GT
