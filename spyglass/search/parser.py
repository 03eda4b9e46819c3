"""The search parser: query text -> AST (`nodes.py`), by hand-written recursive descent.

    query   = or?
    or      = and ("OR" and)*                       AND binds tighter than OR
    and     = term (("AND")? term)*                 juxtaposition is AND
    term    = "(" or ")" | filter | has | quoted | words
    filter  = "!"? key ":" (list | operator? value)
    has     = "!"? "has:" key
    key     = [a-zA-Z0-9_.-]+ | "tags[" [a-zA-Z0-9_.:-]+ "]" | 'tags["' ('\\' . | [^"])+ '"]'
    list    = "[" value ("," value)* "]"
    value   = '"' ('\\' . | [^"])* '"' | unquoted
    words   = bare words up to the next filter, quote, parenthesis or AND/OR: one phrase

`OR` and `AND` are operators in any case (`or`, `And`) when they stand alone, as in Sentry.
An unquoted value or word runs to the next space; a `)` ends it unless it closes a `(` of
the same word, so `stack.function:handle(request)` and `(level:error)` both read as meant.
In free text, a `(` opened in a phrase closes in it, spaces and all (`TypeError(a b)`).
Every error is a `SearchSyntaxError` (or its `SearchTypeError`) with the position of the
offending text; the first error from the left is reported.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from spyglass.search.errors import SearchSyntaxError
from spyglass.search.keys import KeySpec, Scope, is_registered, lookup, spec_for
from spyglass.search.nodes import And, FreeText, Has, Key, Node, TextValue, and_, or_
from spyglass.search.values import ESCAPABLE, RawFilter, RawValue, build_filter, split_wildcards

MAX_DEPTH = 32  # nested parentheses
MAX_LENGTH = 32_768  # characters

_KEY = re.compile(r"[a-zA-Z0-9_.-]+")
_TAG_KEY = re.compile(r"tags\[([^\]\s]*)\]")
# Any tag key, quoted (a space, quote, bracket…): `tags["my key"]`, `\"` and `\\` escaped.
_QUOTED_TAG_KEY = re.compile(r'tags\["((?:[^"\\]|\\.)+)"\]', re.DOTALL)
_UNESCAPE = re.compile(r"\\(.)", re.DOTALL)
_TAG_NAME = re.compile(r"[a-zA-Z0-9_.:-]+")
_FILTER_START = re.compile(
    r'!?(?:tags\[[^\]\s]*\]|tags\["(?:[^"\\]|\\.)+"\]|[a-zA-Z0-9_.-]+):', re.DOTALL
)
_AGGREGATE = re.compile(r"!?[a-zA-Z0-9_]+\([^()\s]*\):")
_OPERATORS = (">=", "<=", "!=", ">", "<", "=")
_SCOPE_NAMES = {Scope.ISSUE: "issue", Scope.EVENT: "event", Scope.TRANSACTION: "transaction"}


def parse(query: str, *, now: datetime, scope: Scope | None = None) -> Node:
    """Parse a search query into its AST. `now` (aware) resolves relative dates; with a
    `scope`, keys that don't apply there are refused. The empty query is `And(())`."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return _Parser(query, now.astimezone(UTC), scope).parse_query()


def tag_key_name(written: str) -> str | None:
    """The tag key ``tags[name]`` or ``tags["name"]`` (escapes undone) names, else None."""
    quoted = _QUOTED_TAG_KEY.fullmatch(written)
    if quoted is not None:
        return _UNESCAPE.sub(r"\1", quoted.group(1))
    plain = _TAG_KEY.fullmatch(written)
    return plain.group(1) if plain is not None else None


def _quote(text: str) -> str:
    return text if len(text) <= 40 else text[:40] + "…"


