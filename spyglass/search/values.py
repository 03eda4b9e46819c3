"""Typing: a filter as written (key, operator, value text) becomes a typed `Filter`.

The parser hands over a `RawFilter`; `build_filter` checks each value against the key's type
and raises `SearchTypeError` at the value's position when it does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import NoReturn

from spyglass.search.errors import SearchTypeError
from spyglass.search.keys import KeySpec, ValueType
from spyglass.search.nodes import (
    RELATIVE_UNITS,
    ActorKind,
    ActorValue,
    BoolValue,
    DatePrecision,
    DateValue,
    DurationValue,
    EnumValue,
    Filter,
    Key,
    NumberValue,
    Op,
    RelativeDate,
    ShortIdValue,
    TextValue,
    Value,
)
from spyglass.search.render import tag_key_text

# Inside a value, a backslash escapes these; any other backslash is a plain character.
ESCAPABLE = '\\*"'
ORDERED = {ValueType.NUMBER, ValueType.DURATION, ValueType.DATE, ValueType.VERSION}
NO_LISTS = {ValueType.DATE, ValueType.BOOLEAN}

_NUMBER = re.compile(r"(-?)([0-9]+(?:\.[0-9]*)?)([kmbKMB]?)")
_MULTIPLIERS = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]*)?)(ms|s|min|m|hr|h|day|d|wk|w)?")
_DURATION_MS = {
    "ms": 1,
    "s": 1_000,
    "min": 60_000,
    "m": 60_000,
    "hr": 3_600_000,
    "h": 3_600_000,
    "day": 86_400_000,
    "d": 86_400_000,
    "wk": 604_800_000,
    "w": 604_800_000,
}
_MAX_DIGITS = 30
_INT64 = 2**63 - 1
_RELATIVE = re.compile(r"([+-]?)([0-9]{1,9})([mhdw])")
_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[Tt]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,6}))?)?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})?"
)
_SHORT_ID = re.compile(r"[A-Za-z0-9_-]+-[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{1,13}")

EXPECTED = {
    ValueType.NUMBER: "a number like 10, >10 or 1k",
    ValueType.DURATION: "a duration like 300ms, >1.5s or 2m",
    ValueType.DATE: "a date like -24h, +7d, 2026-11-01 or >2026-11-01T10:00:00",
    ValueType.BOOLEAN: "true or false",
    ValueType.SHORT_ID: "a short id like PROJECT-1A",
    ValueType.ACTOR: "me, my_teams, none, #team, an email or a username",
    ValueType.USER: "me, an email or a username",
}


@dataclass
class RawValue:
    source: str  # as typed: between the quotes if quoted, escapes not yet resolved
    start: int  # position of the value (its opening quote when quoted)
    end: int


@dataclass
class RawFilter:
    key: str  # as written, without `!` and without `tags[...]`
    tag: bool  # written `tags[key]`
    negated: bool
    op: str  # "", "=", "!=", ">", ">=", "<", "<="
    values: list[RawValue] = field(default_factory=list)
    is_list: bool = False
    start: int = 0
    end: int = 0
    value_start: int = 0  # after the colon: the operator, the value or the list's `[`


def split_wildcards(source: str) -> tuple[str, ...]:
    """Resolve escapes (`\\*` `\\"` `\\\\`) and split at the unescaped `*` wildcards."""
    parts: list[str] = []
    current: list[str] = []
    i, n = 0, len(source)
    while i < n:
        char = source[i]
        if char == "\\" and i + 1 < n and source[i + 1] in ESCAPABLE:
            current.append(source[i + 1])
            i += 2
            continue
        if char == "*":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        i += 1
    parts.append("".join(current))
    return tuple(parts)


def build_filter(raw: RawFilter, spec: KeySpec, now: datetime) -> Filter:
    key = Key(spec.name, spec.tag, tag_key_text(raw.key) if raw.tag else raw.key)
    negated, op = raw.negated, raw.op
    if op == "!=":  # Sentry: `key:!=v` is `!key:v` (and `!key:!=v` is `key:v`)
        negated, op = not negated, ""
    elif op == "=":
        op = ""
    values = list(raw.values)
    if op and spec.type not in ORDERED:
        # Sentry reads `transaction:>foo` as the text ">foo"; other types then refuse it.
        written = values[0]
        values[0] = RawValue(op + written.source, written.start - len(op), written.end)
        op = ""
    if raw.is_list and spec.type in NO_LISTS:
        raise SearchTypeError(
            f"{key.written}: takes one value, not a list", raw.value_start, raw.end
        )
    typed = tuple(_typed(key, spec, op, value, now) for value in values)
    first = typed[0]
    if isinstance(first, DateValue) and first.relative is not None:
        # The sign is the direction: -24h is "within the last 24 hours" (>= now - 24h),
        # +24h "more than 24 hours ago" (<= now - 24h), as in Sentry.
        op = "<=" if values[0].source.startswith("+") else ">="
    return Filter(key, Op(op or "="), typed, negated, raw.start, raw.end)


def _typed(key: Key, spec: KeySpec, op: str, raw: RawValue, now: datetime) -> Value:
    parts = split_wildcards(raw.source)
    kind = spec.type
    if kind == ValueType.TEXT:
        return TextValue(parts, raw.source)
    if kind == ValueType.VERSION:
        if op and len(parts) > 1:
            _fail(key, raw, "a version without wildcards to compare with")
        return TextValue(parts, raw.source)
    if len(parts) > 1:
        _fail(key, raw, EXPECTED.get(kind) or _choices(spec))
    literal = parts[0]
    if kind == ValueType.NUMBER:
        return NumberValue(_number(key, raw, literal), raw.source)
    if kind == ValueType.DURATION:
        return DurationValue(_duration(key, raw, literal), raw.source)
    if kind == ValueType.DATE:
        return _date(key, raw, literal, op, now)
    if kind == ValueType.BOOLEAN:
        lowered = literal.lower()
        if lowered not in ("true", "1", "false", "0"):
            _fail(key, raw, EXPECTED[kind])
        return BoolValue(lowered in ("true", "1"), raw.source)
    if kind == ValueType.ENUM:
        choice = spec.choice(literal)
        if choice is None:
            _fail(key, raw, _choices(spec))
        return EnumValue(choice, raw.source)
    if kind == ValueType.SHORT_ID:
        if not _SHORT_ID.fullmatch(literal):
            _fail(key, raw, EXPECTED[kind])
        return ShortIdValue(literal.upper(), raw.source)
    return _actor(key, raw, literal, users_only=kind == ValueType.USER)


def _choices(spec: KeySpec) -> str:
    return "one of " + ", ".join(spec.choices)


def _fail(key: Key, raw: RawValue, expected: str) -> NoReturn:
    shown = raw.source if len(raw.source) <= 40 else raw.source[:40] + "…"
    raise SearchTypeError(f'{key.written}: expected {expected}, got "{shown}"', raw.start, raw.end)


def _number(key: Key, raw: RawValue, text: str) -> int | float:
    match = _NUMBER.fullmatch(text)
    if match is None:
        _fail(key, raw, EXPECTED[ValueType.NUMBER])
    sign, digits, suffix = match.groups()
    if len(digits) > _MAX_DIGITS:
        raise SearchTypeError(f"{key.written}: {text} is too large", raw.start, raw.end)
    number = Decimal(digits) * _MULTIPLIERS[suffix.lower()] * (-1 if sign else 1)
    if abs(number) > _INT64:
        raise SearchTypeError(f"{key.written}: {text} is too large", raw.start, raw.end)
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def _duration(key: Key, raw: RawValue, text: str) -> float:
    match = _DURATION.fullmatch(text)
    if match is None:
        _fail(key, raw, EXPECTED[ValueType.DURATION])
    digits, unit = match.groups()
    if len(digits) > _MAX_DIGITS:
        raise SearchTypeError(f"{key.written}: {text} is too large", raw.start, raw.end)
    return float(Decimal(digits) * _DURATION_MS[unit or "ms"])


def _date(key: Key, raw: RawValue, text: str, op: str, now: datetime) -> DateValue:
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        if op:
            raise SearchTypeError(
                f"{key.written}: a relative date takes no operator: -24h means within the "
                "last 24 hours, +24h more than 24 hours ago",
                raw.start - len(op),
                raw.end,
            )
        _, amount, unit = relative.groups()
        try:
            at = now - RELATIVE_UNITS[unit] * int(amount)
        except OverflowError:
            raise SearchTypeError(
                f"{key.written}: {text} is too far back", raw.start, raw.end
            ) from None
        return DateValue(at, DatePrecision.INSTANT, RelativeDate(int(amount), unit), raw.source)
    return _absolute_date(key, raw, text)


def _absolute_date(key: Key, raw: RawValue, text: str) -> DateValue:
    match = _ISO.fullmatch(text)
    if match is None:
        _fail(key, raw, EXPECTED[ValueType.DATE])
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    if zone and hour is None:
        raise SearchTypeError(
            f"{key.written}: a time zone needs a time: write {text[:10]}T00:00:00{zone}",
            raw.start,
            raw.end,
        )
    try:
        tz = UTC if zone in (None, "Z", "z") else _offset(zone)
        at = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tz,
        ).astimezone(UTC)
    except (ValueError, OverflowError):
        raise SearchTypeError(
            f'{key.written}: "{text}" is not a valid date', raw.start, raw.end
        ) from None
    precision = DatePrecision.DAY if hour is None else DatePrecision.INSTANT
    return DateValue(at, precision, None, raw.source)


def _offset(zone: str) -> timezone:
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    delta = timedelta(hours=hours, minutes=minutes)
    return timezone(-delta if zone[0] == "-" else delta)


def _actor(key: Key, raw: RawValue, text: str, *, users_only: bool) -> ActorValue:
    expected = EXPECTED[ValueType.USER if users_only else ValueType.ACTOR]
    lowered = text.lower()
    if not text:
        _fail(key, raw, expected)
    if lowered == "me":
        return ActorValue(ActorKind.ME, "", raw.source)
    if users_only:
        if text.startswith("#"):
            _fail(key, raw, expected)
        return ActorValue(ActorKind.USER, text, raw.source)
    if lowered == "my_teams":
        return ActorValue(ActorKind.MY_TEAMS, "", raw.source)
    if lowered == "none":
        return ActorValue(ActorKind.NONE, "", raw.source)
    if text.startswith("#"):
        if len(text) == 1:
            _fail(key, raw, expected)
        return ActorValue(ActorKind.TEAM, text[1:], raw.source)
    return ActorValue(ActorKind.USER, text, raw.source)
