"""Walking an event and applying the compiled PII applications (Relay's ``PiiProcessor``).

The walk follows the schema (:mod:`spyglass.digest.scrubbing_schema`): it enters only the
parts of the event that can hold PII, keeps the path for selector matching, and applies the
rules of every application whose selector matches. Selector results are cached per distinct
path shape, and each set of matched applications becomes a :class:`Plan` with a combined
"could anything match at all" regex, so the common case (a value nothing applies to) costs a
dictionary lookup and one regex search.
"""

from __future__ import annotations

import ipaddress
import re
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
    KEY,
    KEY_VALUE,
    PATTERNS,
    REMOVED,
    VALUE,
    WHOLE_VALUE,
    Chunk,
    CompiledRule,
    apply_regex_to_chunks,
    join_chunks,
    split_chunks,
)

__all__ = ["Engine", "Plan"]

_SKIP_STRINGS = frozenset(("", "true", "false", "null", "undefined"))
_ANYTHING = PATTERNS["anything"]
_DELETE = object()
_CACHE_LIMIT = 100_000


def _vt_of(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return STRING
    if kind is dict:
        return OBJECT
    if kind is list:
        return ARRAY
    if kind is bool:
        return BOOLEAN
    if kind is int or kind is float:
        return NUMBER
    return 0


def _node_vt(node: Node, value: Any) -> int:
    if node.kind == K_VALUE:
        return _vt_of(value)
    if node.kind in (K_CONTEXTS, K_IMAGE):
        return 0
    return node.vt


class Plan:
    """The rules of one set of matched applications, in application order."""

    __slots__ = ("anything", "key_filter", "rules", "value_filter")

    def __init__(self, rules: list[CompiledRule]) -> None:
        self.rules = rules
        self.anything = any(r.is_anything for r in rules)
        key_patterns: list[str] = []
        value_patterns: list[str] = []
        for rule in rules:
            for kind, regex, _groups in rule.matchers:
                if kind in (KEY, KEY_VALUE):
                    key_patterns.append(regex.pattern)
                if kind in (VALUE, KEY_VALUE):
                    value_patterns.append(regex.pattern)
        self.key_filter = _combine(key_patterns)
        self.value_filter = _combine(value_patterns)


def _combine(patterns: list[str]) -> re.Pattern[str] | None:
    """One regex that matches where any of the patterns would (None: no prefilter)."""
    if not patterns:
        return re.compile(r"(?!)")
    unique = list(dict.fromkeys(patterns))
    try:
        return re.compile("|".join(f"(?:{p})" for p in unique))
    except re.error:
        return None


def _ip_is_valid(value: Any) -> bool:
    if value is None:
        return True
    if not isinstance(value, str):
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
        if self.chunks is None:
            self.chunks = (
                split_chunks(self.value, self.remarks) if self.remarks else [Chunk(self.value)]
            )
        new_chunks = apply_regex_to_chunks(self.chunks, rule, regex, groups)
        if new_chunks is None:
            return
        new_value, remarks = join_chunks(new_chunks)
        if new_value == self.value:
            return
        if not self.changed:
            self.changed = True
            self.length = len(self.value)
        self.value = new_value
        self.chunks = new_chunks
        self.remarks = remarks


class Engine:
    def __init__(
        self,
        applications: list[tuple[Matcher, list[CompiledRule]]],
        *,
        index_sensitive: bool,
        root: Node,
    ) -> None:
        self.applications = applications
        self.index_sensitive = index_sensitive
        self.root = root
        self._ctx: dict[tuple[int, object, int], int] = {}
        self._matches: dict[tuple[int, int], Plan | None] = {}
        self._plans: dict[tuple[int, ...], Plan] = {}

    # -- entry point ----------------------------------------------------------------------------

    def scrub(self, event: dict[str, Any]) -> dict[str, Any]:
        if not self.applications:
            return event
        if len(self._matches) > _CACHE_LIMIT or len(self._ctx) > _CACHE_LIMIT:
            self._matches.clear()
            self._ctx.clear()
        meta = event.get("_meta")
        walk = _Walk(self, event, meta if isinstance(meta, dict) else None)
        walk.struct(event, self.root, walk.meta_root, root=True)
        return event

    def plan_for(self, ctx: int, pii: int, walk: _Walk) -> Plan | None:
        key = (ctx, pii)
        try:
            return self._matches[key]
        except KeyError:
            pass
        matched = tuple(
            i
            for i, (matcher, _rules) in enumerate(self.applications)
            if matcher(walk.keys, walk.lowered, walk.vts, pii)
        )
        plan: Plan | None = None
        if matched:
            plan = self._plans.get(matched)
            if plan is None:
                rules = [rule for i in matched for rule in self.applications[i][1]]
                plan = self._plans[matched] = Plan(rules)
        self._matches[key] = plan
        return plan

    def ctx_id(self, parent: int, token: object, vt: int) -> int:
        key = (parent, token, vt)
        ctx = self._ctx.get(key)
        if ctx is None:
            ctx = self._ctx[key] = len(self._ctx) + 1
        return ctx


class _Walk:
    """One scrub of one event."""

    def __init__(self, engine: Engine, event: dict[str, Any], meta: dict[str, Any] | None):
        self.engine = engine
        self.event = event
        self.meta_root = meta
        self.keys: list[object] = [None]
        self.lowered: list[object] = [None]
        self.vts: list[int] = [0]
        self.ctxs: list[int] = [0]
        self.spath: list[str] = []
        self.index_sensitive = engine.index_sensitive

    # -- path -----------------------------------------------------------------------------------

    def push(self, key: object, vt: int, segment: str) -> None:
        if type(key) is str:
            lowered: object = key.lower()
            token = lowered
        else:
            lowered = None
            token = key if self.index_sensitive else -1
        self.keys.append(key)
        self.lowered.append(lowered)
        self.vts.append(vt)
        self.ctxs.append(self.engine.ctx_id(self.ctxs[-1], token, vt))
        self.spath.append(segment)

    def pop(self) -> None:
        self.keys.pop()
        self.lowered.pop()
        self.vts.pop()
        self.ctxs.pop()
        self.spath.pop()

    def plan(self, pii: int) -> Plan | None:
        return self.engine.plan_for(self.ctxs[-1], pii, self)

    def current_key(self) -> str:
        key = self.keys[-1]
        return key if type(key) is str else ""

    # -- _meta ----------------------------------------------------------------------------------

    def meta_node(self) -> dict[str, Any]:
        """The ``""`` entry of the current value's meta, created if needed."""
        if self.meta_root is None:
            self.meta_root = {}
            self.event["_meta"] = self.meta_root
        node = self.meta_root
        for segment in self.spath:
            child = node.get(segment)
            if not isinstance(child, dict):
                child = node[segment] = {}
            node = child
        entry = node.get("")
        if not isinstance(entry, dict):
            entry = node[""] = {}
        return entry

    # -- values ---------------------------------------------------------------------------------

    def value(self, holder: Any, slot: Any, value: Any, node: Node, pii: int, meta: Any) -> None:
        """Processes ``holder[slot] == value`` (already entered)."""
        if pii != NO and meta is not None:
            self.original_value(node, pii, meta)
        if value is None:
            return
        kind = node.kind
        if kind == K_VALUE or (kind == K_STRING and type(value) is not str):
            kind = _VALUE_KINDS.get(type(value), K_OPAQUE)
        if kind == K_STRING:
            if pii != NO:
                self.string(holder, slot, value, pii, meta)
            return
        if kind == K_PATH:
            if pii != NO and type(value) is str:
                self.native_path(holder, slot, value, pii, meta)
            return
        if pii != NO and not (kind == K_OPAQUE and self.vts[-1] & BOOLEAN):
            plan = self.plan(pii)
            if plan is not None and self.container_rules(plan, meta):
                holder[slot] = None
                return
        if kind == K_STRUCT:
            if type(value) is dict:
                self.struct(value, node, meta)
        elif kind == K_ARRAY:
            if type(value) is list:
                self.array(
                    value, node.item if node.kind != K_VALUE and node.item else _ANY, pii, meta
                )
        elif kind == K_OBJECT:
            if type(value) is dict:
                self.mapping(
                    value, node.item if node.kind != K_VALUE and node.item else _ANY, pii, meta
                )
        elif kind == K_PAIRS:
            if type(value) is list:
                self.pairs(value, node.item or _ANY, pii, meta)
        elif kind == K_CONTEXTS:
            if type(value) is dict:
                self.contexts(value, node, meta)
        elif kind == K_IMAGE:
            pass  # dispatched by the array

    def enter(
        self,
        holder: Any,
        slot: Any,
        key: object,
        value: Any,
        node: Node,
        pii: int,
        meta: Any,
    ) -> None:
        if pii == NO and not node.deep:
            return
        child_meta = meta.get(str(slot)) if meta is not None else None
        if child_meta is not None and not isinstance(child_meta, dict):
            child_meta = None
        if value is None and (child_meta is None or pii == NO):
            return
        self.push(key, _node_vt(node, value), str(slot))
        try:
            self.value(holder, slot, value, node, pii, child_meta)
        finally:
            self.pop()

    def struct(self, obj: dict[str, Any], node: Node, meta: Any, root: bool = False) -> None:
        fields = node.fields
        other = node.other
        items = list(obj.items()) if node.special or root else obj.items()
        user_ip_valid = _ip_is_valid(obj.get("ip_address")) if node.special == "user" else True
        for key, child in items:
            if root and key == "_meta":
                continue
            field = fields.get(key)
            if field is None:
                if other == NO:
                    continue
                self.enter(obj, key, key, child, _ANY, other, meta)
            else:
                pii, child_node = field
                if child_node.kind == K_IMAGE:
                    self.image(obj, key, key, child, child_node, pii, meta)
                else:
                    self.enter(obj, key, key, child, child_node, pii, meta)
        if node.special == "user":
            self.user_ip(obj, user_ip_valid)

    def array(self, items: list[Any], item: Node, pii: int, meta: Any) -> None:
        if item.kind == K_IMAGE:
            for index, child in enumerate(items):
                self.image(items, index, index, child, item, pii, meta)
            return
        if (
            item.kind == K_VALUE
            and items
            and all(
                type(pair) is list and len(pair) == 2 and type(pair[0]) is str for pair in items
            )
        ):
            # A list of [key, value] pairs is scrubbed like a map (Relay does the same).
            self.pairs(items, item, pii, meta)
            return
        for index, child in enumerate(items):
            self.enter(items, index, index, child, item, pii, meta)

    def mapping(self, obj: dict[str, Any], item: Node, pii: int, meta: Any) -> None:
        for key, child in obj.items():
            self.enter(obj, key, key, child, item, pii, meta)

    def pairs(self, items: list[Any], value_node: Node, pii: int, meta: Any) -> None:
        for index, pair in enumerate(items):
            if type(pair) is not list or len(pair) != 2:
                continue
            key = pair[0]
            pair_meta = meta.get(str(index)) if meta is not None else None
            if not isinstance(pair_meta, dict):
                pair_meta = None
            value = pair[1]
            value_meta = pair_meta.get("1") if pair_meta is not None else None
            if not isinstance(value_meta, dict):
                value_meta = None
            if value is None and (value_meta is None or pii == NO):
                continue
            # Addressed by key (``$http.headers.x-token``), serialized by position.
            self.push(key if type(key) is str else index, _node_vt(value_node, value), str(index))
            self.spath.append("1")
            try:
                self.value(pair, 1, value, value_node, pii, value_meta)
            finally:
                self.spath.pop()
                self.pop()

    def contexts(self, obj: dict[str, Any], node: Node, meta: Any) -> None:
        for key, child in obj.items():
            if type(child) is not dict:
                continue
            kind = child.get("type")
            variant = node.variants.get(kind) if isinstance(kind, str) else None
            if variant is None:
                variant = node.variants[""]
            pii, child_node = variant
            self.enter(obj, key, key, child, child_node, pii, meta)

    def image(
        self, holder: Any, slot: Any, key: object, child: Any, node: Node, pii: int, meta: Any
    ) -> None:
        if type(child) is not dict:
            return
        kind = child.get("type")
        variant = node.variants.get(kind) if isinstance(kind, str) else None
        if variant is None:
            variant = node.variants[""]
        variant_pii, variant_node = variant
        self.enter(holder, slot, key, child, variant_node, variant_pii or pii, meta)

    # -- rules ----------------------------------------------------------------------------------

    def container_rules(self, plan: Plan, meta: Any) -> bool:
        """Rules on a value that is not a string: only removal is possible. True: removed."""
        key = self.current_key()
        if not plan.anything and (plan.key_filter is not None and not plan.key_filter.search(key)):
            return False
        for rule in plan.rules:
            hit = rule.is_anything
            if not hit:
                for kind, regex, _groups in rule.matchers:
                    if kind != VALUE and regex.search(key):
                        hit = True
                        break
            if hit:
                entry = self.meta_node()
                remarks = entry.get("rem")
                if not isinstance(remarks, list):
                    remarks = entry["rem"] = []
                remarks.append([rule.origin, REMOVED])
                return True
        return False

    def run_rules(self, work: _StringWork, plan: Plan, key: str) -> bool:
        """Applies the plan to a string; True when the value is to be removed."""
        for rule in plan.rules:
            chunked = rule.redaction.chunked
            if rule.is_anything and not chunked:
                self.remove(work, rule)
                return True
            for kind, regex, groups in rule.matchers:
                if kind == VALUE:
                    work.apply(rule, regex, groups)
                elif regex.search(key):
                    if not chunked:
                        self.remove(work, rule)
                        return True
                    work.apply(rule, _ANYTHING, groups)
                elif kind == KEY_VALUE:
                    work.apply(rule, regex, groups)
        return False

    def remove(self, work: _StringWork, rule: CompiledRule) -> None:
        remarks = list(work.remarks) if work.remarks else []
        remarks.append([rule.origin, REMOVED])
        work.remarks = remarks
        work.changed = True

    def string(self, holder: Any, slot: Any, value: str, pii: int, meta: Any) -> None:
        if value in _SKIP_STRINGS:
            return
        plan = self.plan(pii)
        if plan is None:
            return
        result = self.scrub_string(value, plan, meta)
        if result is not None:
            holder[slot] = result if result is not _DELETE else None

    def scrub_string(self, value: str, plan: Plan, meta: Any) -> Any:
        """The new value (``_DELETE`` to remove it), or None when nothing changed."""
        key = self.current_key()
        existing = meta.get("") if meta is not None else None
        remarks = existing.get("rem") if isinstance(existing, dict) else None
        if not isinstance(remarks, list):
            remarks = None
        if (
            not plan.anything
            and remarks is None
            and plan.key_filter is not None
            and plan.value_filter is not None
            and not plan.key_filter.search(key)
            and not plan.value_filter.search(value)
        ):
            return None
        work = _StringWork(value, remarks)
        removed = self.run_rules(work, plan, key)
        if not work.changed:
            return None
        entry = self.meta_node()
        entry["rem"] = work.remarks or []
        if work.length is not None and "len" not in entry:
            entry["len"] = work.length
        return _DELETE if removed else work.value

    def native_path(self, holder: Any, slot: Any, value: str, pii: int, meta: Any) -> None:
        """File paths keep their basename (Relay's process_native_image_path)."""
        cut = max(value.rfind("/"), value.rfind("\\"))
        if cut < 0:
            return
        head, basename = value[:cut], value[cut:]
        if head in _SKIP_STRINGS:
            return
        plan = self.plan(pii)
        if plan is None:
            return
        result = self.scrub_string(head, plan, meta)
        if result is None:
            return
        holder[slot] = basename[1:] if result is _DELETE else result + basename

    def original_value(self, node: Node, pii: int, meta: Any) -> None:
        """Relay also scrubs the original value normalization kept in ``_meta``."""
        entry = meta.get("")
        if not isinstance(entry, dict):
            return
        original = entry.get("val")
        if type(original) is not str:
            return
        self.push(self.current_key(), STRING, "")
        try:
            plan = self.plan(pii)
            if plan is None:
                return
            work = _StringWork(original, None)
            if self.run_rules(work, plan, self.current_key()):
                del entry["val"]
            elif work.changed:
                entry["val"] = work.value
        finally:
            self.pop()

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
        meta = self.meta_root.get("user") if self.meta_root is not None else None
        ip_meta = meta.pop("ip_address", None) if isinstance(meta, dict) else None
        if isinstance(meta, dict):
            if ip_meta is not None:
                meta["id"] = ip_meta
            else:
                meta.pop("id", None)
        self.spath.append("ip_address")
        try:
            self.meta_node()["rem"] = [["pii:ip_address", REMOVED]]
        finally:
            self.spath.pop()


_ANY = Node(K_VALUE, name="value")
_VALUE_KINDS = {str: K_STRING, dict: K_OBJECT, list: K_ARRAY, int: K_OPAQUE, float: K_OPAQUE}
_ = WHOLE_VALUE