class _Parser:
    def __init__(self, text: str, now: datetime, scope: Scope | None) -> None:
        self.text = text
        self.n = len(text)
        self.pos = 0
        self.now = now
        self.scope = scope

    def error(self, message: str, position: int, end: int | None = None) -> SearchSyntaxError:
        return SearchSyntaxError(message, position, end)

    # --- lexical helpers ---

    def skip_spaces(self) -> None:
        while self.pos < self.n and self.text[self.pos].isspace():
            self.pos += 1

    def ends_value(self, pos: int) -> bool:
        """Whether a value, word or operator may end at `pos`: a space, `)` or the end."""
        return pos >= self.n or self.text[pos].isspace() or self.text[pos] == ")"

    def boolean_at(self, pos: int) -> str | None:
        """`OR` or `AND` (any case, as Sentry) standing alone at `pos`, as written."""
        for word in ("OR", "AND"):
            end = pos + len(word)
            if self.text[pos:end].upper() == word and self.ends_value(end):
                return self.text[pos:end]
        return None

    def scan_word(self, pos: int, *, quotes_allowed: bool, depth: int = 0) -> tuple[int, int]:
        """The end of an unquoted word or value starting at `pos`, and how many of the
        parentheses it opened (beyond `depth` already open) are still open there."""
        text, n = self.text, self.n
        while pos < n:
            char = text[pos]
            if char.isspace():
                break
            if char == "\\" and pos + 1 < n and text[pos + 1] in ESCAPABLE:
                pos += 2
                continue
            if char == '"' and not quotes_allowed:
                raise self.error(
                    'a quote inside a value: put the whole value in quotes, or escape it as \\"',
                    pos,
                    pos + 1,
                )
            if char == "(":
                depth += 1
            elif char == ")":
                if depth == 0:
                    break
                depth -= 1
            pos += 1
        return pos, depth

    def scan_quoted(self, pos: int) -> int:
        """The position after the closing quote of the string opening at `pos`."""
        text, n = self.text, self.n
        i = pos + 1
        while i < n:
            char = text[i]
            if char == "\\" and i + 1 < n and text[i + 1] in ESCAPABLE:
                i += 2
                continue
            if char == '"':
                return i + 1
            i += 1
        raise self.error("this quote is never closed", pos, pos + 1)

    def expect_end_of_value(self, pos: int, what: str) -> None:
        if not self.ends_value(pos):
            raise self.error(f"expected a space after {what}", pos, pos + 1)

    # --- grammar ---

    def parse_query(self) -> Node:
        if self.n > MAX_LENGTH:
            raise self.error(f"the search is too long (at most {MAX_LENGTH} characters)", 0)
        self.skip_spaces()
        if self.pos >= self.n:
            return And((), 0, 0)
        node = self.parse_or(0)
        self.skip_spaces()
        if self.pos < self.n:  # parse_or stops at the end or at a `)`
            raise self.error("this ')' has no '(' to close", self.pos, self.pos + 1)
        return node

    def parse_or(self, depth: int) -> Node:
        children = [self.parse_and(depth)]
        while True:
            self.skip_spaces()
            word = self.boolean_at(self.pos) if self.pos < self.n else None
            if word is None or word.upper() != "OR":
                return or_(*children)
            start = self.pos
            self.pos += len(word)
            self.expect_term_after(word, start)
            children.append(self.parse_and(depth))

    def parse_and(self, depth: int) -> Node:
        children: list[Node] = []
        while True:
            self.skip_spaces()
            if self.pos >= self.n or self.text[self.pos] == ")":
                break
            word = self.boolean_at(self.pos)
            if word is not None and not children:
                raise self.error(
                    f"expected a search term before '{word}'", self.pos, self.pos + len(word)
                )
            if word is not None and word.upper() == "OR":
                break
            if word is not None:
                start = self.pos
                self.pos += len(word)
                self.expect_term_after(word, start)
                continue
            children.append(self.parse_term(depth))
        if not children:
            raise self.error("expected a search term", self.pos)
        return and_(*children)

    def expect_term_after(self, word: str, start: int) -> None:
        self.skip_spaces()
        end = start + len(word)
        if self.pos >= self.n or self.text[self.pos] == ")":
            raise self.error(f"expected a search term after '{word}'", start, end)
        other = self.boolean_at(self.pos)
        if other is not None:
            raise self.error(
                f"expected a search term after '{word}', found '{other}'",
                self.pos,
                self.pos + len(other),
            )

    def parse_term(self, depth: int) -> Node:
        char = self.text[self.pos]
        if char == "(":
            return self.parse_group(depth)
        if char == '"':
            return self.parse_quoted_text()
        if self.text.startswith("!(", self.pos):
            raise self.error(
                "'!' negates one filter (!level:error), not a group in parentheses",
                self.pos,
                self.pos + 2,
            )
        node = self.parse_filter()
        return node if node is not None else self.parse_words()

    def parse_group(self, depth: int) -> Node:
        start = self.pos
        if depth >= MAX_DEPTH:
            raise self.error(f"too many nested parentheses (at most {MAX_DEPTH})", start, start + 1)
        self.pos += 1
        self.skip_spaces()
        if self.pos < self.n and self.text[self.pos] == ")":
            raise self.error("empty parentheses", start, self.pos + 1)
        if self.pos >= self.n:
            raise self.error("this '(' is never closed", start, start + 1)
        node = self.parse_or(depth + 1)
        self.skip_spaces()
        if self.pos >= self.n:
            raise self.error("this '(' is never closed", start, start + 1)
        self.pos += 1  # the `)` parse_or stopped at
        return node

    def parse_quoted_text(self) -> Node:
        start = self.pos
        end = self.scan_quoted(start)
        self.expect_end_of_value(end, "the closing quote")
        source = self.text[start + 1 : end - 1]
        if not source:
            raise self.error("empty quotes: nothing to search for", start, end)
        self.pos = end
        return FreeText(TextValue(split_wildcards(source), source), start, end)

    def parse_words(self) -> Node:
        """Bare words up to the next filter, quote, parenthesis or AND/OR: one phrase. A
        parenthesis opened in the phrase closes in it: `TypeError(a b)` is one phrase."""
        start = self.pos
        end, depth = self.scan_word(start, quotes_allowed=True)
        while True:
            pos = end
            while pos < self.n and self.text[pos].isspace():
                pos += 1
            if pos >= self.n:
                break
            if depth == 0 and (
                self.text[pos] in '()"'
                or self.text.startswith("!(", pos)
                or self.boolean_at(pos) is not None
                or _FILTER_START.match(self.text, pos)
                or _AGGREGATE.match(self.text, pos)
            ):
                break
            end, depth = self.scan_word(pos, quotes_allowed=True, depth=depth)
        self.pos = end
        source = self.text[start:end]
        return FreeText(TextValue(split_wildcards(source), source), start, end)

    def parse_filter(self) -> Node | None:
        start = pos = self.pos
        text = self.text
        negated = text[pos] == "!"
        if negated:
            pos += 1
        quoted = _QUOTED_TAG_KEY.match(text, pos)
        tag_match = _TAG_KEY.match(text, pos)
        if quoted is not None and text.startswith(":", quoted.end()):
            name, tag, key_end = _UNESCAPE.sub(r"\1", quoted.group(1)), True, quoted.end()
        elif tag_match is not None and text.startswith(":", tag_match.end()):
            name, tag, key_end = tag_match.group(1), True, tag_match.end()
            if not _TAG_NAME.fullmatch(name):
                raise self.error(
                    f'"{_quote(tag_match.group())}": a tag key has letters, digits '
                    'and _ . : - only (quote any other: tags["my key"])',
                    pos,
                    key_end,
                )
        else:
            key_match = _KEY.match(text, pos)
            if key_match is None or not text.startswith(":", key_match.end()):
                aggregate = _AGGREGATE.match(text, start)
                if aggregate is not None:
                    raise self.error(
                        "aggregates like count() can't be used in this search",
                        start,
                        aggregate.end() - 1,
                    )
                return None
            name, tag, key_end = key_match.group(), False, key_match.end()
        self.pos = key_end + 1
        if name == "has" and not tag:
            return self.parse_has(start, negated)
        raw = RawFilter(name, tag, negated, "", start=start, value_start=key_end + 1)
        self.parse_value(raw, key_end + 1)
        spec = spec_for(name, tag=True) if tag else (lookup(name) or spec_for(name, tag=True))
        self.check_scope(spec, name, pos, key_end)
        return build_filter(raw, spec, self.now)

    def check_scope(self, spec: KeySpec, written: str, start: int, end: int) -> None:
        if self.scope is None or self.scope & spec.scopes:
            return
        here = _SCOPE_NAMES.get(self.scope, "this")
        where = " and ".join(
            f"{name}s" for scope, name in _SCOPE_NAMES.items() if scope & spec.scopes
        )
        raise self.error(
            f"{written}: can't be used in {here} search, it applies to {where}", start, end
        )

    def parse_value(self, raw: RawFilter, pos: int) -> None:
        text = self.text
        if pos < self.n and text[pos] == "[":
            self.parse_list(raw, pos)
            return
        op = next((op for op in _OPERATORS if text.startswith(op, pos)), "")
        raw.op = op
        value_start = pos + len(op)
        if value_start < self.n and text[value_start] == '"':
            end = self.scan_quoted(value_start)
            self.expect_end_of_value(end, "the closing quote")
            raw.values.append(RawValue(text[value_start + 1 : end - 1], value_start, end))
        else:
            end, _ = self.scan_word(value_start, quotes_allowed=False)
            if end == value_start:
                written = text[raw.start : value_start]
                hint = (
                    ""
                    if op or raw.tag or is_registered(raw.key)
                    else " (to search for this text, put it in quotes)"
                )
                raise self.error(f'expected a value after "{_quote(written)}"{hint}', end)
            raw.values.append(RawValue(text[value_start:end], value_start, end))
        raw.end = self.pos = end

    def parse_list(self, raw: RawFilter, start: int) -> None:
        text = self.text
        raw.is_list = True
        pos = start + 1
        while True:
            while pos < self.n and text[pos].isspace():
                pos += 1
            if pos >= self.n:
                raise self.error(
                    "this '[' is never closed: end the list with ']'", start, start + 1
                )
            char = text[pos]
            if char in ",]":
                message = "empty list" if char == "]" and not raw.values else "empty list value"
                raise self.error(message, pos, pos + 1)
            if char == '"':
                end = self.scan_quoted(pos)
                raw.values.append(RawValue(text[pos + 1 : end - 1], pos, end))
            else:
                end = pos
                while end < self.n and not text[end].isspace() and text[end] not in ',]()"[':
                    end += 1
                if end == pos:
                    raise self.error(f"unexpected '{text[pos]}' in a list", pos, pos + 1)
                raw.values.append(RawValue(text[pos:end], pos, end))
            pos = end
            while pos < self.n and text[pos].isspace():
                pos += 1
            if pos < self.n and text[pos] == "]":
                break
            if pos >= self.n:
                raise self.error(
                    "this '[' is never closed: end the list with ']'", start, start + 1
                )
            if text[pos] != ",":
                raise self.error(
                    f"expected ',' or ']' in the list, found '{text[pos]}'", pos, pos + 1
                )
            pos += 1
        self.expect_end_of_value(pos + 1, "the list")
        raw.end = self.pos = pos + 1

    def parse_has(self, start: int, negated: bool) -> Node:
        text = self.text
        pos = self.pos
        quoted = _QUOTED_TAG_KEY.match(text, pos)
        tag_match = _TAG_KEY.match(text, pos)
        key_match = _KEY.match(text, pos)
        if quoted is not None:
            name, tag, end = _UNESCAPE.sub(r"\1", quoted.group(1)), True, quoted.end()
        elif tag_match is not None and _TAG_NAME.fullmatch(tag_match.group(1)):
            name, tag, end = tag_match.group(1), True, tag_match.end()
        elif key_match is not None:
            name, tag, end = key_match.group(), False, key_match.end()
        else:
            name, tag, end = "", False, pos
        word_end, _ = self.scan_word(pos, quotes_allowed=True)
        if text.startswith('"', pos):
            word_end = max(word_end, text.find('"', pos + 1) + 1)
        if not name or not self.ends_value(end) or (not tag and name in ("has", "is")):
            got = text[pos:word_end]
            message = "has: expected a key like has:user.email or has:tags[browser]"
            shown = _quote(got) if got.startswith('"') else f'"{_quote(got)}"'
            raise self.error(message + (f", got {shown}" if got else ""), pos, word_end)
        spec = spec_for(name, tag=True) if tag else (lookup(name) or spec_for(name, tag=True))
        self.check_scope(spec, name, pos, end)
        written = text[pos:end]
        self.pos = end
        return Has(Key(spec.name, spec.tag, written), negated, start, end)
