"""Walking an event and applying the compiled PII applications (Relay's ``PiiProcessor``).

The walk follows the schema (:mod:`spyglass.digest.scrubbing_schema`): it enters only the
parts of the event that can hold PII and keeps the path for selector matching. Each distinct
path shape gets a small integer ("ctx", interned from the parent's ctx, the key and the value
type) and the set of applications whose selectors match it is computed once and cached as a
:class:`Plan`. A plan carries cheap necessary conditions (hints) of everything its rules look
for: literals, and small regexes not searched for in text shorter than their pattern's
shortest match. Most strings fail them all and are left alone without running a rule.

Where a part of the event has no ``_meta`` of its own (nearly everywhere), the walk does not
visit each value: what each field of a struct, each key of a map of any JSON (frame vars,
breadcrumb and span data) and each string of a list needs is decided once per path (the
plan, whether a rule could act on the key) and a value is only visited when a rule could
change it. A short string seen again under the same key (a filtered password, a header)
gets the rules' earlier result.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Callable
from typing import Any

from spyglass.digest.scrubbing_match import Matcher
from spyglass.digest.scrubbing_nodes import (
    ARRAY,
    BOOLEAN,
    K_ARRAY,
    K_CONTEXTS,
    K_IMAGE,
    K_OBJECT,
    K_OPAQUE,
    K_PAIRS,
    K_PATH,
    K_STRING,
    K_STRUCT,
    K_VALUE,
    NO,
    NUMBER,
    OBJECT,
    STRING,
    Node,
)
from spyglass.digest.scrubbing_rules import (
    HINTS,
    KEY,
    KEY_VALUE,
    PATTERNS,
    REMOVED,
    VALUE,
    Chunk,
    CompiledRule,
    Hint,
    apply_regex_to_chunks,
    join_chunks,
    split_chunks,
)
from spyglass.digest.scrubbing_schema import SPAN_DATA_VALUE, span_data_pii

__all__ = ["Engine", "Plan"]

# Relay never scrubs these strings (not even by key).
_SKIP_STRINGS = frozenset(("", "true", "false", "null", "undefined"))
_ANYTHING = PATTERNS["anything"]
_DELETE = object()
_CACHE_LIMIT = 200_000
_MISSING: Any = object()

# JSON value -> (kind, value type)
_JSON_KINDS: dict[type, tuple[int, int]] = {
    str: (K_STRING, STRING),
    dict: (K_OBJECT, OBJECT),
    list: (K_ARRAY, ARRAY),
    bool: (K_OPAQUE, BOOLEAN),
    int: (K_OPAQUE, NUMBER),
    float: (K_OPAQUE, NUMBER),
}
_ANY = Node(K_VALUE, name="value")

# What to do with a field of a struct walked without ``_meta`` (see Engine.field_op):
_SKIP = 0  # nothing can apply to it
_STR = 1  # a string field: (op, node, pii, plan, key fires)
_ANY_VALUE = (
    2  # any JSON: (op, node, pii, (plan, key fires) of a string, (ctx, key fires) of a map)
)
_BAG = 3  # a map of any JSON: (op, node, pii, ctx of the map, key fires)
_DESCEND = 4  # a struct or list no rule removes: (op, node, pii, ctx of the value, None)
_VISIT = 5  # anything else: visit it
FieldOp = tuple[int, Node, int, Any, Any]
_SKIP_OP: FieldOp = (_SKIP, _ANY, NO, None, False)


class Plan:
    """The rules of one set of matched applications, in application order, with quick
    checks: could any rule touch a value with this key, or this string value?"""

    __slots__ = ("anything", "check_key", "check_value", "results", "rules", "steps", "values")

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.anything = any(r.is_anything for r in rules)
        # short strings seen before -> whether a rule could touch them (values repeat a lot)
        self.values: dict[str, bool] = {}
        # (key, short string, its remarks) seen before -> what the rules made of it
        self.results: dict[tuple[str, str, Any], _Result] = {}
        # the rules as run_rules goes through them, with each regex's hint check
        self.steps = tuple(
            (
                rule,
                rule.redaction.chunked,
                rule.is_anything,
                tuple(
                    (kind, regex, groups, _hint_check(regex.pattern))
                    for kind, regex, groups in rule.matchers
                ),
            )
            for rule in rules
        )
        key_hints: list[Hint | None] = []
        value_hints: list[Hint | None] = []
        for rule in rules:
            for kind, regex, _groups in rule.matchers:
                hint = HINTS.get(regex.pattern)
                if kind != VALUE:
                    key_hints.append(hint)
                if kind != KEY:
                    value_hints.append(hint)
        self.check_key = _check(key_hints)
        self.check_value = _check(value_hints)

    def may_touch(self, value: str) -> bool:
        """Whether any rule could change this string (False is certain)."""
        if self.anything:
            return True
        if len(value) > 200:
            return self.check_value(value)
        values = self.values
        found = values.get(value)
        if found is None:
            if len(values) > 4096:
                values.clear()
            found = values[value] = self.check_value(value)
        return found


def _check(hints: list[Hint | None]) -> Callable[[str], bool]:
    """A function telling whether any of the hints fires (always True without hints)."""
    if any(h is None for h in hints):
        return _always
    folded = tuple(dict.fromkeys(lit for h in hints if h for lit in h.folded))
    raw = tuple(dict.fromkeys(lit for h in hints if h for lit in h.raw))
    # Each regex on its own (one alternation of them all is searched for several times
    # slower), skipped in text shorter than any match of its pattern, shortest first.
    shortest: dict[str, int] = {}
    for h in hints:
        if h and h.regex:
            shortest[h.regex] = min(h.min_len, shortest.get(h.regex, h.min_len))
    searches = tuple(
        (length, re.compile(regex).search)
        for regex, length in sorted(shortest.items(), key=lambda item: item[1])
    )
    min_len = searches[0][0] if searches else 0

    def check(text: str) -> bool:
        for literal in raw:
            if literal in text:
                return True
        if folded:
            low = text.casefold()
            for literal in folded:
                if literal in low:
                    return True
        if searches:
            size = len(text)
            if size >= min_len:
                for length, search in searches:
                    if size < length:
                        return False
                    if search(text) is not None:
                        return True
        return False

    return check


def _always(_text: str) -> bool:
    return True


def _ip_is_valid(value: Any) -> bool:
    """Relay's IpAddr::is_valid: ``{{auto}}`` or an address Rust's std parses."""
    if value is None:
        return True
    if type(value) is not str:
        return False
    if value == "{{auto}}":
        return True
    if "%" in value:
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class _StringWork:
    """A string being rewritten by rules: its chunks, remarks and original length."""

    __slots__ = ("changed", "chunks", "length", "remarks", "value")

    def __init__(self, value: str, remarks: list[Any] | None) -> None:
        self.value = value
        self.remarks = remarks
        self.chunks: list[Chunk] | None = None
        self.changed = False
        self.length: int | None = None

    def apply(self, rule: CompiledRule, regex: re.Pattern[str], groups: tuple[int, ...]) -> None:
        chunks = self.chunks
        # nothing redacted yet: the value itself is the text the regex runs on
        if (
            chunks is None
            and not self.remarks
            and "\x00" not in self.value
            and regex.search(self.value) is None
        ):
            return
        if chunks is None:
            remarks = self.remarks
            chunks = split_chunks(self.value, remarks) if remarks else [Chunk(self.value)]
            self.chunks = chunks
        new_chunks = apply_regex_to_chunks(chunks, rule, regex, groups)
        if new_chunks is None:
            return
        new_value, remarks = join_chunks(new_chunks)
        if new_value == self.value:
            return
        if not self.changed or self.length is None:
            self.length = len(self.value)
        self.changed = True
        self.value = new_value
        self.chunks = new_chunks
        self.remarks = remarks

    def remove(self, rule: CompiledRule) -> None:
        remarks = list(self.remarks) if self.remarks else []
        remarks.append([rule.origin, REMOVED])
        self.remarks = remarks
        self.changed = True


def _hint_check(pattern: str) -> Callable[[str], bool]:
    check = _HINT_CHECKS.get(pattern)
    if check is None:
        hint = HINTS.get(pattern)
        check = _HINT_CHECKS[pattern] = _check([hint])
    return check


_HINT_CHECKS: dict[str, Callable[[str], bool]] = {}


def run_rules(work: _StringWork, plan: Plan, key: str) -> bool:
    """Relay's apply_rule_to_value over a plan; True when the string is to be removed."""
    for rule, chunked, anything, matchers in plan.steps:
        if anything and not chunked:
            work.remove(rule)
            return True
        for kind, regex, groups, hint in matchers:
            if kind == VALUE:
                if hint(work.value):
                    work.apply(rule, regex, groups)
            elif regex.search(key):
                if not chunked:
                    work.remove(rule)
                    return True
                work.apply(rule, _ANYTHING, groups)
            elif kind == KEY_VALUE and hint(work.value):
                work.apply(rule, regex, groups)
    return False


