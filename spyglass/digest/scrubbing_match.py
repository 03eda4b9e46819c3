"""Matching selectors against the path of the value being scrubbed (Relay's ``matches_path``).

The path is kept as three parallel stacks, root first: the key (``str``), index (``int``) or
``None`` (the root) of each entered value, its lower-cased key, and its value-type bits.
Selectors are compiled once into closures over those stacks.
"""

from __future__ import annotations

from collections.abc import Callable

from spyglass.digest.scrubbing_selectors import (
    BASIC_TYPES,
    DEEP,
    INDEX,
    KEY,
    WILDCARD,
    And,
    Item,
    Not,
    Or,
    Path,
    Selector,
)

__all__ = ["Matcher", "compile_selector", "uses_indices"]

YES, MAYBE = 1, 2

# (keys, lowered keys, value types, pii) -> matches?
Matcher = Callable[[list[object], list[object], list[int], int], bool]


def uses_indices(selector: Selector) -> bool:
    if isinstance(selector, Path):
        return any(kind == INDEX for kind, _ in selector.items)
    if isinstance(selector, Not):
        return uses_indices(selector.inner)
    return any(uses_indices(p) for p in selector.parts)


def _item_matches(
    item: Item,
    pii: int,
    position: int,
    index: int,
    keys: list[object],
    lowered: list[object],
    vts: list[int],
) -> bool:
    kind, payload = item
    if kind == WILDCARD:
        return True
    if kind == DEEP:
        return pii == YES
    if kind == KEY:
        return lowered[index] == payload
    if kind == INDEX:
        key = keys[index]
        return type(key) is int and key == payload
    # TYPE
    assert isinstance(payload, int)
    if not vts[index] & payload:
        return False
    return pii == YES or (payload not in BASIC_TYPES and position == 0)


def _compile_path(items: tuple[Item, ...]) -> Matcher:
    # Keys are compared lower-cased on both sides (Relay: to_lowercase on both).
    items = tuple(
        (kind, payload.lower()) if kind == KEY and isinstance(payload, str) else (kind, payload)
        for kind, payload in items
    )
    count = len(items)
    has_deep = any(kind == DEEP for kind, _ in items)

    if not has_deep:
        # Every item matches one state, innermost first; the root never takes part (Relay
        # refuses selectors longer than the path before looking at the root).
        def match_plain(
            keys: list[object], lowered: list[object], vts: list[int], pii: int
        ) -> bool:
            depth = len(keys) - 1
            if count > depth:
                return False
            offset = depth - count + 1
            for position in range(count - 1, -1, -1):
                if not _item_matches(
                    items[position], pii, position, offset + position, keys, lowered, vts
                ):
                    return False
            return True

        return match_plain

    def match_deep(keys: list[object], lowered: list[object], vts: list[int], pii: int) -> bool:
        depth = len(keys) - 1
        if count > depth:
            return False
        state = depth
        position = count - 1
        # fast path: from the innermost state outwards, up to the deep wildcard
        while True:
            if position < 0:
                return True
            item = items[position]
            if not _item_matches(item, pii, position, state, keys, lowered, vts):
                return False
            state -= 1
            position -= 1
            if item[0] == DEEP:
                break
        # slow path: the remaining selector items [0..position] must match, in order, a run of
        # the remaining states [0..state] that starts at the first state matching items[0].
        if position < 0:
            return state >= 0
        first = items[0]
        start = 0
        while start <= state and not _item_matches(first, pii, 0, start, keys, lowered, vts):
            start += 1
        if start > state:
            return False
        current = start + 1
        selector = 1
        while current <= state and selector <= position:
            if not _item_matches(items[selector], pii, selector, current, keys, lowered, vts):
                return False
            current += 1
            selector += 1
        return selector > position

    return match_deep


def compile_selector(selector: Selector) -> Matcher:
    if isinstance(selector, Path):
        return _compile_path(selector.items)
    if isinstance(selector, Not):
        inner = compile_selector(selector.inner)
        return lambda keys, lowered, vts, pii: not inner(keys, lowered, vts, pii)
    parts = [compile_selector(p) for p in selector.parts]
    if isinstance(selector, And):
        return lambda keys, lowered, vts, pii: all(p(keys, lowered, vts, pii) for p in parts)
    assert isinstance(selector, Or)
    return _compile_or(selector, parts)


def _compile_or(selector: Or, parts: list[Matcher]) -> Matcher:
    """An Or of many paths (the cookie list has 69) is indexed by the last path item's key."""
    by_key: dict[str, list[Matcher]] = {}
    general: list[Matcher] = []
    for part, compiled in zip(selector.parts, parts, strict=True):
        if isinstance(part, Path) and part.items[-1][0] == KEY:
            last = part.items[-1][1]
            assert isinstance(last, str)
            by_key.setdefault(last.lower(), []).append(compiled)
        else:
            general.append(compiled)
    if not by_key:
        return lambda keys, lowered, vts, pii: any(p(keys, lowered, vts, pii) for p in general)

    def match(keys: list[object], lowered: list[object], vts: list[int], pii: int) -> bool:
        last = lowered[-1]
        candidates = by_key.get(last) if isinstance(last, str) else None
        if candidates is not None:
            for p in candidates:
                if p(keys, lowered, vts, pii):
                    return True
        return any(p(keys, lowered, vts, pii) for p in general)

    return match
