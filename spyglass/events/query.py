"""The event query of an issue's events (the API's list and the events page): free text
(title or message) and these keys on the event's own columns: environment, release, level,
transaction, message, platform, dist, trace, sdk.name, event.type. Other keys (tags among
them) are a ``SearchNotSupported`` error, positioned like any search error."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from spyglass.events.models import Event
from spyglass.issues.search import SearchNotSupported, _contains, _text_q
from spyglass.search import Scope, parse
from spyglass.search.nodes import And, EnumValue, Filter, FreeText, Has, Node, Or, TextValue

MAX_QUERY_LENGTH = 10_000
# Search keys (canonical names) answered from the event's own columns.
COLUMNS = {
    "environment": "environment",
    "release": "release",
    "level": "level",
    "transaction": "transaction",
    "message": "message",
    "platform": "platform",
    "dist": "dist",
    "trace": "trace_id",
    "trace.id": "trace_id",
    "sdk.name": "sdk_name",
    "event.type": "type",
    "type": "type",
}


def _column_q(column: str, node: Filter) -> Q:
    result = Q(pk__in=[])
    for value in node.values:
        if isinstance(value, TextValue):
            result |= _text_q(column, value, node)
        elif isinstance(value, EnumValue):
            result |= Q(**{column: value.value})
        else:
            raise SearchNotSupported(
                f'"{node.key.written or node.key.name}" takes text here', node.start, node.end
            )
    return result


def event_q(node: Node) -> Q:
    """The events matching a parsed query (the subset of keys the columns answer)."""
    if isinstance(node, And):
        result = Q()
        for child in node.children:
            result &= event_q(child)
        return result
    if isinstance(node, Or):
        result = Q(pk__in=[])
        for child in node.children:
            result |= event_q(child)
        return result
    if isinstance(node, FreeText):
        pattern = _contains(node.value)
        return _text_q("title", pattern, node) | _text_q("message", pattern, node)
    column = None if node.key.tag else COLUMNS.get(node.key.name)
    if column is None:
        name = node.key.written or node.key.name
        raise SearchNotSupported(
            f'"{name}" is not searchable in an issue\'s events yet', node.start, node.end
        )
    if isinstance(node, Has):
        present = ~Q(**{column: ""})
        return ~present if node.negated else present
    q = _column_q(column, node)
    return ~q if node.negated else q


def filter_events(events: QuerySet[Event], text: str) -> QuerySet[Event]:
    """``events`` narrowed by the query ``text``; raises ``SearchSyntaxError`` (or its
    ``SearchNotSupported``) with the position of what it can't answer."""
    return events.filter(event_q(parse(text, now=timezone.now(), scope=Scope.EVENT)))
