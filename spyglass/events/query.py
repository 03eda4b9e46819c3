"""Event search over `events.Event` (the errors dataset): an issue's events list (the API's
and the events page's) and the Discover API's errors queries.

    rows = event_queryset([project], "level:error browser.name:Firefox", start=since)
    rows = filter_events(issue.events.all(), "environment:staging disk")

Keys read the event's own columns (level, environment, release, transaction, platform, dist,
trace, id, SDK, type, timestamp, the user key), its tags (the JSON list of pairs the digest
stores: the SDK's tags and the ones Sentry derives, `url`, `browser.name`, `mechanism`,
`handled`...), its frames text for the stack frame keys (`stack.*`, `location`,
`error.main_thread`: every frame of every stack trace, spyglass.events.frames) and, for
`error.type` and `error.value`, its issue's metadata (the issue's main exception, which its
events share). Free text and `message:` match the title or the message.
A key it can't answer is a `SearchNotSupported` error, positioned like any search error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from django.db.models import Q, QuerySet, TextField, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.db.models.lookups import Exact
from django.utils import timezone

from spyglass.events.frames import KEY_CODES
from spyglass.events.models import Event
from spyglass.issues.search import (
    ALWAYS,
    NEVER,
    RELEASE_PARTS,
    SearchNotSupported,
    _contains,
    _date_q,
    _text_q,
    event_frames_q,
    frame_values,
    json_tag_exists,
    json_tag_q,
    newest_releases,
    release_versions,
    stage_releases,
)
from spyglass.projects.models import Project
from spyglass.search import (
    And,
    BoolValue,
    DateValue,
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
from spyglass.search.keys import USER_KEY_PREFIXES
from spyglass.search.render import tag_key_text

MAX_QUERY_LENGTH = 10_000

# Text keys on the event's own columns.
COLUMNS = {
    "environment": "environment",
    "transaction": "transaction",
    "platform": "platform",
    "dist": "dist",
    "sdk.name": "sdk_name",
    "sdk.version": "sdk_version",
    "event.type": "type",
}
# Registered keys the digest stores as tags (Sentry's tag names).
TAG_KEYS = {
    "url": "url",
    "browser.name": "browser.name",
    "os.name": "os.name",
    "os.build": "os.build",
    "device.family": "device.family",
    "device.brand": "device.brand",
    "device.model": "device",
    "runtime.name": "runtime.name",
    "server_name": "server_name",
    "error.mechanism": "mechanism",
    "http.method": "http.method",
    "http.referer": "http.referer",
    "http.status_code": "http.status_code",
}
# The exception keys, answered from the issue's metadata.
METADATA = {"error.type": "type", "error.value": "value"}
ALWAYS_SET = frozenset({"level", "message", "event.timestamp", "id", "event.type"})


def event_queryset(
    projects: Iterable[Project | int],
    node_or_text: Node | str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    environment: str | Sequence[str] | None = None,
) -> QuerySet[Event]:
    """The events of `projects` (Project rows or ids) that match the query (text, parsed for
    the event scope, or a parsed AST), with a timestamp in [`start`, `end`) and in one of
    `environment` when given. Raises `SearchSyntaxError` (or its `SearchNotSupported`) with
    the position of what it can't read or answer. The caller has checked access."""
    project_ids = tuple(p.pk if isinstance(p, Project) else int(p) for p in projects)
    node = _parsed(node_or_text)
    rows = Event.objects.filter(project_id__in=project_ids)
    if start is not None:
        rows = rows.filter(timestamp__gte=start)
    if end is not None:
        rows = rows.filter(timestamp__lt=end)
    if environment:
        names = [environment] if isinstance(environment, str) else list(environment)
        rows = rows.filter(environment__in=names)
    return rows.filter(event_q(node, lambda: project_ids))