# (removed, changed, new value, remarks, original length) of a string run through a plan
_Result = tuple[bool, bool, str, "list[Any] | None", "int | None"]
_MEMO_LENGTH = 200  # longer strings are not remembered
_MEMO_SIZE = 4096


def _run_remembered(plan: Plan, value: str, remarks: list[Any] | None, key: str) -> _Result:
    """run_rules on a fresh string, remembered per plan for short strings: the same value
    under the same key (a filtered password, a header) comes back event after event. The
    rules are deterministic, and remarks are copied out, never shared."""
    memo_key: tuple[str, str, Any] | None = None
    if len(value) <= _MEMO_LENGTH:
        if remarks is None:
            memo_key = (key, value, None)
        elif all(type(r) is list for r in remarks):
            memo_key = (key, value, tuple(tuple(r) for r in remarks))
    result = None
    if memo_key is not None:
        try:
            result = plan.results.get(memo_key)
        except TypeError:  # (remarks that are not plain values)
            memo_key = None
    if result is None:
        work = _StringWork(value, remarks)
        removed = run_rules(work, plan, key)
        result = (removed, work.changed, work.value, work.remarks, work.length)
        if memo_key is not None:
            if len(plan.results) >= _MEMO_SIZE:
                plan.results.clear()
            plan.results[memo_key] = result
            result = (removed, work.changed, work.value, _copied(work.remarks), work.length)
    else:
        result = (result[0], result[1], result[2], _copied(result[3]), result[4])
    return result


