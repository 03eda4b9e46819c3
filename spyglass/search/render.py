"""The canonical query text of an AST: `parse(render(ast), now=now) == ast`.

Canonical means: keys by their canonical names (`timesSeen`, not `times_seen`), tags bare
unless they need `tags[...]`, negation as `!key:`, numbers and durations normalized
(`1.5k` -> `1500`, `1.5s` -> `1500ms`), absolute dates in UTC, free text quoted, `OR`
upper-case, parentheses only where precedence needs them.
"""

from __future__ import annotations

import re
from decimal import Decimal

from spyglass.search.keys import is_registered
from spyglass.search.nodes import (
    ActorKind,
    ActorValue,
    And,
    BoolValue,
    DatePrecision,
    DateValue,
    DurationValue,
    EnumValue,
    Filter,
    FreeText,
    Has,
    Key,
    Node,
    NumberValue,
    Op,
    Or,
    ShortIdValue,
    TextValue,
    Value,
)

_PLAIN_KEY = re.compile(r"[a-zA-Z0-9_.-]+")
_PLAIN_TAG_KEY = re.compile(r"[a-zA-Z0-9_.:-]+")
_OPERATOR_START = ("<", ">", "=", "!")


def render(node: Node) -> str:
    if isinstance(node, And):
        return " ".join(
            f"({render(child)})" if isinstance(child, Or) else render(child)
            for child in node.children
        )
    if isinstance(node, Or):
        return " OR ".join(render(child) for child in node.children)
    if isinstance(node, FreeText):
        return _quoted(_escape_text(node.value))
    if isinstance(node, Has):
        return f"{'!' if node.negated else ''}has:{render_key(node.key)}"
    return _render_filter(node)


def render_key(key: Key) -> str:
    if not key.tag:
        return key.name
    if _PLAIN_KEY.fullmatch(key.name) and not is_registered(key.name):
        return key.name
    return tag_key_text(key.name)


def tag_key_text(name: str) -> str:
    """`tags[name]`, quoted when the name has more than letters, digits and `_ . : -`:
    `tags["my key"]`, with `"` and `\\` escaped."""
    if _PLAIN_TAG_KEY.fullmatch(name):
        return f"tags[{name}]"
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'tags["{escaped}"]'


def _render_filter(node: Filter) -> str:
    head = f"{'!' if node.negated else ''}{render_key(node.key)}:"
    if len(node.values) > 1:
        items = ", ".join(_value(value, in_list=True) for value in node.values)
        return f"{head}[{items}]"
    value = node.value
    if isinstance(value, DateValue) and value.relative is not None:
        sign = "+" if node.op == Op.LTE else "-"
        return f"{head}{sign}{value.relative.amount}{value.relative.unit}"
    op = "" if node.op == Op.EQ else node.op.value
    return f"{head}{op}{_value(value, in_list=False)}"


def _value(value: Value, *, in_list: bool) -> str:
    if isinstance(value, TextValue):
        return _maybe_quoted(_escape_text(value), in_list=in_list)
    if isinstance(value, NumberValue):
        return _decimal(value.value)
    if isinstance(value, DurationValue):
        return f"{_decimal(value.ms)}ms"
    if isinstance(value, DateValue):
        return _date(value)
    if isinstance(value, BoolValue):
        return "true" if value.value else "false"
    if isinstance(value, EnumValue | ShortIdValue):
        return value.value
    return _actor(value, in_list=in_list)


def _escape_text(value: TextValue) -> str:
    escaped = (
        part.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") for part in value.parts
    )
    return "*".join(escaped)


def _maybe_quoted(text: str, *, in_list: bool) -> str:
    special = '()[]",' if in_list else '()[]"'
    if (
        not text
        or text.startswith(_OPERATOR_START)
        or any(char.isspace() or char in special or not char.isprintable() for char in text)
    ):
        return _quoted(text)
    return text


def _quoted(escaped: str) -> str:
    # `escaped` already has its quotes and backslashes escaped.
    return f'"{escaped}"'


def _decimal(number: int | float) -> str:
    if isinstance(number, int):
        return str(number)
    if number.is_integer():
        return str(int(number))
    return format(Decimal(repr(number)), "f")


def _date(value: DateValue) -> str:
    at = value.at
    text = f"{at.year:04d}-{at.month:02d}-{at.day:02d}"
    if value.precision == DatePrecision.DAY:
        return text
    text += f"T{at.hour:02d}:{at.minute:02d}:{at.second:02d}"
    if at.microsecond:
        text += f".{at.microsecond:06d}"
    return text + "Z"


def _actor(value: ActorValue, *, in_list: bool) -> str:
    if value.kind in (ActorKind.TEAM, ActorKind.USER):
        name = "#" + value.name if value.kind == ActorKind.TEAM else value.name
        return _maybe_quoted(_escape_text(TextValue.literal(name)), in_list=in_list)
    return value.kind.value
