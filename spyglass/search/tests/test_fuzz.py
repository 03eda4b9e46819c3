"""Any text at all: parse returns an AST or raises a positioned SearchSyntaxError, nothing
else; and whatever parses, renders to a query that parses to the same AST."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from spyglass.search import MAX_DEPTH, MAX_LENGTH, SearchSyntaxError, dump, parse, render

NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

# Pieces of the language, so random text often gets deep into the grammar.
TOKENS = st.sampled_from(
    [
        "is:",
        "unresolved",
        "has:",
        "!",
        "level:",
        "error",
        "timesSeen:",
        "firstSeen:",
        "transaction.duration:",
        "measurements.lcp:",
        "error.handled:",
        "assigned:",
        "issue:",
        "release.version:",
        "tags[",
        "]",
        "[",
        ",",
        ":",
        '"',
        "\\",
        "*",
        "(",
        ")",
        " ",
        "\t",
        "\n",
        "OR",
        "or",
        "AND",
        ">",
        ">=",
        "<",
        "!=",
        "=",
        "-24h",
        "+7d",
        "1.5k",
        "300ms",
        "2026-11-01",
        "T10:00:00",
        "Z",
        "+02:00",
        "true",
        "me",
        "#team",
        "PROJ-1A",
        "count()",
        "é",
        "\u00a0",
        "\x00",
        "\U0001f600",
    ]
)
grammar_text = st.lists(TOKENS | st.text(max_size=3), max_size=40).map("".join)


def check(query: str) -> None:
    try:
        ast = parse(query, now=NOW)
    except SearchSyntaxError as error:
        assert 0 <= error.position <= error.end <= len(query), (query, error.position)
        assert error.message
        return
    rendered = render(ast)
    if len(rendered) <= MAX_LENGTH:  # quoting can make the canonical text longer
        assert parse(rendered, now=NOW) == ast, (query, rendered, dump(ast))


@FUZZ
@given(st.text())
@example("")
@example("\x00\x1f\u2028")
@example('"\\')
@example("a:\\")
def test_any_text_parses_or_fails_with_a_position(query: str) -> None:
    check(query)


@FUZZ
@given(grammar_text)
def test_text_made_of_the_language_parses_or_fails_with_a_position(query: str) -> None:
    check(query)


@settings(FUZZ, max_examples=60)
@given(grammar_text.filter(bool), st.integers(min_value=1, max_value=2_000))
def test_long_queries_parse_or_fail_with_a_position(piece: str, times: int) -> None:
    query = (piece + " ") * max(times, 10_240 // (len(piece) + 1) + 1)
    assert len(query) >= 10_240
    check(query[: MAX_LENGTH + 10])


@settings(FUZZ, max_examples=100)
@given(
    st.integers(min_value=0, max_value=5_000),
    st.integers(min_value=0, max_value=5_000),
    st.sampled_from(["a", "level:error OR b", "", "(", ")", "a OR (b", '"x"']),
)
def test_deep_nesting_parses_or_fails_with_a_position(opened: int, closed: int, body: str) -> None:
    check("(" * opened + body + ")" * closed)


def test_nesting_up_to_the_limit_parses_and_beyond_it_fails() -> None:
    assert dump(parse("(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH, now=NOW)) == 'text "a"'
    alternating = "x (y OR " * MAX_DEPTH + "z" + ")" * MAX_DEPTH
    assert render(parse(alternating, now=NOW)).count("(") == MAX_DEPTH
    deeper = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    try:
        parse(deeper, now=NOW)
    except SearchSyntaxError as error:
        assert error.position == MAX_DEPTH
        assert error.message == f"too many nested parentheses (at most {MAX_DEPTH})"
    else:
        raise AssertionError("nesting beyond the limit parsed")


def test_the_longest_query_allowed_parses() -> None:
    words = "level:error " * (MAX_LENGTH // 12)
    ast = parse(words[:MAX_LENGTH], now=NOW)
    assert render(ast).startswith("level:error level:error")
    assert parse("x" * MAX_LENGTH, now=NOW) is not None
    assert parse('"' + "a b " * (MAX_LENGTH // 4 - 1) + '"', now=NOW) is not None