def _copied(remarks: list[Any] | None) -> list[Any] | None:
    return None if remarks is None else [list(r) if type(r) is list else r for r in remarks]


class Engine:
    def __init__(
        self,
        applications: list[tuple[Matcher, list[CompiledRule]]],
        *,
        index_sensitive: bool,
        root: Node,
    ):
        self.applications = applications
        self.root = root
        # Without index selectors all indices share a path shape.
        self.index_sensitive = index_sensitive
        # (parent ctx, key or index, value type) -> ctx; ctx * 4 + pii -> Plan | False
        self.ctx_table: dict[tuple[int, object, int], int] = {}
        self.plan_table: dict[int, Plan | None] = {}
        self.entries: dict[int, tuple[Plan | None, bool]] = {}
        self.struct_walks: dict[tuple[int, int], tuple[tuple[str, int, Node], ...]] = {}
        # structs without ``_meta``: (ctx, id(node)) -> what to do with each field; the fields
        # of a struct without other fields, in schema order; the keys seen, for the others
        self.closed_ops: dict[tuple[int, int], dict[str, FieldOp]] = {}
        self.open_ops: dict[tuple[int, int], dict[str, FieldOp]] = {}
        # maps of any JSON: ctx * 4 + pii (3: span data) -> key -> (pii, plan, key fires) of a
        # string value
        self.bag_keys: dict[int, dict[str, tuple[int, Plan | None, bool]]] = {}
        self.plans: dict[tuple[int, ...], Plan] = {}
        # (keys, lowered keys, value types, pii) of a ctx, for matching it the first time
        self.ctx_paths: dict[
            int, tuple[tuple[object, ...], tuple[object, ...], tuple[int, ...]]
        ] = {0: ((None,), (None,), (0,))}
        self._ids = itertools.count(1)

    def scrub(self, event: dict[str, Any]) -> dict[str, Any]:
        if len(self.ctx_table) > _CACHE_LIMIT:
            self.ctx_table.clear()
            self.plan_table.clear()
            self.entries.clear()
            self.struct_walks.clear()
            self.closed_ops.clear()
            self.open_ops.clear()
            self.bag_keys.clear()
            del_keys = [k for k in self.ctx_paths if k]
            for k in del_keys:
                del self.ctx_paths[k]
        meta = event.get("_meta")
        walk = _Walk(self, event, meta if type(meta) is dict else None)
        walk.struct(event, self.root, 0, walk.meta_root, True)
        return event

    def child_ctx(self, parent: int, key: object, vt: int) -> int:
        if type(key) is int and not self.index_sensitive:
            key = -1
        token = (parent, key, vt)
        ctx = self.ctx_table.get(token)
        if ctx is None:
            ctx = next(self._ids)  # (atomic: scrubbers are shared between threads)
            keys, lowered, vts = self.ctx_paths[parent]
            self.ctx_paths[ctx] = (
                (*keys, key),
                (*lowered, key.lower() if type(key) is str else None),
                (*vts, vt),
            )
            self.ctx_table[token] = ctx
        return ctx

    def struct_walk(self, ctx: int, node: Node) -> tuple[tuple[str, int, Node], ...]:
        """The fields of a struct at this path that can matter: leaves some rule applies to,
        and containers (to look inside)."""
        kept = []
        for key, pii, child in node.walk:
            if child.kind in (K_STRING, K_PATH, K_OPAQUE):
                if child.vt & BOOLEAN or not pii:
                    continue
                if self.plan(self.child_ctx(ctx, key, child.vt), pii) is None:
                    continue
            kept.append((key, pii, child))
        walk = self.struct_walks[(ctx, id(node))] = tuple(kept)
        return walk

    def closed_struct(self, ctx: int, node: Node) -> dict[str, FieldOp]:
        """The fields of a struct without other fields that can matter, with their ops."""
        ops = {
            key: self.field_op(ctx, key, pii, child)
            for key, pii, child in self.struct_walk(ctx, node)
        }
        self.closed_ops[(ctx, id(node))] = ops
        return ops

    def open_field(self, ctx: int, node: Node, key: str) -> FieldOp:
        """The op of a field of a struct that takes other fields, remembered."""
        field = node.fields.get(key)
        pii, child = (node.other, _ANY) if field is None else field
        op = self.field_op(ctx, key, pii, child) if pii or child.deep else _SKIP_OP
        self.open_ops[(ctx, id(node))][key] = op
        return op

    def field_op(self, ctx: int, key: str, pii: int, node: Node) -> FieldOp:
        """What :meth:`_Walk.visit` would do with a field, decided once per path: for the
        value types it checks here, the plan of the path it would enter and whether a rule
        could act on the key; anything else is visited."""
        kind = node.kind
        if kind in (K_STRUCT, K_ARRAY):
            # (entered without a look at the key when it cannot hold PII itself)
            cctx = self.child_ctx(ctx, key, node.vt)
            if pii == NO or not self.entry(cctx, pii)[1]:
                return (_DESCEND, node, pii, cctx, None) if node.deep or pii else _SKIP_OP
            return (_VISIT, node, pii, None, False)
        if pii == NO:
            # (visit enters containers only)
            return (_VISIT, node, pii, None, False) if node.deep else _SKIP_OP
        if kind == K_STRING:
            plan, fires = self.entry(self.child_ctx(ctx, key, node.vt), pii)
            return (_STR, node, pii, plan, fires)
        if kind == K_VALUE and node is not SPAN_DATA_VALUE:
            string = self.entry(self.child_ctx(ctx, key, STRING), pii)
            cctx = self.child_ctx(ctx, key, OBJECT)
            return (_ANY_VALUE, node, pii, string, (cctx, self.entry(cctx, pii)[1]))
        if kind == K_OBJECT and not node.vt & BOOLEAN:
            item = _item(node, K_OBJECT)
            if item is SPAN_DATA_VALUE or item.kind == K_VALUE:
                cctx = self.child_ctx(ctx, key, node.vt)
                return (_BAG, node, pii, cctx, self.entry(cctx, pii)[1])
        # an opaque value is only removed by key (or @anything), whatever the value
        if kind == K_OPAQUE and (
            node.vt & BOOLEAN or not self.entry(self.child_ctx(ctx, key, node.vt), pii)[1]
        ):
            return _SKIP_OP
        return (_VISIT, node, pii, None, False)

    def bag_key(self, ctx: int, key: str, span: bool, pii: int) -> tuple[int, Plan | None, bool]:
        """(pii, plan, key fires) of a string under ``key`` in a map of any JSON."""
        if span:
            pii = span_data_pii(key)
        if pii == NO:
            return (NO, None, False)
        plan, fires = self.entry(self.child_ctx(ctx, key, STRING), pii)
        return (pii, plan, fires)

    def entry(self, ctx: int, pii: int) -> tuple[Plan | None, bool]:
        """(plan, whether a rule could act on the key) for a path; plan None: no rules."""
        found = self.entries.get(ctx * 4 + pii)
        if found is None:
            plan = self.plan(ctx, pii)
            if plan is None:
                found = (None, False)
            else:
                key = self.ctx_paths[ctx][0][-1]
                found = (plan, plan.anything or plan.check_key(key if type(key) is str else ""))
            self.entries[ctx * 4 + pii] = found
        return found

    def plan(self, ctx: int, pii: int) -> Plan | None:
        key = ctx * 4 + pii
        found = self.plan_table.get(key, _MISSING)
        if found is _MISSING:
            keys, lowered, vts = self.ctx_paths[ctx]
            keys_l, lowered_l, vts_l = list(keys), list(lowered), list(vts)
            matched = tuple(
                i
                for i, (matcher, _rules) in enumerate(self.applications)
                if matcher(keys_l, lowered_l, vts_l, pii)
            )
            plan = None
            if matched:
                plan = self.plans.get(matched)
                if plan is None:
                    rules = [rule for i in matched for rule in self.applications[i][1]]
                    plan = self.plans[matched] = Plan(rules)
            self.plan_table[key] = plan
            return plan
        plan_found: Plan | None = found
        return plan_found


