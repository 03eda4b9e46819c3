"""PII selectors (``$string``, ``extra.**``, ``$http.headers.x-token && !$frame.vars.*``...).

The grammar and the matching follow Relay's ``selector.pest`` / ``selector.rs``. A selector is
matched against the *path* of the value being scrubbed: the chain of keys, indices and value
types from the event root, and the PII flag of the value (``True``: default selectors such as
``$string`` apply; ``Maybe``: only specific paths apply; ``False``: never scrubbed).

Paths are matched from the innermost item outwards, so ``password`` matches a key ``password``
at any depth, and ``extra.foo`` matches ``extra.foo`` but also ``x.extra.foo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

__all__ = [
    "VALUE_TYPES",
    "And",
    "Not",
    "Or",
    "Path",
    "Selector",
    "SelectorError",
    "parse_selector",
    "selector_sort_key",
]

# Relay's ValueType, in declaration order (the order matters: it sorts applications).
_TYPE_ORDER = (
    "string",
    "binary",
    "number",
    "boolean",
    "datetime",
    "array",
    "object",
    "event",
    "attachments",
    "replay",
    "exception",
    "stacktrace",
    "frame",
    "request",
    "user",
    "logentry",
    "message",
    "thread",
    "breadcrumb",
    "ourlog",
    "tracemetric",
    "span",
    "clientsdkinfo",
    "minidump",
    "heapmemory",
    "stackmemory",
)
VALUE_TYPES: dict[str, int] = {name: 1 << i for i, name in enumerate(_TYPE_ORDER)}
_TYPE_NAMES = {
    "string": "string",
    "binary": "binary",
    "number": "number",
    "boolean": "boolean",
    "bool": "boolean",
    "datetime": "datetime",
    "array": "array",
    "list": "array",
    "object": "object",
    "event": "event",
    "attachments": "attachments",
    "replay": "replay",
    "error": "exception",
    "exception": "exception",
    "stack": "stacktrace",
    "stacktrace": "stacktrace",
    "frame": "frame",
    "http": "request",
    "request": "request",
    "user": "user",
    "logentry": "logentry",
    "message": "message",
    "thread": "thread",
    "breadcrumb": "breadcrumb",
    "log": "ourlog",
    "trace_metric": "tracemetric",
    "span": "span",
    "sdk": "clientsdkinfo",
    "minidump": "minidump",
    "heap_memory": "heapmemory",
    "stack_memory": "stackmemory",
}
# Basic types never make a Maybe-PII path specific.
BASIC_TYPES = frozenset(
    VALUE_TYPES[t] for t in ("string", "binary", "number", "boolean", "datetime", "array", "object")
)

# Path items: (kind, payload). Kinds are ordered like Relay's SelectorPathItem.
TYPE, INDEX, KEY, WILDCARD, DEEP = 0, 1, 2, 3, 4
Item = tuple[int, object]


class SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class Path:
    items: tuple[Item, ...]


@dataclass(frozen=True)
class And:
    parts: tuple[Selector, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Selector, ...]


@dataclass(frozen=True)
class Not:
    inner: Selector


Selector = Union[Path, And, Or, Not]  # noqa: UP007 (a runtime alias)


def _item_sort_key(item: Item) -> tuple[int, object]:
    kind, payload = item
    if kind == TYPE:
        assert isinstance(payload, int)
        return (kind, payload.bit_length())
    if kind == KEY:
        assert isinstance(payload, str)
        return (kind, payload.encode("utf-8"))
    return (kind, payload if payload is not None else 0)


def selector_sort_key(selector: Selector) -> tuple[object, ...]:
    """Relay keeps applications in a BTreeMap: this is the derived order of SelectorSpec."""
    if isinstance(selector, And):
        return (0, tuple(selector_sort_key(p) for p in selector.parts))
    if isinstance(selector, Or):
        return (1, tuple(selector_sort_key(p) for p in selector.parts))
    if isinstance(selector, Not):
        return (2, selector_sort_key(selector.inner))
    return (3, tuple(_item_sort_key(i) for i in selector.items))


_LEGACY = {
    "freeform": "string",
    "email": "string",
    "sensitive": "string",
    "text": "string",
    "databag": "object",
    "container": "object",
}


def parse_selector(text: str, *, legacy: bool = True) -> Selector:
    """Parses a selector like Relay's ``SelectorSpec::from_str`` (``legacy``) or
    ``parse_non_legacy``; raises :class:`SelectorError` with a readable message."""
    if legacy and text in _LEGACY:
        return Path(((TYPE, VALUE_TYPES[_LEGACY[text]]),))
    parser = _Parser(text)
    selector = parser.root()
    return selector


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, message: str) -> SelectorError:
        return SelectorError(f"invalid selector {self.text!r}: {message} at position {self.pos}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def eat(self, token: str) -> bool:
        if self.text.startswith(token, self.pos):
            self.pos += len(token)
            return True
        return False

    def root(self) -> Selector:
        self.skip()
        selector = self.or_selector()
        self.skip()
        if self.pos != len(self.text):
            raise self.error("unexpected input")
        return selector

    def or_selector(self) -> Selector:
        parts = [self.and_selector()]
        while True:
            save = self.pos
            self.skip()
            if self.eat("||") or self.eat("|"):
                self.skip()
                parts.append(self.and_selector())
            else:
                self.pos = save
                break
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_selector(self) -> Selector:
        parts = [self.maybe_not()]
        while True:
            save = self.pos
            self.skip()
            if self.eat("&&") or self.eat("&"):
                self.skip()
                parts.append(self.maybe_not())
            else:
                self.pos = save
                break
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def maybe_not(self) -> Selector:
        if self.eat("!") or self.eat("~"):
            self.skip()
            return Not(self.parens_or_path())
        return self.parens_or_path()

    def parens_or_path(self) -> Selector:
        if self.eat("("):
            self.skip()
            inner = self.or_selector()
            self.skip()
            if not self.eat(")"):
                raise self.error("expected ')'")
            return inner
        return self.path()

    def path(self) -> Path:
        items = [self.path_item()]
        while True:
            save = self.pos
            self.skip()
            if self.eat("."):
                self.skip()
                items.append(self.path_item())
            else:
                self.pos = save
                break
        if sum(1 for kind, _ in items if kind == DEEP) > 1:
            raise self.error("deep wildcard used more than once")
        if len(items) == 1 and items[0][0] == WILDCARD:
            raise self.error("wildcard must be part of a path")
        return Path(tuple(items))

    def path_item(self) -> Item:
        text = self.text
        ch = text[self.pos] if self.pos < len(text) else ""
        if ch == "$":
            end = self.pos + 1
            while end < len(text) and ("a" <= text[end] <= "z" or text[end] == "_"):
                end += 1
            name = text[self.pos + 1 : end]
            if not name:
                raise self.error("expected a value type after '$'")
            if name not in _TYPE_NAMES:
                raise self.error(f"unknown value type ${name}")
            self.pos = end
            return (TYPE, VALUE_TYPES[_TYPE_NAMES[name]])
        if self.eat("**"):
            return (DEEP, None)
        if self.eat("*"):
            return (WILDCARD, None)
        if ch.isascii() and ch.isdigit():
            end = self.pos
            while end < len(text) and text[end].isascii() and text[end].isdigit():
                end += 1
            number = int(text[self.pos : end])
            if number >= 1 << 64:
                raise self.error("invalid index")
            self.pos = end
            return (INDEX, number)
        if ch == "'":
            self.pos += 1
            self.skip()
            chars: list[str] = []
            while True:
                if self.pos >= len(text):
                    raise self.error("unterminated quoted key")
                c = text[self.pos]
                if c == "'":
                    if text.startswith("''", self.pos):
                        chars.append("'")
                        self.pos += 2
                        continue
                    break
                chars.append(c)
                self.pos += 1
            if not chars:
                raise self.error("empty quoted key")
            self.pos += 1
            return (KEY, "".join(chars))
        if ch.isascii() and (ch.isalpha() or ch == "_"):
            end = self.pos + 1
            while end < len(text) and (
                (text[end].isascii() and text[end].isalnum()) or text[end] in "-_"
            ):
                end += 1
            key = text[self.pos : end]
            self.pos = end
            return (KEY, key)
        raise self.error("expected a selector path item")
