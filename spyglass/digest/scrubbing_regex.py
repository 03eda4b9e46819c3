"""Regular expressions for data scrubbing, with Relay's (Rust ``regex`` crate) semantics.

Relay's rules are Rust regexes: custom ``pattern`` rules and ``redact_pair`` key patterns are
written in that dialect by users, and the built-in rules (``regexes.rs``) use it too. Python's
``re`` differs in small ways that change results, so user patterns are translated here:

* ``$`` without the ``m`` flag is the end of the text in Rust, not "before a final newline";
* ``\\s`` is Unicode ``White_Space`` in Rust (Python adds the control characters 0x1c-0x1f);
* inline flags may appear anywhere in Rust and apply to the rest of the group;
* verbose mode (``x``) also ignores whitespace inside character classes;
* POSIX classes (``[[:alpha:]]``) and ``\\z`` exist only in Rust;
* look-around and back-references exist only in Python, and are refused like Relay does.

What cannot be translated faithfully (Unicode property classes ``\\p{..}``, class set
operations ``&&``/``--``/``~~``, the ``U``/``R``/``-u`` flags) raises :class:`RegexError` at
compile time, so a configuration never silently does less than Relay would.

Rust's match iterator also differs: an empty match right where the previous match ended is
skipped, so ``.*`` matches ``"abc"`` once, where Python's ``finditer`` yields a second, empty,
match. :func:`rust_finditer` iterates the Rust way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

__all__ = [
    "RegexError",
    "compile_rust",
    "rust_finditer",
    "translate_rust",
]

# Relay compiles user patterns with a size limit (COMPILED_PATTERN_MAX_SIZE); this is a cheap,
# conservative stand-in that refuses absurdly long patterns before Python tries them.
MAX_PATTERN_LENGTH = 16_384

# Unicode White_Space, which is what Rust's \s means.
WHITE_SPACE = (
    "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
)

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\x0b\\x0c\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}

_SIMPLE_ESCAPES = {
    "a": "\\x07",
    "f": "\\x0c",
    "t": "\\t",
    "n": "\\n",
    "r": "\\r",
    "v": "\\x0b",
}
_CLASS_ESCAPES = {
    "d": "\\d",
    "D": "\\D",
    "w": "\\w",
    "W": "\\W",
}
_FLAG_CHARS = set("imsxuUR")


class RegexError(ValueError):
    """A pattern Relay would refuse, or one we cannot run with Relay's semantics."""


class _Flags:
    __slots__ = ("dotall", "icase", "multiline", "verbose")

    def __init__(self, icase: bool, multiline: bool, dotall: bool, verbose: bool) -> None:
        self.icase = icase
        self.multiline = multiline
        self.dotall = dotall
        self.verbose = verbose

    def copy(self) -> _Flags:
        return _Flags(self.icase, self.multiline, self.dotall, self.verbose)


