"""Transaction search: a search query (`spyglass.search`) compiled to a query over
`performance.Transaction`, for the performance pages, the Discover API and metric alerts.

    rows = transaction_queryset([project], "op:http.server transaction.duration:>1s")

Keys read the transaction's own columns (name, op, status, duration, release, environment,
user, HTTP method and status code, trace, platform, SDK), its measurements (a JSON object)
and its tags (a JSON list of pairs); free text matches the transaction's name. A key the
compiler can't answer raises `SearchNotSupported` at the node's position, like any search
error, so a caller shows one message for both. docs/search.md "Transactions" lists the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.db.models import F, FloatField, Q, QuerySet
from django.db.models.fields.json import HasKey, KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.utils import timezone

from spyglass.issues.search import (
    ALWAYS,
    NEVER,
    RELEASE_PARTS,
    SearchNotSupported,
    _contains,
    _date_q,
    _integer_q,
    _storable,
    _text_q,
    json_tag_exists,
    json_tag_q,
    newest_releases,
    release_versions,
    stage_releases,
)
from spyglass.performance.models import Transaction
from spyglass.projects.models import Project
from spyglass.search import (
    And,
    DateValue,
    DurationValue,
    EnumValue,
    Filter,
    FreeText,
    Has,
    Node,
    NumberValue,
    Op,
    Or,
    Scope,
    TextValue,
    parse,
)
from spyglass.search.keys import MEASUREMENT_PREFIX, USER_KEY_PREFIXES
from spyglass.search.render import tag_key_text

__all__ = ["SearchNotSupported", "transaction_q", "transaction_queryset"]

_LOOKUPS = {Op.EQ: "exact", Op.GT: "gt", Op.GTE: "gte", Op.LT: "lt", Op.LTE: "lte"}


def transaction_queryset(
    projects: Iterable[Project | int],
    node_or_text: Node | str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    environment: str | Sequence[str] | None = None,
) -> QuerySet[Transaction]:
    """The transactions of `projects` (Project rows or ids) that match the query (text, parsed
    for the transaction scope, or a parsed AST), started in [`start`, `end`) and in one of
    `environment` when given. Raises `SearchSyntaxError` (or its `SearchNotSupported`) with
    the position of what it can't read or answer. The caller has checked access."""
    project_ids = tuple(p.pk if isinstance(p, Project) else int(p) for p in projects)
    if isinstance(node_or_text, str):
        node = parse(node_or_text, now=timezone.now(), scope=Scope.TRANSACTION)
    else:
        node = node_or_text
    rows = Transaction.objects.filter(project_id__in=project_ids)
    if start is not None:
        rows = rows.filter(start__gte=start)
    if end is not None:
        rows = rows.filter(start__lt=end)
    if environment:
        names = [environment] if isinstance(environment, str) else list(environment)
        rows = rows.filter(environment__in=names)
    return rows.filter(transaction_q(node, project_ids))


def transaction_q(node: Node, project_ids: Sequence[int]) -> Q:
    """The condition on `Transaction` rows of a parsed query (`project_ids` resolve
    `release:latest`)."""
    return _Compiler(tuple(project_ids)).compile(node)


# --- the compiler ----------------------------------------------------------------------------


# Text keys on the transaction's own columns.
TEXT_COLUMNS = {
    "transaction": "name",
    "transaction.op": "op",
    "environment": "environment",
    "platform": "platform",
    "sdk.name": "sdk_name",
    "sdk.version": "sdk_version",
}
# Registered keys that transactions carry as tags (the SDKs' and the digest's names).
TAG_KEYS = {
    "url": "url",
    "dist": "dist",
    "browser.name": "browser.name",
    "os.name": "os.name",
    "os.build": "os.build",
    "device.family": "device.family",
    "device.brand": "device.brand",
    "device.model": "device",
    "runtime.name": "runtime.name",
    "server_name": "server_name",
    "http.referer": "http.referer",
}
# Keys every transaction has a value for.
ALWAYS_SET = frozenset(
    {"transaction", "event.type", "transaction.status", "transaction.duration", "id"}
)
ALWAYS_SET |= {"event.timestamp"}