def _item(node: Node, kind: int) -> Node:
    """The node of the elements of a list or map ``node``."""
    if node.kind == kind and node.item is not None:
        return node.item
    return SPAN_DATA_VALUE if node is SPAN_DATA_VALUE else _ANY


class _Walk:
    """One scrub of one event. ``spath`` is the serialization path, for ``_meta``."""

    __slots__ = (
        "child_ctx",
        "closed_ops",
        "ctx_table",
        "engine",
        "entries",
        "entry",
        "event",
        "index_sensitive",
        "meta_root",
        "open_ops",
        "plan",
        "spath",
        "struct_walks",
    )

    def __init__(self, engine: Engine, event: dict[str, Any], meta: dict[str, Any] | None):
        self.engine = engine
        self.event = event
        self.meta_root = meta
        self.spath: list[object] = []  # keys and indices; str() when writing _meta
        self.child_ctx = engine.child_ctx
        self.plan = engine.plan
        self.entry = engine.entry
        self.ctx_table = engine.ctx_table
        self.entries = engine.entries
        self.struct_walks = engine.struct_walks
        self.closed_ops = engine.closed_ops
        self.open_ops = engine.open_ops
        self.index_sensitive = engine.index_sensitive

    # -- _meta ----------------------------------------------------------------------------------

    def meta_entry(self, extra: str | None = None, prune: bool = False) -> dict[str, Any]:
        """The ``""`` entry of the current value's meta, created if needed. ``prune``: the
        value is removed, so is the meta of what was inside it."""
        if self.meta_root is None:
            self.meta_root = {}
            self.event["_meta"] = self.meta_root
        node = self.meta_root
        for item in self.spath:
            segment = item if type(item) is str else str(item)
            child = node.get(segment)
            if type(child) is not dict:
                child = node[segment] = {}
            node = child
        if extra is not None:
            child = node.get(extra)
            if type(child) is not dict:
                child = node[extra] = {}
            node = child
        entry = node.get("")
        if type(entry) is not dict:
            entry = node[""] = {}
        if prune:
            for key in [k for k in node if k != ""]:
                del node[key]
        return entry

    # -- one value ------------------------------------------------------------------------------

    def visit(
        self,
        holder: Any,
        slot: Any,
        key: object,
        value: Any,
        node: Node,
        pii: int,
        ctx: int,
        pmeta: dict[str, Any] | None,
    ) -> None:
        """Processes ``holder[slot] == value``, entered as ``key`` under path ``ctx``."""
        kind = node.kind
        if kind == K_VALUE or (kind == K_STRING and type(value) is not str):
            found = _JSON_KINDS.get(type(value))
            if found is None:
                if value is None and pii and pmeta is not None:
                    self.original_value(slot, key, node.vt, pii, ctx, pmeta)
                return
            kind, vt = found
            if kind != K_STRING and node.kind == K_STRING:
                kind = K_OPAQUE
        elif value is None:
            if pii and pmeta is not None:
                self.original_value(slot, key, node.vt, pii, ctx, pmeta)
            return
        else:
            vt = node.vt

        if pii == NO:
            if not node.deep or kind in (K_STRING, K_OPAQUE, K_PATH):
                return
            self.descend(value, kind, node, NO, self.child_ctx(ctx, key, vt), pmeta, slot)
            return

        cctx = self.child_ctx(ctx, key, vt)
        meta = pmeta.get(str(slot)) if pmeta is not None else None
        if meta is not None and type(meta) is not dict:
            meta = None
        if meta is not None and "" in meta and pmeta is not None:
            self.original_value(slot, key, vt, pii, ctx, pmeta)
        if kind == K_STRING:
            if value in _SKIP_STRINGS:
                return
            plan, key_fires = self.entry(cctx, pii)
            if plan is None:
                return
            if (meta is None or "" not in meta) and not key_fires and not plan.may_touch(value):
                return
            self.spath.append(slot)
            result = self.scrub_string(value, plan, key, meta)
            self.spath.pop()
            if result is not None:
                holder[slot] = None if result is _DELETE else result
            return
        if kind == K_PATH:
            if type(value) is str:
                self.native_path(holder, slot, key, value, pii, cctx, meta)
            return
        if vt & BOOLEAN:
            return
        plan = self.plan(cctx, pii)
        if plan is not None and self.container_rules(plan, key, slot):
            holder[slot] = None
            return
        if kind != K_OPAQUE:
            self.descend(value, kind, node, pii, cctx, pmeta, slot)

    def descend(
        self,
        value: Any,
        kind: int,
        node: Node,
        pii: int,
        ctx: int,
        pmeta: dict[str, Any] | None,
        slot: Any,
    ) -> None:
        meta = pmeta.get(str(slot)) if pmeta is not None else None
        if meta is not None and type(meta) is not dict:
            meta = None
        self.spath.append(slot)
        if kind == K_STRUCT:
            if type(value) is dict:
                self.struct(value, node, ctx, meta, False)
        elif kind == K_ARRAY:
            if type(value) is list:
                self.array(value, _item(node, K_ARRAY), pii, ctx, meta)
        elif kind == K_OBJECT:
            if type(value) is dict:
                item = _item(node, K_OBJECT)
                if item is SPAN_DATA_VALUE or (pii and item.kind == K_VALUE):
                    # (with PII, any JSON value is visited alike whatever its node)
                    self.bag(value, pii, ctx, item, meta)
                else:
                    visit = self.visit
                    for key, child in value.items():
                        visit(value, key, key, child, item, pii, ctx, meta)
        elif kind == K_PAIRS:
            if type(value) is list:
                self.pairs(value, node.item or _ANY, pii, ctx, meta)
        elif kind == K_CONTEXTS and type(value) is dict:
            self.variants(value, node, ctx, meta)
        self.spath.pop()

    # -- containers -----------------------------------------------------------------------------

    def bag(self, obj: dict[str, Any], pii: int, ctx: int, node: Node, meta: Any) -> None:
        """The children of a map of any JSON (``extra``, frame ``vars``, span data...), kept
        tight. ``node``: ``SPAN_DATA_VALUE`` for span data (each key has its own PII flag), or
        any value node (then ``pii`` is not NO). Children with ``_meta`` are visited."""
        span = node is SPAN_DATA_VALUE
        engine = self.engine
        slot = ctx * 4 + (3 if span else pii)
        keys = engine.bag_keys.get(slot)
        if keys is None:
            keys = engine.bag_keys[slot] = {}
        visit = self.visit
        for key, child in obj.items():
            if meta is not None and type(meta.get(key)) is dict:
                visit(obj, key, key, child, node, span_data_pii(key) if span else pii, ctx, meta)
                continue
            kind = type(child)
            if kind is str:
                if child in _SKIP_STRINGS:
                    continue
                found = keys.get(key)
                if found is None:
                    found = keys[key] = engine.bag_key(ctx, key, span, pii)
                child_pii, plan, key_fires = found
                if plan is None:
                    continue
                if not key_fires:
                    touch = plan.values.get(child)
                    if touch is None:
                        touch = plan.may_touch(child)
                    if not touch:
                        continue
                visit(obj, key, key, child, node, child_pii, ctx, None)
                continue
            if child is None or kind is bool:
                continue
            child_pii = span_data_pii(key) if span else pii
            if kind is dict or kind is list:
                cctx = self.child_ctx(ctx, key, OBJECT if kind is dict else ARRAY)
                # (no PII: span data entered whatever the key, like visit does)
                if child_pii == NO or not self.entry(cctx, child_pii)[1]:
                    spath = self.spath
                    spath.append(key)
                    if kind is dict:
                        self.bag(child, child_pii, cctx, node if span else _ANY, None)
                    else:
                        self.array(child, node if span else _ANY, child_pii, cctx, None)
                    spath.pop()
                    continue
            # a number is only removed by key (or @anything)
            if (kind is int or kind is float) and (
                child_pii == NO or not self.entry(self.child_ctx(ctx, key, NUMBER), child_pii)[1]
            ):
                continue
            visit(obj, key, key, child, node, child_pii, ctx, None)

    def struct(
        self, obj: dict[str, Any], node: Node, ctx: int, meta: Any, root: bool = False
    ) -> None:
        fields = node.fields
        other = node.other
        special = node.special
        visit = self.visit
        if not root and not special:
            engine = self.engine
            if other == NO:
                closed = self.closed_ops.get((ctx, id(node)))
                if closed is None:
                    closed = engine.closed_struct(ctx, node)
                if meta is not None:
                    self.closed_with_meta(obj, node, ctx, meta, closed)
                    return
                for key, op in closed.items():
                    child = obj.get(key)
                    if child is None:
                        continue
                    if op[0] == _STR and type(child) is str:
                        plan = op[3]
                        if plan is None or child in _SKIP_STRINGS:
                            continue
                        if not op[4]:
                            touch = plan.values.get(child)
                            if touch is None:
                                touch = plan.may_touch(child)
                            if not touch:
                                continue
                        visit(obj, key, key, child, op[1], op[2], ctx, None)
                    else:
                        self.field(obj, key, child, op, ctx)
                return
            opened = self.open_ops.get((ctx, id(node)))
            if opened is None:
                opened = self.open_ops[(ctx, id(node))] = {}
            if meta is not None:
                self.open_with_meta(obj, node, ctx, meta, opened)
                return
            for key, child in obj.items():
                op = opened.get(key) or engine.open_field(ctx, node, key)
                code = op[0]
                if code == _SKIP or child is None:
                    continue
                if code == _STR and type(child) is str:
                    plan = op[3]
                    if plan is None or child in _SKIP_STRINGS:
                        continue
                    if not op[4]:
                        touch = plan.values.get(child)
                        if touch is None:
                            touch = plan.may_touch(child)
                        if not touch:
                            continue
                    visit(obj, key, key, child, op[1], op[2], ctx, None)
                else:
                    self.field(obj, key, child, op, ctx)
            return
        ip_valid = _ip_is_valid(obj.get("ip_address")) if special == "user" else True
        items = list(obj.items()) if root or special else obj.items()
        for key, child in items:
            field = fields.get(key)
            if field is None:
                if other == NO or (root and key == "_meta"):
                    continue
                visit(obj, key, key, child, _ANY, other, ctx, meta)
            else:
                pii, child_node = field
                if pii or child_node.deep:
                    visit(obj, key, key, child, child_node, pii, ctx, meta)
        if special == "user":
            self.user_ip(obj, ip_valid)

    def closed_with_meta(
        self, obj: dict[str, Any], node: Node, ctx: int, meta: Any, closed: dict[str, FieldOp]
    ) -> None:
        """A struct without other fields that has ``_meta``: its fields with ``_meta`` of
        their own are visited, the others go by their ops (as without ``_meta``)."""
        for key, pii, child_node in node.walk:
            if key not in obj:
                continue
            child = obj[key]
            if type(meta.get(key)) is dict:
                self.visit(obj, key, key, child, child_node, pii, ctx, meta)
                continue
            op = closed.get(key)
            if op is not None and child is not None:
                self.field(obj, key, child, op, ctx)

    def open_with_meta(
        self, obj: dict[str, Any], node: Node, ctx: int, meta: Any, opened: dict[str, FieldOp]
    ) -> None:
        """A struct that takes other fields and has ``_meta``: its fields with ``_meta`` of
        their own are visited, the others go by their ops (as without ``_meta``)."""
        fields = node.fields
        for key, child in obj.items():
            if type(meta.get(key)) is dict:
                # (even None: normalization may have kept the original value in _meta)
                field = fields.get(key)
                pii, child_node = (node.other, _ANY) if field is None else field
                if pii or child_node.deep:
                    self.visit(obj, key, key, child, child_node, pii, ctx, meta)
                continue
            op = opened.get(key) or self.engine.open_field(ctx, node, key)
            if op[0] != _SKIP and child is not None:
                self.field(obj, key, child, op, ctx)

    def field(self, obj: dict[str, Any], key: str, child: Any, op: FieldOp, ctx: int) -> None:
        """A field of a struct without ``_meta`` (not None) by its op, when the caller's quick
        checks did not settle it."""
        code, node, pii, first, second = op
        kind = type(child)
        if code == _DESCEND:
            if node.kind == K_STRUCT:
                if kind is dict:
                    self.spath.append(key)
                    self.struct(child, node, first, None)
                    self.spath.pop()
            elif kind is list:
                self.spath.append(key)
                self.array(child, _item(node, K_ARRAY), pii, first, None)
                self.spath.pop()
            return
        if code == _BAG:
            if kind is dict and not second:
                self.spath.append(key)
                self.bag(child, pii, first, node.item or _ANY, None)
                self.spath.pop()
                return
        elif code == _STR:
            if kind is str:
                plan, key_fires = first, second
                if plan is None or child in _SKIP_STRINGS:
                    return
                if not key_fires and not plan.may_touch(child):
                    return
        elif code == _ANY_VALUE:
            if kind is str:
                plan, key_fires = first
                if plan is None or child in _SKIP_STRINGS:
                    return
                if not key_fires and not plan.may_touch(child):
                    return
            elif kind is dict:
                cctx, key_fires = second
                if not key_fires:
                    self.spath.append(key)
                    self.bag(child, pii, cctx, _ANY, None)
                    self.spath.pop()
                    return
            elif kind is bool:
                return
        elif code == _SKIP:
            return
        self.visit(obj, key, key, child, node, pii, ctx, None)

    def array(self, items: list[Any], item: Node | None, pii: int, ctx: int, meta: Any) -> None:
        if item is None:
            item = _ANY
        if item.kind == K_IMAGE:
            self.images(items, item, pii, ctx, meta)
            return
        if (
            item.kind == K_VALUE
            and items
            and type(items[0]) is list
            and all(type(p) is list and len(p) == 2 and type(p[0]) is str for p in items)
        ):
            # A list of [key, value] pairs is scrubbed like a map (so does Relay).
            self.pairs(items, item, pii, ctx, meta)
            return
        if item.kind == K_STRUCT and not pii and not self.index_sensitive:
            # all elements share one path shape: skip the list when no field matters
            cctx = self.child_ctx(ctx, 0, item.vt)
            if meta is None:
                walk = self.struct_walks.get((cctx, id(item)))
                if walk is None:
                    walk = self.engine.struct_walk(cctx, item)
                if not walk and item.other == NO and not item.special:
                    return
            spath = self.spath
            struct = self.struct
            spath.append(0)
            if meta is None and item.other == NO and not item.special:
                # (struct's loop for closed structs, inlined: breadcrumbs, frames...)
                closed = self.closed_ops.get((cctx, id(item)))
                if closed is None:
                    closed = self.engine.closed_struct(cctx, item)
                visit = self.visit
                field = self.field
                for index, obj in enumerate(items):
                    if type(obj) is not dict:
                        continue
                    spath[-1] = index
                    for key, op in closed.items():
                        child = obj.get(key)
                        if child is None:
                            continue
                        if op[0] == _STR and type(child) is str:
                            plan = op[3]
                            if plan is None or child in _SKIP_STRINGS:
                                continue
                            if not op[4]:
                                touch = plan.values.get(child)
                                if touch is None:
                                    touch = plan.may_touch(child)
                                if not touch:
                                    continue
                            visit(obj, key, key, child, op[1], op[2], cctx, None)
                        else:
                            field(obj, key, child, op, cctx)
            else:
                for index, child in enumerate(items):
                    if type(child) is dict:
                        spath[-1] = index
                        child_meta = meta.get(str(index)) if meta is not None else None
                        struct(child, item, cctx, child_meta if type(child_meta) is dict else None)
            spath.pop()
            return
        visit = self.visit
        if item.kind == K_VALUE and meta is None and pii and not self.index_sensitive:
            # all strings share one path shape: one plan for them all
            plan, key_fires = self.entry(self.child_ctx(ctx, 0, STRING), pii)
            for index, child in enumerate(items):
                if type(child) is str:
                    if plan is None or child in _SKIP_STRINGS:
                        continue
                    if not key_fires:
                        touch = plan.values.get(child)
                        if touch is None:
                            touch = plan.may_touch(child)
                        if not touch:
                            continue
                visit(items, index, index, child, item, pii, ctx, None)
            return
        for index, child in enumerate(items):
            visit(items, index, index, child, item, pii, ctx, meta)

    def pairs(self, items: list[Any], value_node: Node, pii: int, ctx: int, meta: Any) -> None:
        """Values addressed by their key (``$http.headers.x-token``), serialized by index."""
        visit = self.visit
        spath = self.spath
        for index, pair in enumerate(items):
            if type(pair) is not list or len(pair) != 2:
                continue
            key = pair[0]
            pair_meta = meta.get(str(index)) if meta is not None else None
            if pair_meta is not None and type(pair_meta) is not dict:
                pair_meta = None
            spath.append(index)
            if value_node is SPAN_DATA_VALUE and type(key) is str:
                visit(pair, 1, key, pair[1], value_node, span_data_pii(key), ctx, pair_meta)
            else:
                visit(
                    pair,
                    1,
                    key if type(key) is str else index,
                    pair[1],
                    value_node,
                    pii,
                    ctx,
                    pair_meta,
                )
            spath.pop()

    def variants(self, obj: dict[str, Any], node: Node, ctx: int, meta: Any) -> None:
        """Contexts: each entry is typed by its ``type``."""
        variants = node.variants
        for key, child in obj.items():
            if type(child) is not dict:
                continue
            kind = child.get("type")
            variant = variants.get(kind) if type(kind) is str else None
            pii, child_node = variant if variant is not None else variants[""]
            self.visit(obj, key, key, child, child_node, pii, ctx, meta)

    def images(self, items: list[Any], node: Node, pii: int, ctx: int, meta: Any) -> None:
        variants = node.variants
        for index, child in enumerate(items):
            if type(child) is not dict:
                continue
            kind = child.get("type")
            variant = variants.get(kind) if type(kind) is str else None
            child_node = (variant if variant is not None else variants[""])[1]
            self.visit(items, index, index, child, child_node, pii, ctx, meta)

    # -- rules ----------------------------------------------------------------------------------

    def container_rules(self, plan: Plan, key: object, slot: Any) -> bool:
        """A value that is not a string can only be removed, by key or by @anything."""
        text = key if type(key) is str else ""
        if not plan.anything and not plan.check_key(text):
            return False
        for rule in plan.rules:
            hit = rule.is_anything
            if not hit:
                for kind, regex, _groups in rule.matchers:
                    if kind != VALUE and regex.search(text):
                        hit = True
                        break
            if hit:
                entry = self.meta_entry(str(slot), prune=True)
                remarks = entry.get("rem")
                if type(remarks) is not list:
                    remarks = entry["rem"] = []
                remarks.append([rule.origin, REMOVED])
                return True
        return False

    def scrub_string(self, value: str, plan: Plan, key: object, meta: Any) -> Any:
        """The new value (``_DELETE``: remove it), or None when nothing changed. The value's
        serialization segment is the last one of ``spath``."""
        entry = meta.get("") if meta is not None else None
        remarks = entry.get("rem") if type(entry) is dict else None
        if type(remarks) is not list:
            remarks = None
        removed, changed, new_value, new_remarks, length = _run_remembered(
            plan, value, remarks, key if type(key) is str else ""
        )
        if not changed:
            return None
        entry = self.meta_entry()
        entry["rem"] = new_remarks or []
        if length is not None and "len" not in entry:
            entry["len"] = length
        return _DELETE if removed else new_value

    def native_path(
        self, holder: Any, slot: Any, key: object, value: str, pii: int, ctx: int, meta: Any
    ) -> None:
        """File paths keep their basename (Relay's process_native_image_path)."""
        plan = self.plan(ctx, pii)
        if plan is None:
            return
        cut = max(value.rfind("/"), value.rfind("\\"))
        if cut < 0:
            return
        head, basename = value[:cut], value[cut:]
        if head in _SKIP_STRINGS:
            return
        self.spath.append(slot)
        result = self.scrub_string(head, plan, key, meta)
        self.spath.pop()
        if result is not None:
            holder[slot] = basename[1:] if result is _DELETE else result + basename

    def original_value(
        self, slot: Any, key: object, vt: int, pii: int, ctx: int, pmeta: dict[str, Any]
    ) -> None:
        """Relay also scrubs the original value normalization kept in ``_meta``, as a string
        entered once more under the same key."""
        meta = pmeta.get(str(slot))
        entry = meta.get("") if type(meta) is dict else None
        if type(entry) is not dict:
            return
        original = entry.get("val")
        if type(original) is not str:
            return
        cctx = self.child_ctx(ctx, key, vt)
        plan = self.plan(self.child_ctx(cctx, key if type(key) is str else "", STRING), pii)
        if plan is None:
            return
        work = _StringWork(original, None)
        if run_rules(work, plan, key if type(key) is str else ""):
            del entry["val"]
        elif work.changed:
            entry["val"] = work.value

    def user_ip(self, user: dict[str, Any], was_valid: bool) -> None:
        """An IP address that scrubbing made invalid moves to ``user.id`` (Relay keeps hashed
        IPs countable as users), unless the user has an id, username or email."""
        ip = user.get("ip_address")
        if not was_valid or _ip_is_valid(ip):
            return
        if any(user.get(k) is not None for k in ("id", "username", "email")):
            return
        user["id"] = ip
        user["ip_address"] = None
        if self.meta_root is None:
            self.meta_root = self.event["_meta"] = {}
        node = self.meta_root
        for item in self.spath:
            segment = item if type(item) is str else str(item)
            child = node.get(segment)
            if type(child) is not dict:
                child = node[segment] = {}
            node = child
        ip_meta = node.pop("ip_address", None)
        if type(ip_meta) is dict and ip_meta:
            node["id"] = ip_meta
        else:
            node.pop("id", None)
        node["ip_address"] = {"": {"rem": [["pii:ip_address", REMOVED]]}}