class _Translator:
    """A recursive-descent reader of the Rust syntax that writes the Python equivalent."""

    def __init__(self, pattern: str, icase: bool) -> None:
        self.src = pattern
        self.pos = 0
        self.flags = _Flags(icase, False, False, False)
        self.groups = 0

    def error(self, message: str) -> RegexError:
        return RegexError(f"{message} at position {self.pos} in regex {self.src!r}")

    def peek(self) -> str:
        return self.src[self.pos] if self.pos < len(self.src) else ""

    def translate(self) -> str:
        out = self.alternation(top=True)
        if self.pos < len(self.src):
            raise self.error("unopened group ')'")
        return out

    def skip_verbose(self) -> None:
        if not self.flags.verbose:
            return
        src = self.src
        while self.pos < len(src):
            ch = src[self.pos]
            if ch.isspace():
                self.pos += 1
            elif ch == "#":
                while self.pos < len(src) and src[self.pos] != "\n":
                    self.pos += 1
            else:
                break

    def alternation(self, top: bool) -> str:
        """Reads up to the closing ``)`` of the current group (not consumed)."""
        branches: list[str] = []
        parts: list[str] = []
        # Inline flags like ``(?i)`` apply to the rest of the group, following branches
        # included: each becomes a scoped group, closed at ``|`` and reopened after it.
        openers: list[str] = []
        saved_flags = self.flags.copy()
        while True:
            self.skip_verbose()
            ch = self.peek()
            if ch == "" or ch == ")":
                if ch == "" and not top:
                    raise self.error("unclosed group")
                break
            if ch == "|":
                self.pos += 1
                parts.append(")" * len(openers))
                branches.append("".join(parts))
                parts = list(openers)
                continue
            if ch == "(" and self.src.startswith("(?", self.pos) and self._is_flag_only_group():
                opener = self.flag_group()
                if opener:
                    parts.append(opener)
                    openers.append(opener)
                continue
            parts.append(self.repeated_atom())
        parts.append(")" * len(openers))
        branches.append("".join(parts))
        if not top:
            # flags set inside a group end with it
            self.flags = saved_flags
        return "|".join(branches)

    def _is_flag_only_group(self) -> bool:
        end = self.src.find(")", self.pos)
        if end < 0:
            return False
        body = self.src[self.pos + 2 : end]
        return bool(body) and all(c in _FLAG_CHARS or c == "-" for c in body)

    def flag_group(self) -> str:
        end = self.src.index(")", self.pos)
        body = self.src[self.pos + 2 : end]
        self.pos = end + 1
        return self.apply_flags(body)

    def apply_flags(self, body: str) -> str:
        negate = False
        on: list[str] = []
        off: list[str] = []
        if body.count("-") > 1 or body.endswith("-"):
            raise self.error("invalid flag group")
        for c in body:
            if c == "-":
                negate = True
                continue
            if c in "UR":
                raise self.error(f"the regex flag {c!r} is not supported")
            if c == "u":
                if negate:
                    raise self.error("disabling Unicode mode (-u) is not supported")
                continue
            if c == "i":
                (off if negate else on).append("i")
                self.flags.icase = not negate
            elif c == "m":
                self.flags.multiline = not negate
            elif c == "s":
                self.flags.dotall = not negate
            elif c == "x":
                self.flags.verbose = not negate
        if not on and not off:
            return ""
        return "(?" + "".join(on) + ("-" + "".join(off) if off else "") + ":"

    def repeated_atom(self) -> str:
        atom = self.atom()
        while True:
            self.skip_verbose()
            ch = self.peek()
            if ch in ("*", "+", "?"):
                self.pos += 1
                quant = ch
            elif ch == "{":
                quant = self.counted_repetition()
            else:
                return atom
            if not atom:
                raise self.error("repetition operator missing expression")
            self.skip_verbose()
            if self.peek() == "?":
                self.pos += 1
                quant += "?"
            elif self.peek() == "+":
                raise self.error("possessive repetition is not supported")
            atom = f"(?:{atom}){quant}"

    def counted_repetition(self) -> str:
        match = re.compile(r"\{\s*(\d+)\s*(,\s*(\d*)\s*)?\}").match(self.src, self.pos)
        if match is None:
            raise self.error("invalid repetition")
        low = int(match.group(1))
        high = match.group(3)
        self.pos = match.end()
        if match.group(2) is None:
            return f"{{{low}}}"
        if high == "":
            return f"{{{low},}}"
        if int(high) < low:
            raise self.error("invalid repetition range")
        return f"{{{low},{int(high)}}}"

    def atom(self) -> str:
        ch = self.peek()
        if ch == "(":
            return self.group()
        if ch == "[":
            return self.char_class()
        if ch == "\\":
            return self.escape(in_class=False)
        self.pos += 1
        if ch == ".":
            return "(?s:.)" if self.flags.dotall else "[^\\n]"
        if ch == "^":
            return "(?m:^)" if self.flags.multiline else "\\A"
        if ch == "$":
            return "(?m:$)" if self.flags.multiline else "\\Z"
        if ch in "*+?{":
            raise self.error("repetition operator missing expression")
        return self.literal(ch)

    def literal(self, ch: str) -> str:
        return re.escape(ch)

    def group(self) -> str:
        src = self.src
        self.pos += 1  # (
        prefix = "(?:"
        if src.startswith("?", self.pos):
            if src.startswith("?P<", self.pos) or (
                src.startswith("?<", self.pos) and not src.startswith(("?<=", "?<!"), self.pos)
            ):
                start = self.pos + (3 if src[self.pos + 1] == "P" else 2)
                end = src.find(">", start)
                name = src[start:end] if end > 0 else ""
                if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\[\]]*", name):
                    raise self.error("invalid capture group name")
                self.pos = end + 1
                self.groups += 1
                prefix = f"(?P<{name.replace('.', '_').replace('[', '_').replace(']', '_')}>"
            elif src.startswith(("?=", "?!", "?<=", "?<!"), self.pos):
                raise self.error("look-around is not supported")
            else:
                colon = src.find(":", self.pos)
                body = src[self.pos + 1 : colon] if colon > 0 else ""
                if colon < 0 or not all(c in _FLAG_CHARS or c == "-" for c in body):
                    raise self.error("unrecognized group syntax")
                self.pos = colon + 1
                saved = self.flags.copy()
                opener = self.apply_flags(body) if body else ""
                inner = self.alternation(top=False)
                self.expect_close()
                self.flags = saved
                return f"(?:{opener}{inner}{')' if opener else ''})"
        else:
            self.groups += 1
            prefix = "("
        inner = self.alternation(top=False)
        self.expect_close()
        return f"{prefix}{inner})"

    def expect_close(self) -> None:
        if self.peek() != ")":
            raise self.error("unclosed group")
        self.pos += 1

    def escape(self, in_class: bool) -> str:
        src = self.src
        self.pos += 1
        if self.pos >= len(src):
            raise self.error("incomplete escape sequence")
        ch = src[self.pos]
        self.pos += 1
        if ch in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[ch]
        if ch in _CLASS_ESCAPES:
            return _CLASS_ESCAPES[ch]
        if ch == "s":
            return f"[{WHITE_SPACE}]" if not in_class else WHITE_SPACE
        if ch == "S":
            if in_class:
                raise self.error("\\S inside a character class is not supported")
            return f"[^{WHITE_SPACE}]"
        if ch == "x":
            return self.hex_escape(2)
        if ch == "u":
            return self.hex_escape(4)
        if ch == "U":
            return self.hex_escape(8)
        if not in_class:
            if ch == "b":
                if self.peek() == "{":
                    raise self.error("word boundary assertions \\b{...} are not supported")
                return "\\b"
            if ch == "B":
                return "\\B"
            if ch == "A":
                return "\\A"
            if ch == "z":
                return "\\Z"
        if ch in "pP":
            raise self.error("Unicode property classes (\\p) are not supported")
        if ch.isascii() and (ch.isalnum() or ch in "<>"):
            raise self.error(f"unrecognized escape sequence \\{ch}")
        return re.escape(ch)

    def hex_escape(self, digits: int) -> str:
        src = self.src
        if self.peek() == "{":
            end = src.find("}", self.pos)
            text = src[self.pos + 1 : end] if end > 0 else ""
            self.pos = end + 1 if end > 0 else len(src)
        else:
            text = src[self.pos : self.pos + digits]
            self.pos += len(text)
            if len(text) != digits:
                raise self.error("invalid hexadecimal escape")
        if not text or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise self.error("invalid hexadecimal escape")
        code = int(text, 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise self.error("invalid Unicode scalar value")
        return re.escape(chr(code))

    def char_class(self) -> str:
        body, negated = self.class_body()
        if not body:
            # ``[^\s\S]``-like empty sets can't be written in Python: match nothing.
            return "(?!)" if not negated else "(?s:.)"
        return f"[{'^' if negated else ''}{body}]"

    def class_body(self) -> tuple[str, bool]:
        src = self.src
        self.pos += 1  # [
        negated = False
        if self.peek() == "^":
            negated = True
            self.pos += 1
        items: list[str] = []
        first = True
        while True:
            if self.flags.verbose:
                while self.pos < len(src) and src[self.pos].isspace():
                    self.pos += 1
            if self.pos >= len(src):
                raise self.error("unclosed character class")
            ch = src[self.pos]
            if ch == "]" and not first:
                self.pos += 1
                break
            first = False
            if src.startswith(("&&", "--", "~~"), self.pos):
                raise self.error("character class set operations are not supported")
            if src.startswith("[:", self.pos):
                end = src.find(":]", self.pos + 2)
                name = src[self.pos + 2 : end] if end > 0 else ""
                negate_posix = name.startswith("^")
                if negate_posix:
                    name = name[1:]
                if name in _POSIX_CLASSES:
                    if negate_posix:
                        raise self.error("negated POSIX classes are not supported")
                    items.append(_POSIX_CLASSES[name])
                    self.pos = end + 2
                    continue
            if ch == "[":
                inner, inner_negated = self.class_body()
                if inner_negated:
                    raise self.error("negated nested character classes are not supported")
                items.append(inner)
                continue
            item = self.class_atom()
            # a range?
            save = self.pos
            if self.peek() == "-" and self.pos + 1 < len(src) and src[self.pos + 1] != "]":
                self.pos += 1
                if self.peek() == "[":
                    self.pos = save
                else:
                    high = self.class_atom()
                    items.append(f"{item}-{high}")
                    continue
            items.append(item)
        return "".join(items), negated

    def class_atom(self) -> str:
        ch = self.peek()
        if ch == "\\":
            esc = self.escape(in_class=True)
            return esc
        self.pos += 1
        if ch in "\\]^-[":
            return "\\" + ch
        return ch


def translate_rust(pattern: str, *, case_insensitive: bool = False) -> str:
    """Translates a Rust regex into an equivalent Python ``re`` pattern (or raises)."""
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise RegexError(f"regex is too long ({len(pattern)} characters)")
    translated = _Translator(pattern, case_insensitive).translate()
    if case_insensitive:
        translated = f"(?i:{translated})"
    return translated


def compile_rust(pattern: str, *, case_insensitive: bool = False) -> re.Pattern[str]:
    python = translate_rust(pattern, case_insensitive=case_insensitive)
    try:
        return re.compile(python)
    except (re.error, RecursionError, OverflowError) as exc:
        raise RegexError(f"invalid regex {pattern!r}: {exc}") from None


def rust_finditer(regex: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Matches in Rust's iteration order: no empty match where the previous one ended."""
    pos = 0
    last_end = -1
    length = len(text)
    search = regex.search
    while pos <= length:
        match = search(text, pos)
        if match is None:
            return
        start, end = match.span()
        if start == end:
            # Rust never retries a position after an empty match; it moves one character on.
            pos = end + 1
            if end == last_end:
                continue
        else:
            pos = end
        last_end = end
        yield match
