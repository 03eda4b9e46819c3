"""Fingerprints: the SDK's `fingerprint` and server-side fingerprint rules.

    error.type:DatabaseUnavailable                    -> system-down
    error.type:ConnectionError message:"*timed out*"  -> connection-timeout, {{ transaction }}
    stack.function:"Foo.bar" !stack.module:tests*     -> foo-bar title="Foo bar failed"

Matchers of one kind must all match the same thing: frame matchers the same frame,
exception matchers the same exception. Rules run top to bottom, the first match wins; the
project's rules come before the built-in ones. A rule's fingerprint replaces the event's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from spyglass.grouping.event import EventView, as_mapping, text
from spyglass.grouping.frames import Frame
from spyglass.grouping.glob import compile_glob, path_match
from spyglass.grouping.matchers import bool_from_string
from spyglass.grouping.native import behavior_family
from spyglass.grouping.rules_syntax import (
    LineScanner,
    ParsedMatcher,
    RuleSyntaxError,
    rule_lines,
    unescape,
)

DEFAULT_VARIABLE = "{{ default }}"
_VARIABLE = re.compile(r"\{\{\s*(\S+?)\s*\}\}")
_FP_VARIABLE = re.compile(r"\{\{\s*\S+\s*\}\}")
_FP_BARE = re.compile(r"[^\s{,]+")
_FP_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_FP_ATTRIBUTE = re.compile(r'([a-zA-Z0-9_.-]+)="((?:[^"\\]|\\.)*)"')

_KEYS = {
    "error.type": "type",
    "type": "type",
    "error.value": "value",
    "value": "value",
    "message": "message",
    "logger": "logger",
    "level": "level",
    "stack.module": "module",
    "module": "module",
    "stack.abs_path": "path",
    "path": "path",
    "stack.package": "package",
    "package": "package",
    "stack.function": "function",
    "function": "function",
    "family": "family",
    "app": "app",
    "sdk": "sdk",
    "release": "release",
    "thread.id": "thread_id",
    "thread.name": "thread_name",
    "thread.state": "thread_state",
    "thread.crashed": "thread_crashed",
    "thread.current": "thread_current",
}
_MATCH_TYPES = {
    "message": "toplevel",
    "logger": "log_info",
    "level": "log_info",
    "type": "exceptions",
    "value": "exceptions",
    "sdk": "sdk",
    "family": "family",
    "release": "release",
}


def variable_name(entry: str) -> str | None:
    """`{{ Error.Type }}` -> `error.type`; None when the entry is not a variable."""
    found = _VARIABLE.fullmatch(entry)
    if found is None:
        return None
    name = found.group(1)
    if name[:5].lower() == "tags.":
        return "tags." + name[5:]  # tag names keep their case
    return name.lower()


def is_default(entry: str) -> bool:
    return variable_name(entry) == "default"


class FingerprintMatcher:
    __slots__ = ("_test", "field", "match_type", "negated", "offset", "pattern", "text")

    def __init__(self, parsed: ParsedMatcher, line: int) -> None:
        if parsed.key.startswith("tags."):
            self.field = parsed.key
        elif parsed.key in _KEYS:
            self.field = _KEYS[parsed.key]
        else:
            raise RuleSyntaxError(line, parsed.column, f"unknown matcher {parsed.key!r}")
        self.pattern = parsed.pattern
        self.negated = parsed.negated
        self.offset = parsed.offset
        self.text = parsed.text
        field = self.field
        self.match_type = (
            "tags"
            if field.startswith("tags.")
            else "threads"
            if field.startswith("thread_")
            else _MATCH_TYPES.get(field, "frames")
        )
        self._test = _tester(field, parsed.pattern)

    def matches(self, values: Mapping[str, Any]) -> bool:
        return self._test(values) != self.negated


def _glob_tester(
    field: str, pattern: str, ignore_case: bool
) -> Callable[[Mapping[str, Any]], bool]:
    regex = compile_glob(pattern, ignore_case=ignore_case)

    def test(values: Mapping[str, Any]) -> bool:
        value = values.get(field)
        return isinstance(value, str) and regex.fullmatch(value) is not None

    return test


def _tester(field: str, pattern: str) -> Callable[[Mapping[str, Any]], bool]:
    if field == "path":
        return lambda v: any(
            isinstance(p, str) and path_match(p, pattern)
            for p in {v.get("abs_path"), v.get("filename")}
        )
    if field == "message":
        regex = compile_glob(pattern, ignore_case=True)
        return lambda v: any(
            isinstance(m, str) and regex.fullmatch(m) is not None
            for m in (v.get("message"), v.get("value"))
        )
    if field in ("package", "release"):
        return lambda v: isinstance(p := v.get(field), str) and path_match(p, pattern)
    if field in ("family", "sdk"):
        flags = set(pattern.split(","))
        return lambda v: v.get(field) is not None and ("all" in flags or v.get(field) in flags)
    if field in ("app", "thread_crashed", "thread_current"):
        expected = bool_from_string(pattern)
        return lambda v: v.get(field) is not None and v.get(field) == expected
    ignore_case = field in ("level", "value", "thread_id", "thread_name", "thread_state")
    return _glob_tester(field, pattern, ignore_case)


@dataclass(frozen=True)
class FingerprintRule:
    matchers: tuple[FingerprintMatcher, ...]
    fingerprint: tuple[str, ...]
    title: str | None
    text: str
    is_builtin: bool = False

    def matches(self, values: EventValues) -> bool:
        for match_type, matchers, in_context in self._groups:
            if in_context:
                if not _any_frame_in_context(values.get("frames"), matchers):
                    return False
            elif not _any_satisfies(values.get(match_type), matchers):
                return False
        return True

    @cached_property
    def _groups(self) -> tuple[tuple[str, list[FingerprintMatcher], bool], ...]:
        """The matcher groups, each with whether its frame matchers look at neighbours."""
        return tuple(
            (match_type, matchers, match_type == "frames" and any(m.offset for m in matchers))
            for match_type, matchers in _by_match_type(self.matchers)
        )


def _any_satisfies(candidates: list[dict[str, Any]], matchers: list[FingerprintMatcher]) -> bool:
    """Whether one of the values satisfies every matcher (loops: this runs for every rule and
    event, and generators cost several times as much)."""
    for candidate in candidates:
        for matcher in matchers:
            if matcher._test(candidate) == matcher.negated:
                break
        else:
            return True
    return False


# Cheap, event-wide checks first; frames last.
_MATCH_TYPE_ORDER = ["family", "sdk", "release", "log_info", "tags", "exceptions", "toplevel"]


@lru_cache(maxsize=4096)
def _by_match_type(
    matchers: tuple[FingerprintMatcher, ...],
) -> tuple[tuple[str, list[FingerprintMatcher]], ...]:
    """The matchers of a rule grouped by what they look at: each group must be satisfied by
    one and the same value (one exception, one frame, ...)."""
    groups: dict[str, list[FingerprintMatcher]] = {}
    for matcher in matchers:
        groups.setdefault(matcher.match_type, []).append(matcher)
    order = {name: i for i, name in enumerate(_MATCH_TYPE_ORDER)}
    return tuple(sorted(groups.items(), key=lambda item: order.get(item[0], len(order))))


def _any_frame_in_context(frames: list[dict[str, Any]], matchers: list[FingerprintMatcher]) -> bool:
    for index in range(len(frames)):
        if all(
            0 <= index + m.offset < len(frames) and m.matches(frames[index + m.offset])
            for m in matchers
        ):
            return True
    return False


class FingerprintRules:
    def __init__(self, rules: Sequence[FingerprintRule]) -> None:
        self.rules = list(rules)

    def __add__(self, other: FingerprintRules) -> FingerprintRules:
        return FingerprintRules(self.rules + other.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def first_match(self, view: EventView) -> FingerprintRule | None:
        if not self.rules:
            return None
        values = EventValues(view)
        return next((rule for rule in self.rules if rule.matches(values)), None)


def _read_fingerprint(scanner: LineScanner) -> tuple[list[str], str | None]:
    values: list[str] = []
    title: str | None = None
    # No comments after the arrow: as in Sentry, `#` there is part of a value.
    while not scanner.at_line_end():
        if (attribute := scanner.match(_FP_ATTRIBUTE)) is not None:
            if attribute.group(1) != "title":
                raise scanner.error(f"unknown attribute {attribute.group(1)!r}", attribute.start())
            title = unescape(attribute.group(2))
        elif (quoted := scanner.match(_FP_QUOTED)) is not None:
            values.append(unescape(quoted.group(1)))
        elif (bare := scanner.match(_FP_VARIABLE) or scanner.match(_FP_BARE)) is not None:
            values.append(bare.group())
        else:
            raise scanner.error("expected a fingerprint value")
        scanner.take(",")
    if not values:
        raise scanner.error("expected a fingerprint after '->'")
    return [DEFAULT_VARIABLE if is_default(v) else v for v in values], title


def _parse_rule(line_text: str, line: int, builtin: bool) -> FingerprintRule:
    scanner = LineScanner(line_text, line)
    parsed = scanner.read_matchers()
    matchers = tuple(FingerprintMatcher(p, line) for p in parsed)
    if not scanner.take("->"):
        raise scanner.error("expected '->' between the matchers and the fingerprint")
    fingerprint, title = _read_fingerprint(scanner)
    description = " ".join(p.text for p in parsed) + " -> " + ", ".join(fingerprint)
    if title is not None:
        description += f' title="{title}"'
    return FingerprintRule(matchers, tuple(fingerprint), title, description, builtin)


@lru_cache(maxsize=256)
def parse_fingerprint_rules(text: str, *, builtin: bool = False) -> FingerprintRules:
    """Parse fingerprint rules; raises `RuleSyntaxError` pointing at the bad line. The same
    text gives the same (shared, read-only) object."""
    return FingerprintRules([_parse_rule(line, n, builtin) for n, line in rule_lines(text)])


def normalized_sdk_name(name: str | None) -> str:
    """`sentry.python.django` -> `sentry.python`; JavaScript and native SDKs keep one more
    level (`sentry.javascript.react`). Non-Sentry SDKs are `other`."""
    if not name or not name.startswith("sentry"):
        return "other"
    parts = re.sub(r"[\W_]+", ".", name).split(".")
    if len(parts) < 2 or parts[0] != "sentry":
        return "other"
    keep = 3 if parts[1] in ("javascript", "native") else 2
    return ".".join(parts[:keep])


class EventValues:
    """The values each kind of fingerprint matcher looks at, computed on first use."""

    def __init__(self, view: EventView) -> None:
        self.view = view
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def get(self, match_type: str) -> list[dict[str, Any]]:
        if match_type not in self._cache:
            self._cache[match_type] = getattr(self, "_" + match_type)()
        return self._cache[match_type]

    def _exceptions(self) -> list[dict[str, Any]]:
        found = []
        for exception in self.view.exceptions:
            value = text(exception.get("value"))
            found.append({"type": text(exception.get("type")), "value": value and value.strip()})
        return found

    def _toplevel(self) -> list[dict[str, Any]]:
        formatted = text(as_mapping(self.view.event.get("logentry")).get("formatted"))
        messages = [{"message": formatted.strip()}] if formatted else []
        return messages + self.get("exceptions")

    def _log_info(self) -> list[dict[str, Any]]:
        info = {k: v for k in ("logger", "level") if (v := text(self.view.event.get(k)))}
        return [info] if info else []

    def _frames(self) -> list[dict[str, Any]]:
        return [_frame_values(f) for f in self.view.stack_frames()]

    def _tags(self) -> list[dict[str, Any]]:
        return [{f"tags.{k}": v.strip() for k, v in self.view.tags()}]

    def _sdk(self) -> list[dict[str, Any]]:
        sdk = as_mapping(self.view.event.get("sdk"))
        return [{"sdk": normalized_sdk_name(text(sdk.get("name")))}]

    def _family(self) -> list[dict[str, Any]]:
        return [{"family": behavior_family(self.view.platform)}]

    def _release(self) -> list[dict[str, Any]]:
        release = text(self.view.event.get("release"))
        return [{"release": release.strip() if release else None}]

    def _threads(self) -> list[dict[str, Any]]:
        return [
            {
                "thread_id": None if t.get("id") is None else str(t.get("id")),
                "thread_name": text(t.get("name")),
                "thread_state": text(t.get("state")),
                "thread_crashed": bool(t.get("crashed")),
                "thread_current": bool(t.get("current")),
            }
            for t in self.view.threads
        ]


def _frame_values(frame: Frame) -> dict[str, Any]:
    return {
        "function": frame.function or "<unknown>",
        "abs_path": frame.abs_path or frame.filename,
        "filename": frame.filename,
        "module": frame.module,
        "package": frame.package,
        "app": frame.in_app,
    }
