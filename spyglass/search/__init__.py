"""The search language: query text -> typed AST, and back (`render`). Pure: no models, no ORM.

    from spyglass.search import parse, render, Scope
    ast = parse("is:unresolved timesSeen:>10 firstSeen:-24h", now=timezone.now(), scope=Scope.ISSUE)

See docs/search.md for the language, `nodes.py` for the AST and `keys.py` for the keys.
"""

from spyglass.search.errors import SearchSyntaxError, SearchTypeError
from spyglass.search.keys import KEYS, KeySpec, Scope, ValueType, lookup
from spyglass.search.nodes import (
    MATCH_ALL,
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
    RelativeDate,
    ShortIdValue,
    TextValue,
    Value,
    dump,
    walk,
)
from spyglass.search.parser import MAX_DEPTH, MAX_LENGTH, parse
from spyglass.search.render import render
from spyglass.search.sorts import DEFAULT_SORT, Sort, UnknownSortError, parse_sort

__all__ = [
    "DEFAULT_SORT",
    "KEYS",
    "MATCH_ALL",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "ActorKind",
    "ActorValue",
    "And",
    "BoolValue",
    "DatePrecision",
    "DateValue",
    "DurationValue",
    "EnumValue",
    "Filter",
    "FreeText",
    "Has",
    "Key",
    "KeySpec",
    "Node",
    "NumberValue",
    "Op",
    "Or",
    "RelativeDate",
    "Scope",
    "SearchSyntaxError",
    "SearchTypeError",
    "ShortIdValue",
    "Sort",
    "TextValue",
    "UnknownSortError",
    "Value",
    "ValueType",
    "dump",
    "lookup",
    "parse",
    "parse_sort",
    "render",
    "walk",
]