def filter_events(events: QuerySet[Event], text: str) -> QuerySet[Event]:
    """``events`` narrowed by the query ``text``; raises ``SearchSyntaxError`` (or its
    ``SearchNotSupported``) with the position of what it can't answer."""

    def projects() -> tuple[int, ...]:
        return tuple(events.order_by().values_list("project_id", flat=True).distinct())

    return events.filter(event_q(_parsed(text), projects))


def event_q(node: Node, project_ids: Callable[[], Sequence[int]] = tuple) -> Q:
    """The condition on `Event` rows of a parsed query. `project_ids` gives the projects
    whose newest release `release:latest` means (asked only when the query says latest)."""
    return _Compiler(project_ids).compile(node)


def _parsed(node_or_text: Node | str) -> Node:
    if isinstance(node_or_text, str):
        return parse(node_or_text, now=timezone.now(), scope=Scope.EVENT)
    return node_or_text


def _metadata(name: str) -> Coalesce:
    return Coalesce(KeyTextTransform(name, "issue__metadata"), Value(""), output_field=TextField())


class _Compiler:
    def __init__(self, project_ids: Callable[[], Sequence[int]]) -> None:
        self.project_ids = project_ids
        self.latest: dict[int, str] | None = None
        self.filters: dict[str, Callable[[Filter], Q]] = {
            "level": self.level,
            "message": self.message,
            "release": self.release,
            **dict.fromkeys(RELEASE_PARTS, self.release_parts),
            "release.stage": self.release_stage,
            "trace": self.hex_id("trace_id"),
            "id": self.hex_id("event_id"),
            "event.timestamp": self.timestamp,
            "error.handled": self.handled(True),
            "error.unhandled": self.handled(False),
            **{key: self.column_text(column) for key, column in COLUMNS.items()},
            **{key: self.tag_text(tag) for key, tag in TAG_KEYS.items()},
            **{key: self.user(prefix) for key, prefix in USER_KEY_PREFIXES.items()},
            **{key: self.metadata(name) for key, name in METADATA.items()},
            **dict.fromkeys(KEY_CODES, self.frames),
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
            return self.contains(node.value, node)
        if isinstance(node, Has):
            q = self.has(node)
            return ~q if node.negated else q
        q = self.filter(node)
        return ~q if node.negated else q

    def filter(self, node: Filter) -> Q:
        name = node.key.name
        if node.key.tag:
            if name == "user":
                return self.any_text("user_key", node)
            return self.tags(name, node)
        compile_ = self.filters.get(name)
        if compile_ is None:
            raise _unsupported(node, "not supported in event search yet")
        return compile_(node)

    def has(self, node: Has) -> Q:
        name = node.key.name
        if node.key.tag:
            return ~Q(user_key="") if name == "user" else json_tag_exists("tags", name)
        if name in ALWAYS_SET:
            return ALWAYS
        if name in COLUMNS:
            return ~Q(**{COLUMNS[name]: ""})
        if name in TAG_KEYS:
            return json_tag_exists("tags", TAG_KEYS[name])
        if name in ("error.handled", "error.unhandled"):
            return json_tag_exists("tags", "handled")
        if name in USER_KEY_PREFIXES:
            return Q(user_key__startswith=USER_KEY_PREFIXES[name])
        if name in METADATA:
            return ~Q(Exact(_metadata(METADATA[name]), ""))
        if name in KEY_CODES:
            return event_frames_q(KEY_CODES[name], None)
        if name in RELEASE_PARTS:
            return self.release_parts(node)
        simple = {"release": ~Q(release=""), "trace": ~Q(trace_id="")}
        if name in simple:
            return simple[name]
        raise _unsupported(node, "not supported in event search yet", has=True)

    # --- keys ---

    def contains(self, value: TextValue, node: Filter | FreeText) -> Q:
        pattern = _contains(value)
        return _text_q("title", pattern, node) | _text_q("message", pattern, node)

    def message(self, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, TextValue)
            result |= self.contains(value, node)
        return result

    def any_text(self, column: str, node: Filter, transform: Callable[[str], str] = str) -> Q:
        result = NEVER
        for value in node.values:
            if isinstance(value, EnumValue):
                result |= Q(**{column: value.value})
                continue
            if not isinstance(value, TextValue):
                raise _unsupported(node, "takes text here")
            parts = tuple(transform(part) for part in value.parts)
            result |= _text_q(column, TextValue(parts), node)
        return result

    def column_text(self, column: str) -> Callable[[Filter], Q]:
        return lambda node: self.any_text(column, node)

    def metadata(self, name: str) -> Callable[[Filter], Q]:
        def compile_(node: Filter) -> Q:
            result = NEVER
            for value in node.values:
                assert isinstance(value, TextValue)
                result |= _text_q(_metadata(name), value, node)
            return result

        return compile_

    def frames(self, node: Filter) -> Q:
        """A frame field (`stack.*`, `location`) or `error.main_thread`: the event's frames
        text (its issue's row: spyglass.events.frames) has a matching entry."""
        code = KEY_CODES[node.key.name]
        result = NEVER
        for parts in frame_values(node):
            result |= event_frames_q(code, parts)
        return result

    def hex_id(self, column: str) -> Callable[[Filter], Q]:
        # Ids are stored as 32 lowercase hex digits; UUIDs are typed with dashes.
        return lambda node: self.any_text(column, node, lambda p: p.replace("-", "").lower())

    def level(self, node: Filter) -> Q:
        return Q(level__in=[v.value for v in node.values if isinstance(v, EnumValue)])

    def user(self, prefix: str) -> Callable[[Filter], Q]:
        def compile_(node: Filter) -> Q:
            result = NEVER
            for value in node.values:
                assert isinstance(value, TextValue)
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
                number = value.value
                text = (
                    repr(number) if isinstance(number, float) and number % 1 else str(int(number))
                )
                value = TextValue((text,))
            if not isinstance(value, TextValue):
                raise _unsupported(node, "only = and lists can be searched here")
            result |= json_tag_q("tags", tag, value, node)
        return result

    def handled(self, handled: bool) -> Callable[[Filter], Q]:
        def compile_(node: Filter) -> Q:
            assert isinstance(node.value, BoolValue)
            yes = node.value.value == handled
            return json_tag_q("tags", "handled", TextValue(("yes" if yes else "no",)), node)

        return compile_

    def timestamp(self, node: Filter) -> Q:
        assert isinstance(node.value, DateValue)
        return _date_q("timestamp", node.op, node.value)

    def release_parts(self, node: Filter | Has) -> Q:
        """``release.version|package|build``: the events of the releases the filter selects."""
        versions = release_versions(node, self.project_ids())
        return Q(release__in=versions) if versions else NEVER

    def release_stage(self, node: Filter) -> Q:
        """``release.stage``: the events of the releases in that adoption stage."""
        result = NEVER
        for project_id, versions in stage_releases(
            node, self.project_ids(), timezone.now()
        ).items():
            if versions:
                result |= Q(project_id=project_id, release__in=sorted(versions))
        return result

    def release(self, node: Filter) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, TextValue)
            if value.parts == ("latest",):
                if self.latest is None:
                    self.latest = newest_releases(self.project_ids())
                for project_id, version in self.latest.items():
                    result |= Q(project_id=project_id, release=version)
            else:
                result |= _text_q("release", value, node)
        return result


def _unsupported(node: Filter | Has, message: str, *, has: bool = False) -> SearchNotSupported:
    key = node.key.written or (tag_key_text(node.key.name) if node.key.tag else node.key.name)
    return SearchNotSupported(f"{'has:' if has else ''}{key}: {message}", node.start, node.end)


__all__ = [
    "MAX_QUERY_LENGTH",
    "SearchNotSupported",
    "event_q",
    "event_queryset",
    "filter_events",
]
