"""Schema nodes for the PII scrubber: how a part of an event is walked and what PII flag and
value types its values carry. Built once at import by :mod:`spyglass.digest.scrubbing_schema`.
"""

from __future__ import annotations

from spyglass.digest.scrubbing_selectors import VALUE_TYPES

NO, YES, MAYBE = 0, 1, 2  # Relay's Pii::False, Pii::True, Pii::Maybe

T = VALUE_TYPES
STRING = T["string"]
NUMBER = T["number"]
BOOLEAN = T["boolean"]
DATETIME = T["datetime"]
ARRAY = T["array"]
OBJECT = T["object"]

# Node kinds
K_VALUE = 0  # any JSON value (Relay's Value): the value type follows the JSON type
K_STRING = 1  # a string field
K_PATH = 2  # a native image path: the basename is never scrubbed
K_OPAQUE = 3  # numbers, timestamps, ids, enums: only whole-value rules apply
K_ARRAY = 4
K_OBJECT = 5
K_PAIRS = 6  # a list of [key, value] pairs addressed by key (headers, cookies, query, tags)
K_STRUCT = 7
K_CONTEXTS = 8  # contexts: each entry is typed by its "type"
K_IMAGE = 9  # a debug image: typed by its "type"


class Node:
    __slots__ = (
        "deep",
        "fields",
        "item",
        "kind",
        "name",
        "other",
        "special",
        "variants",
        "vt",
        "walk",
    )

    def __init__(
        self,
        kind: int,
        vt: int = 0,
        *,
        name: str = "",
        item: Node | None = None,
        fields: dict[str, tuple[int, Node]] | None = None,
        other: int = NO,
        special: str = "",
        variants: dict[str, tuple[int, Node]] | None = None,
    ) -> None:
        self.kind = kind
        self.vt = vt
        self.name = name
        self.item = item
        self.fields = fields or {}
        self.other = other
        self.special = special
        self.variants = variants or {}
        # whether a value below this one can hold PII when this one cannot (see finalize)
        self.deep = True
        # the fields worth entering: PII, or PII below (see finalize)
        self.walk: tuple[tuple[str, int, Node], ...] = ()

    def __repr__(self) -> str:
        return f"<Node {self.name or self.kind}>"


VALUE = Node(K_VALUE, name="value")
STR = Node(K_STRING, STRING, name="string")
PATH = Node(K_PATH, STRING, name="path")
MESSAGE = Node(K_STRING, STRING | T["message"], name="message")
NUM = Node(K_OPAQUE, NUMBER, name="number")
BOOL = Node(K_OPAQUE, BOOLEAN, name="bool")
TIME = Node(K_OPAQUE, DATETIME, name="timestamp")
OPAQUE = Node(K_OPAQUE, 0, name="opaque")  # ids, enums, addresses, uuids


def array(item: Node) -> Node:
    return Node(K_ARRAY, ARRAY, item=item, name=f"[{item.name}]")


def obj(item: Node) -> Node:
    return Node(K_OBJECT, OBJECT, item=item, name=f"{{{item.name}}}")


def pairs(value: Node) -> Node:
    return Node(K_PAIRS, OBJECT, item=value, name=f"pairs({value.name})")


def struct(
    name: str,
    fields: dict[str, tuple[int, Node] | Node],
    *,
    vt: str = "",
    other: int = NO,
    special: str = "",
) -> Node:
    normalized = {k: (v if isinstance(v, tuple) else (NO, v)) for k, v in fields.items()}
    return Node(
        K_STRUCT,
        T[vt] if vt else 0,
        name=name,
        fields=normalized,
        other=other,
        special=special,
    )


def values(item: Node) -> Node:
    """Relay's ``Values<T>``: ``{"values": [...]}``."""
    return struct(f"Values<{item.name}>", {"values": array(item)})


def finalize(root: Node) -> Node:
    """Computes ``deep`` for every node below ``root``: the walk skips the rest."""
    done: dict[int, bool] = {}

    def deep(node: Node) -> bool:
        if id(node) in done:
            return done[id(node)]
        done[id(node)] = False  # (no cycles in the schema; a safe default while computing)
        if node.kind in (K_VALUE, K_STRING, K_PATH, K_OPAQUE):
            # span data: a nested value's PII flag is its own key's, whatever its parent's
            result = node.special == "span_data"
        elif node.kind in (K_ARRAY, K_OBJECT, K_PAIRS):
            assert node.item is not None
            result = deep(node.item)
        elif node.kind == K_STRUCT:
            result = node.other != NO
            for pii, child in node.fields.values():
                result = deep(child) or pii != NO or result
        else:
            result = False
            for pii, child in node.variants.values():
                result = deep(child) or pii != NO or result
        node.deep = result
        done[id(node)] = result
        return result

    deep(root)
    _walks(root, set())
    return root


def _walks(node: Node, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    node.walk = tuple(
        (key, pii, child) for key, (pii, child) in node.fields.items() if pii != NO or child.deep
    )
    children = [child for _, child in node.fields.values()]
    children += [child for _, child in node.variants.values()]
    if node.item is not None:
        children.append(node.item)
    for child in children:
        _walks(child, seen)
