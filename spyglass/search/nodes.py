"""The search AST: small frozen dataclasses a compiler turns into queries.

A query is a tree of `And` / `Or` over leaves: `Filter` (key, operator, typed values),
`Has` (a key is present) and `FreeText` (title/message contains). The parser normalizes
the tree: an `And` or `Or` has at least two children and none of its own kind (the empty
query is `And(())`, which matches everything); `key:!=value` and `!key:value` are the same
`Filter(negated=True)`; a one-value list is a plain value.

Positions (`start`, `end`: 0-based offsets into the query) are kept for error messages in
later steps and take no part in equality, so `parse(render(ast)) == ast`. Values keep the
text as typed in `raw` (also outside equality).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from spyglass.search.keys import KeySpec, spec_for


class Op(StrEnum):
    """A comparison. Negation is `Filter.negated`, never an operator (`!=` parses to EQ)."""

    EQ = "="
    GT = ">"
    GTE = ">="
    LT = "<"
    LTE = "<="


# --- values ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextValue:
    """Text, possibly with wildcards. `parts` is the literal text between wildcards, escapes
    resolved: `foo` is ("foo",), `*Timeout` is ("", "Timeout"), `a\\*b` (a literal asterisk)
    is ("a*b",), a lone `*` is ("", ""). One part means an exact match."""

    parts: tuple[str, ...]
    raw: str = field(default="", compare=False)

    @classmethod
    def literal(cls, text: str) -> TextValue:
        return cls((text,))

    @property
    def has_wildcards(self) -> bool:
        return len(self.parts) > 1

    @property
    def text(self) -> str:
        """The exact text of a value without wildcards (wildcards read as `*`)."""
        return "*".join(self.parts)


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A number, `k`/`m`/`b` suffixes applied (`1.5k` is 1500). Integral values are ints."""

    value: int | float
    raw: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class DurationValue:
    """A duration in milliseconds (`1.5s` is 1500.0; a bare number is milliseconds)."""

    ms: float
    raw: str = field(default="", compare=False)


class DatePrecision(StrEnum):
    DAY = "day"  # 2026-11-01: `=` covers the whole (UTC) day
    INSTANT = "instant"  # 2026-11-01T10:00:00: `=` covers five minutes either side


# What `key:<instant>` covers on each side (Sentry: "a few minutes either side").
INSTANT_WINDOW = timedelta(minutes=5)

RELATIVE_UNITS = {
    "m": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class RelativeDate:
    """`24h` of `-24h` / `+24h`; the sign is the filter's operator (GTE / LTE)."""

    amount: int
    unit: str  # m, h, d or w

    @property
    def delta(self) -> timedelta:
        return RELATIVE_UNITS[self.unit] * self.amount


@dataclass(frozen=True, slots=True)
class DateValue:
    """A point in time, aware and in UTC. Relative dates are resolved against the `now` given
    to the parser: `firstSeen:-24h` is `Filter(op=GTE, DateValue(now - 24h, relative=…))`
    ("within the last 24 hours"), `+24h` is LTE ("more than 24 hours ago")."""

    at: datetime
    precision: DatePrecision = DatePrecision.INSTANT
    relative: RelativeDate | None = None
    raw: str = field(default="", compare=False)

    def covers(self) -> tuple[datetime, datetime]:
        """The half-open range `key:<this date>` (Op.EQ) matches: the day, or ±5 minutes."""
        if self.precision == DatePrecision.DAY:
            return self.at, _clamped(self.at, timedelta(days=1))
        return _clamped(self.at, -INSTANT_WINDOW), _clamped(self.at, INSTANT_WINDOW)


def _clamped(at: datetime, delta: timedelta) -> datetime:
    try:
        return at + delta
    except OverflowError:
        return datetime.max.replace(tzinfo=at.tzinfo) if delta > timedelta() else at


@dataclass(frozen=True, slots=True)
class BoolValue:
    value: bool
    raw: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One of the key's allowed values, canonical (`is:archived` is "ignored")."""

    value: str
    raw: str = field(default="", compare=False)


# Issue numbers in short ids are Crockford's base 32, as Sentry writes them (no I L O U).
SHORT_ID_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True, slots=True)
class ShortIdValue:
    """An issue short id, upper-cased: `PROJECT-1A` (project slug, issue number)."""

    value: str
    raw: str = field(default="", compare=False)

    @property
    def project_slug(self) -> str:
        return self.value.rsplit("-", 1)[0]

    @property
    def number(self) -> int:
        number = 0
        for digit in self.value.rsplit("-", 1)[1]:
            number = number * 32 + SHORT_ID_DIGITS.index(digit)
        return number


class ActorKind(StrEnum):
    ME = "me"
    MY_TEAMS = "my_teams"
    NONE = "none"  # nobody (`assigned:none`)
    TEAM = "team"  # `#slug`
    USER = "user"  # an email or a username


