"""The line syntax shared by stack trace rules and fingerprint rules (Sentry's grammar).

    [ caller:matcher ] |  !key:value  key:"quoted value"  | [ callee:matcher ]   <actions>
    matchers ... -> fingerprint, values, {{ variables }}  title="..."

One rule per line; `#` starts a comment. Errors carry the 1-based line and column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_KEY = re.compile(r"[a-zA-Z0-9_.-]+")
_QUOTED_KEY = re.compile(r'"([a-zA-Z0-9_.:-]+)"')
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_UNQUOTED = re.compile(r"\S+")
_ESCAPE = re.compile(r"\\(.)")


class RuleSyntaxError(ValueError):
    """A rule that does not parse; `line` and `column` are 1-based."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.line = line
        self.column = column
        self.message = message


@dataclass(frozen=True)
class ParsedMatcher:
    key: str  # as written, e.g. "stack.function"
    pattern: str
    negated: bool
    # 0: the frame itself; -1: its caller (`[ m ] |`); +1: its callee (`| [ m ]`)
    offset: int = 0
    column: int = 1  # where it starts, for error messages

    @property
    def text(self) -> str:
        pattern = f'"{self.pattern}"' if not _UNQUOTED.fullmatch(self.pattern) else self.pattern
        inner = f"{'!' if self.negated else ''}{self.key}:{pattern}"
        if self.offset < 0:
            return f"[ {inner} ] |"
        if self.offset > 0:
            return f"| [ {inner} ]"
        return inner


def unescape(text: str) -> str:
    """Undo `\\"` and `\\\\` in a quoted value; other backslashes stay (globs use them)."""
    return _ESCAPE.sub(lambda m: m.group(1) if m.group(1) in '"\\' else m.group(0), text)


class LineScanner:
    """A cursor over one line of rule text."""

    def __init__(self, text: str, line: int) -> None:
        self.text = text
        self.line = line
        self.pos = 0

    def error(self, message: str, pos: int | None = None) -> RuleSyntaxError:
        pos = self.pos if pos is None else pos
        near = self.text[pos : pos + 32]
        suffix = f' near "{near}"' if near else " at the end of the line"
        return RuleSyntaxError(self.line, pos + 1, f"{message}{suffix}")

    def skip_spaces(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def at_end(self) -> bool:
        """True at the end of the line or of its code (a comment starts)."""
        self.skip_spaces()
        return self.pos >= len(self.text) or self.text[self.pos] == "#"

    def at_line_end(self) -> bool:
        self.skip_spaces()
        return self.pos >= len(self.text)

    def peek(self, literal: str) -> bool:
        self.skip_spaces()
        return self.text.startswith(literal, self.pos)

    def take(self, literal: str) -> bool:
        if self.peek(literal):
            self.pos += len(literal)
            return True
        return False

    def expect(self, literal: str, what: str) -> None:
        if not self.take(literal):
            raise self.error(f"expected {what}")

    def match(self, regex: re.Pattern[str]) -> re.Match[str] | None:
        found = regex.match(self.text, self.pos)
        if found:
            self.pos = found.end()
        return found

    def looks_like_matcher(self) -> bool:
        """A `[!]key:` ahead (rather than an action or the `->` arrow)."""
        self.skip_spaces()
        pos = self.pos + (1 if self.text.startswith("!", self.pos) else 0)
        found = _QUOTED_KEY.match(self.text, pos) or _KEY.match(self.text, pos)
        return found is not None and self.text.startswith(":", found.end())

    def read_value(self) -> str:
        """A quoted (with escapes) or unquoted value."""
        if (quoted := self.match(_QUOTED)) is not None:
            return unescape(quoted.group(1))
        if self.text.startswith('"', self.pos):
            raise self.error("unterminated quoted value")
        if (bare := self.match(_UNQUOTED)) is not None:
            return bare.group()
        raise self.error("expected a value")

    def read_frame_matcher(self, offset: int = 0) -> ParsedMatcher:
        self.skip_spaces()
        if not self.looks_like_matcher():
            raise self.error("expected a matcher like key:value")
        start = self.pos
        negated = self.take("!")
        key_match = self.match(_QUOTED_KEY) or self.match(_KEY)
        assert key_match is not None  # looks_like_matcher() checked it
        key = key_match.group(1) if key_match.re is _QUOTED_KEY else key_match.group()
        self.pos += 1  # the colon
        return ParsedMatcher(key.lstrip("!"), self.read_value(), negated, offset, start + 1)

    def read_matchers(self) -> list[ParsedMatcher]:
        """An optional caller matcher, one or more frame matchers, an optional callee one."""
        matchers: list[ParsedMatcher] = []
        if self.take("["):
            matchers.append(self.read_frame_matcher(offset=-1))
            self.expect("]", "']' closing the caller matcher")
            self.expect("|", "'|' after the caller matcher")
        matchers.append(self.read_frame_matcher())
        while self.looks_like_matcher():
            matchers.append(self.read_frame_matcher())
        if self.take("|"):
            self.expect("[", "'[' opening the callee matcher")
            matchers.append(self.read_frame_matcher(offset=1))
            self.expect("]", "']' closing the callee matcher")
        return matchers


def rule_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines that hold a rule."""
    lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            lines.append((number, line))
    return lines
