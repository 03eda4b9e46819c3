"""Matchers of stack trace rules: one frame (or its caller/callee) or the exception.

Semantics follow Sentry's enhancer: paths and packages match case-insensitively as path
globs (`**` crosses directories); functions, modules, categories and exception fields match
case-sensitively; a frame without a function matches as `<unknown>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spyglass.grouping.frames import Frame
from spyglass.grouping.glob import compile_glob, path_match
from spyglass.grouping.rules_syntax import ParsedMatcher, RuleSyntaxError

_CACHE_LIMIT = 2048

FRAME_KEYS = {
    "stack.module": "module",
    "module": "module",
    "stack.abs_path": "path",
    "path": "path",
    "stack.package": "package",
    "package": "package",
    "stack.function": "function",
    "function": "function",
    "category": "category",
    "family": "family",
    "app": "app",
}
EXCEPTION_KEYS = {"error.type": "type", "error.value": "value", "error.mechanism": "mechanism"}


def bool_from_string(value: str) -> bool | None:
    lowered = value.lower()
    if lowered in ("1", "yes", "true"):
        return True
    if lowered in ("0", "no", "false"):
        return False
    return None


class MatchFrame:
    """A frame as stack trace rules see it; `in_app` and `category` change as rules apply."""

    __slots__ = ("category", "family", "function", "in_app", "module", "package", "path")

    def __init__(self, frame: Frame) -> None:
        self.family = frame.family
        self.function = frame.function or "<unknown>"
        self.module = frame.module
        path = frame.abs_path or frame.filename
        self.path = path.lower().replace("\\", "/") if path else None
        self.package = frame.package.lower().replace("\\", "/") if frame.package else None
        self.in_app = frame.in_app
        self.category = frame.category

    def key(self) -> tuple[object, ...]:
        return (self.family, self.function, self.module, self.path, self.package, self.in_app)


class ExceptionData:
    """The exception a stack trace belongs to, for `error.*` matchers."""

    __slots__ = ("mechanism", "type", "value")

    def __init__(self, exception: Mapping[str, Any] | None) -> None:
        exception = exception or {}
        mechanism = exception.get("mechanism")
        mechanism_type = mechanism.get("type") if isinstance(mechanism, Mapping) else None
        self.type = _text_or_unknown(exception.get("type"))
        self.value = _text_or_unknown(exception.get("value"))
        self.mechanism = _text_or_unknown(mechanism_type)

    def key(self) -> tuple[str, str, str]:
        return (self.type, self.value, self.mechanism)


def _text_or_unknown(value: object) -> str:
    return value if isinstance(value, str) and value else "<unknown>"


class _Cached:
    """Remembers results per value: the same modules and paths come again and again."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, bool] = {}

    def _remember(self, value: str, result: bool) -> bool:
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[value] = result
        return result


class FrameMatcher(_Cached):
    __slots__ = ("field", "negated", "offset", "pattern", "text")

    def __init__(self, parsed: ParsedMatcher, field: str) -> None:
        super().__init__()
        self.field = field
        self.pattern = parsed.pattern
        self.negated = parsed.negated
        self.offset = parsed.offset
        self.text = parsed.text

    def matches(self, frames: Sequence[MatchFrame], index: int) -> bool:
        index += self.offset
        if index < 0 or index >= len(frames):
            return False
        return self.positive(frames[index]) != self.negated

    def positive(self, frame: MatchFrame) -> bool:
        raise NotImplementedError


class GlobFieldMatcher(FrameMatcher):
    __slots__ = ("_regex",)

    def __init__(self, parsed: ParsedMatcher, field: str) -> None:
        super().__init__(parsed, field)
        self._regex = compile_glob(parsed.pattern)

    def positive(self, frame: MatchFrame) -> bool:
        value: str | None = getattr(frame, self.field)
        if value is None:
            return False
        if value == self.pattern:
            return True
        cached = self._cache.get(value)
        if cached is None:
            cached = self._remember(value, self._regex.fullmatch(value) is not None)
        return cached


class PathLikeMatcher(FrameMatcher):
    __slots__ = ()

    def positive(self, frame: MatchFrame) -> bool:
        value: str | None = getattr(frame, self.field)
        if value is None:
            return False
        cached = self._cache.get(value)
        if cached is None:
            cached = self._remember(value, path_match(value, self.pattern))
        return cached


class FamilyMatcher(FrameMatcher):
    __slots__ = ("families",)

    def __init__(self, parsed: ParsedMatcher, field: str) -> None:
        super().__init__(parsed, field)
        self.families = frozenset(parsed.pattern.split(","))

    def positive(self, frame: MatchFrame) -> bool:
        return "all" in self.families or frame.family in self.families


class InAppMatcher(FrameMatcher):
    __slots__ = ("expected",)

    def __init__(self, parsed: ParsedMatcher, field: str) -> None:
        super().__init__(parsed, field)
        self.expected = bool_from_string(parsed.pattern)

    def positive(self, frame: MatchFrame) -> bool:
        return self.expected is not None and self.expected == bool(frame.in_app)


class ExceptionMatcher(_Cached):
    __slots__ = ("_regex", "field", "negated", "text")

    def __init__(self, parsed: ParsedMatcher, field: str) -> None:
        super().__init__()
        self.field = field
        self.negated = parsed.negated
        self.text = parsed.text
        self._regex = compile_glob(parsed.pattern)

    def matches(self, exception: ExceptionData) -> bool:
        value: str = getattr(exception, self.field)
        cached = self._cache.get(value)
        if cached is None:
            cached = self._remember(value, self._regex.fullmatch(value) is not None)
        return cached != self.negated


_FRAME_MATCHER_CLASSES: dict[str, type[FrameMatcher]] = {
    "module": GlobFieldMatcher,
    "function": GlobFieldMatcher,
    "category": GlobFieldMatcher,
    "path": PathLikeMatcher,
    "package": PathLikeMatcher,
    "family": FamilyMatcher,
    "app": InAppMatcher,
}


def build_matcher(parsed: ParsedMatcher, line: int) -> FrameMatcher | ExceptionMatcher:
    if parsed.key in EXCEPTION_KEYS:
        if parsed.offset:
            raise RuleSyntaxError(line, parsed.column, "error matchers cannot match callers")
        return ExceptionMatcher(parsed, EXCEPTION_KEYS[parsed.key])
    field = FRAME_KEYS.get(parsed.key)
    if field is None:
        known = ", ".join([*FRAME_KEYS, *EXCEPTION_KEYS])
        message = f"unknown matcher {parsed.key!r} (known: {known})"
        raise RuleSyntaxError(line, parsed.column, message)
    return _FRAME_MATCHER_CLASSES[field](parsed, field)