@dataclass(frozen=True, slots=True)
class ActorValue:
    """Who: `me`, `my_teams`, `none`, `#team-slug`, or a user's email or username (`name`)."""

    kind: ActorKind
    name: str = ""
    raw: str = field(default="", compare=False)


Value = (
    TextValue
    | NumberValue
    | DurationValue
    | DateValue
    | BoolValue
    | EnumValue
    | ShortIdValue
    | ActorValue
)


# --- keys and nodes ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Key:
    """A search key: a registered key by its canonical name (`timesSeen` for `times_seen`),
    or a tag (`tag=True`: an unknown key, or any key written `tags[name]`)."""

    name: str
    tag: bool = False
    written: str = field(default="", compare=False)

    @property
    def spec(self) -> KeySpec:
        return spec_for(self.name, tag=self.tag)


@dataclass(frozen=True, slots=True)
class Filter:
    """`[!]key:[op]value`, or `[!]key:[v1, v2]` (any of the values; op is then EQ).

    `values` has one value, or the members of a list. The value classes a key takes are
    fixed by its type (`Key.spec.type`). Ordering operators appear only on numbers,
    durations, dates and versions; on other keys Sentry reads `>x` as the text ">x"."""

    key: Key
    op: Op
    values: tuple[Value, ...]
    negated: bool = False
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)

    @property
    def value(self) -> Value:
        return self.values[0]


@dataclass(frozen=True, slots=True)
class Has:
    """`has:key` (the key has a value) or `!has:key` (it has none)."""

    key: Key
    negated: bool = False
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class FreeText:
    """Words or a quoted string outside any filter: the title or message contains it.
    Adjacent bare words form one phrase (`example error`), as in Sentry. Like Sentry, a
    compiler matches `*text*` unless the text starts or ends with a wildcard."""

    value: TextValue
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]
    start: int = field(default=0, compare=False)
    end: int = field(default=0, compare=False)


Node = Filter | Has | FreeText | And | Or
MATCH_ALL = And(())


def and_(*children: Node) -> Node:
    """An `And` as the parser builds it: nested `And`s flattened, a single child unwrapped."""
    flat = _flatten(And, children)
    if len(flat) == 1:
        return flat[0]
    return And(flat, _start(flat), _end(flat))


def or_(*children: Node) -> Node:
    flat = _flatten(Or, children)
    if len(flat) == 1:
        return flat[0]
    return Or(flat, _start(flat), _end(flat))


def _flatten(kind: type[And | Or], children: tuple[Node, ...]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        if isinstance(child, And | Or) and isinstance(child, kind):
            flat.extend(child.children)
        else:
            flat.append(child)
    return tuple(flat)


def _start(children: tuple[Node, ...]) -> int:
    return children[0].start if children else 0


def _end(children: tuple[Node, ...]) -> int:
    return children[-1].end if children else 0


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, And | Or):
            stack.extend(reversed(current.children))


# --- a readable rendering for tests and logs ----------------------------------------------


def dump(node: Node) -> str:
    """A compact, unambiguous rendering: `and(is = unresolved, !level = error, text "x*")`."""
    if isinstance(node, And | Or):
        name = "and" if isinstance(node, And) else "or"
        return f"{name}({', '.join(dump(child) for child in node.children)})"
    if isinstance(node, FreeText):
        return f"text {dump_value(node.value)}"
    if isinstance(node, Has):
        return f"{'!' if node.negated else ''}has {_dump_key(node.key)}"
    bang = "!" if node.negated else ""
    if len(node.values) > 1:
        items = ", ".join(dump_value(value) for value in node.values)
        return f"{bang}{_dump_key(node.key)} in [{items}]"
    return f"{bang}{_dump_key(node.key)} {node.op.value} {dump_value(node.value)}"


def _dump_key(key: Key) -> str:
    return f"tag:{key.name}" if key.tag else key.name


def dump_value(value: Value) -> str:
    if isinstance(value, TextValue):
        escaped = [part.replace("\\", "\\\\").replace('"', '\\"') for part in value.parts]
        return '"' + "*".join(part.replace("*", "\\*") for part in escaped) + '"'
    if isinstance(value, NumberValue):
        return repr(value.value)
    if isinstance(value, DurationValue):
        return f"{value.ms!r}ms"
    if isinstance(value, DateValue):
        text = value.at.strftime("%Y-%m-%dT%H:%M:%S")
        text += f".{value.at.microsecond:06d}Z" if value.at.microsecond else "Z"
        if value.relative is not None:
            return f"{text} ({value.relative.amount}{value.relative.unit})"
        return f"{text} (day)" if value.precision == DatePrecision.DAY else text
    if isinstance(value, BoolValue):
        return "true" if value.value else "false"
    if isinstance(value, EnumValue | ShortIdValue):
        return value.value
    if value.kind == ActorKind.TEAM:
        return f"#{value.name}"
    if value.kind == ActorKind.USER:
        return f'user "{value.name}"'
    return value.kind.value