class _Compiler:
    def __init__(self, project_ids: tuple[int, ...]) -> None:
        self.project_ids = project_ids
        self.latest: dict[int, str] | None = None
        self.filters: dict[str, Callable[[Filter], Q]] = {
            "event.type": self.event_type,
            "transaction.status": self.status,
            "transaction.duration": self.duration,
            "http.method": self.http_method,
            "http.status_code": self.status_code,
            "release": self.release,
            **dict.fromkeys(RELEASE_PARTS, self.release_parts),
            "release.stage": self.release_stage,
            "trace": self.hex_id("trace_id"),
            "id": self.hex_id("event_id"),
            "event.timestamp": self.timestamp,
            **{key: self.column_text(column) for key, column in TEXT_COLUMNS.items()},
            **{key: self.tag_text(tag) for key, tag in TAG_KEYS.items()},
            **{key: self.user(prefix) for key, prefix in USER_KEY_PREFIXES.items()},
        }

    def compile(self, node: Node) -> Q:
        if isinstance(node, And):
            if not node.children:
                return ALWAYS
            result = Q()
            for child in node.children:
                result &= self.compile(child)
            return result
        if isinstance(node, Or):
            first, *rest = [self.compile(child) for child in node.children]
            for q in rest:
                first |= q
            return first
        if isinstance(node, FreeText):
            return _text_q("name", _contains(node.value), node)
        if isinstance(node, Has):
            q = self.has(node)
            return ~q if node.negated else q
        q = self.filter(node)
        return ~q if node.negated else q

    # --- dispatch ---

    def filter(self, node: Filter) -> Q:
        name = node.key.name
        if node.key.tag:
            if name == "user":
                return self.any_text("user_key", node)
            return self.tags(name, node)
        if name.startswith(MEASUREMENT_PREFIX):
            return self.measurement(name[len(MEASUREMENT_PREFIX) :], node)
        compile_ = self.filters.get(name)
        if compile_ is None:
            raise _unsupported(node, "not supported in transaction search yet")
        return compile_(node)

    def has(self, node: Has) -> Q:
        name = node.key.name
        if node.key.tag:
            return ~Q(user_key="") if name == "user" else json_tag_exists("tags", name)
        if name in ALWAYS_SET:
            return ALWAYS
        if name.startswith(MEASUREMENT_PREFIX):
            measurement = name[len(MEASUREMENT_PREFIX) :]
            return Q(HasKey(F("measurements"), measurement)) if _storable(measurement) else NEVER
        if name in TEXT_COLUMNS:
            return ~Q(**{TEXT_COLUMNS[name]: ""})
        if name in TAG_KEYS:
            return json_tag_exists("tags", TAG_KEYS[name])
        if name in USER_KEY_PREFIXES:
            return Q(user_key__startswith=USER_KEY_PREFIXES[name])
        if name in RELEASE_PARTS:
            return self.release_parts(node)
        simple = {
            "transaction.op": ~Q(op=""),
            "http.method": ~Q(http_method=""),
            "http.status_code": Q(http_status_code__isnull=False),
            "release": ~Q(release=""),
            "trace": ~Q(trace_id=""),
        }
        if name in simple:
            return simple[name]
        raise _unsupported(node, "not supported in transaction search yet", has=True)

    # --- keys ---

    def any_text(self, column: str, node: Filter, transform: Callable[[str], str] = str) -> Q:
        result = NEVER
        for value in node.values:
            if not isinstance(value, TextValue):
                raise _unsupported(node, "takes text here")
            parts = tuple(transform(part) for part in value.parts)
            result |= _text_q(column, TextValue(parts), node)
        return result

    def column_text(self, column: str) -> Callable[[Filter], Q]:
        return lambda node: self.any_text(column, node)

    def hex_id(self, column: str) -> Callable[[Filter], Q]:
        # Ids are stored as 32 (or 16) lowercase hex digits; UUIDs are typed with dashes.
        return lambda node: self.any_text(column, node, lambda p: p.replace("-", "").lower())

    def http_method(self, node: Filter) -> Q:
        return self.any_text("http_method", node, str.upper)

    def user(self, prefix: str) -> Callable[[Filter], Q]:
        def compile_(node: Filter) -> Q:
            result = NEVER
            for value in node.values:
                if not isinstance(value, TextValue):
                    raise _unsupported(node, "takes text here")
                parts = (prefix + value.parts[0], *value.parts[1:])
                result |= _text_q("user_key", TextValue(parts), node)
            return result

        return compile_

    def tag_text(self, tag: str) -> Callable[[Filter], Q]:
        return lambda node: self.tags(tag, node)

    def tags(self, tag: str, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            if isinstance(value, NumberValue) and node.op == Op.EQ:
                value = TextValue((_number_text(value.value),))
            if not isinstance(value, TextValue):
                raise _unsupported(node, "only = and lists can be searched here")
            result |= json_tag_q("tags", tag, value, node)
        return result

    def event_type(self, node: Filter) -> Q:
        # Every transaction is of type `transaction`: the filter keeps all or none.
        for value in node.values:
            if isinstance(value, TextValue) and _matches("transaction", value):
                return ALWAYS
        return NEVER

    def status(self, node: Filter) -> Q:
        return Q(status__in=[v.value for v in node.values if isinstance(v, EnumValue)])

    def duration(self, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, DurationValue)
            result |= Q(**{f"duration_ms__{_LOOKUPS[node.op]}": value.ms})
        return result

    def status_code(self, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, NumberValue)
            result |= _integer_q("http_status_code", node.op, value.value)
        return result

    def timestamp(self, node: Filter) -> Q:
        assert isinstance(node.value, DateValue)
        return _date_q("start", node.op, node.value)

    def release_parts(self, node: Filter | Has) -> Q:
        """``release.version|package|build``: the transactions of the releases it selects."""
        versions = release_versions(node, self.project_ids)
        return Q(release__in=versions) if versions else NEVER

    def release_stage(self, node: Filter) -> Q:
        """``release.stage``: the transactions of the releases in that adoption stage."""
        result = NEVER
        for project_id, versions in stage_releases(node, self.project_ids, timezone.now()).items():
            if versions:
                result |= Q(project_id=project_id, release__in=sorted(versions))
        return result

    def release(self, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, TextValue)
            if value.parts == ("latest",):
                if self.latest is None:
                    self.latest = newest_releases(self.project_ids)
                for project_id, version in self.latest.items():
                    result |= Q(project_id=project_id, release=version)
            else:
                result |= _text_q("release", value, node)
        return result

    def measurement(self, name: str, node: Filter) -> Q:
        """`measurements.lcp:>2500`: the measurement's value (milliseconds for web vitals and
        app start times, as SDKs send them) compared as a number."""
        if not _storable(name):
            return NEVER
        expression = Cast(
            KeyTextTransform("value", KeyTransform(name, "measurements")),
            output_field=FloatField(),
        )
        result = NEVER
        for value in node.values:
            if isinstance(value, DurationValue):
                number: float = value.ms
            elif isinstance(value, NumberValue):
                number = float(value.value)
            else:
                raise _unsupported(node, "takes a number here")
            lookup = expression.get_lookup(_LOOKUPS[node.op])
            assert lookup is not None
            result |= Q(lookup(expression, number))
        return Q(HasKey(F("measurements"), name)) & result


def _number_text(number: int | float) -> str:
    if isinstance(number, float) and not number.is_integer():
        return repr(number)
    return str(int(number))


def _matches(text: str, value: TextValue) -> bool:
    """Whether `text` matches a value (wildcards as `*`), case-insensitively like LIKE."""
    parts = [part.lower() for part in value.parts]
    text = text.lower()
    if len(parts) == 1:
        return text == parts[0]
    if not text.startswith(parts[0]):
        return False
    position = len(parts[0])
    for part in parts[1:-1]:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return text.endswith(parts[-1]) and len(text) - len(parts[-1]) >= position


def _unsupported(node: Filter | Has, message: str, *, has: bool = False) -> SearchNotSupported:
    key = node.key.written or (tag_key_text(node.key.name) if node.key.tag else node.key.name)
    return SearchNotSupported(f"{'has:' if has else ''}{key}: {message}", node.start, node.end)
