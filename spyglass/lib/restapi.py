"""Helpers for the /api/0/ endpoints that live in the domain apps (``<app>/api.py``), which
may not import ``spyglass.api``: errors in Sentry's shape (``{"detail": "…"}``, answered by
the handlers ``spyglass.api.app`` installs) and Sentry's cursor pagination.

Cursors are ``?cursor=<value>:<offset>:<is_prev>`` in, a ``Link`` header with a previous and a
next cursor (each saying whether it has results) and ``X-Hits`` out. Two kinds, both opaque
to clients as in Sentry:

- offsets into the sorted results (value 0): ``0:100:0`` is the second page of 100; a
  previous cursor points at the previous page's start (``is_prev`` 1, read the same way);
- keyset positions (`paginate_keyset`, for lists ordered by a datetime column then the id,
  both descending): the value is the row's datetime in microseconds since 1970 plus one and
  the offset its id, so the next page is an index range scan however deep it is; with
  ``is_prev`` 1, the page before that row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BadRequest(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


NOT_FOUND = "The requested resource does not exist"

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 100
MAX_LIMIT = 100
MAX_HITS = 1000  # X-Hits counts up to this (X-Max-Hits), as Sentry does
MAX_OFFSET = 1_000_000
MAX_KEY = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    offset: int = 0
    is_prev: bool = False
    value: int = 0  # 0: an offset cursor; else a keyset position (see the module's doc)

    def __str__(self) -> str:
        return f"{self.value}:{self.offset}:{int(self.is_prev)}"

    @property
    def keyset(self) -> bool:
        return self.value > 0

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        if not text:
            return cls()
        parts = text.split(":")
        try:
            if len(parts) != 3 or not all(p.isascii() and p.lstrip("-").isdigit() for p in parts):
                raise ValueError
            value, offset, is_prev = (int(p) for p in parts)
        except ValueError:
            raise BadRequest("Invalid cursor parameter.") from None
        limit = MAX_OFFSET if value == 0 else MAX_KEY
        if not 0 <= offset <= limit or is_prev not in (0, 1) or not 0 <= value <= MAX_KEY:
            raise BadRequest("Invalid cursor parameter.")
        return cls(offset, bool(is_prev), value)


def parse_limit(text: str | None, default: int = DEFAULT_LIMIT) -> int:
    if not text:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 6 or int(text) < 1:
        raise BadRequest("Invalid limit parameter.")
    return min(int(text), MAX_LIMIT)


@dataclass
class Page(Generic[M]):
    items: list[M]
    cursor: Cursor
    limit: int
    has_next: bool
    hits: int
    # keyset pages name their neighbours themselves (offset pages compute them)
    next_cursor: Cursor | None = None
    previous_cursor: Cursor | None = None
    has_previous: bool = False


def paginate(qs: QuerySet[M], cursor: Cursor, limit: int) -> Page[M]:
    """One page of an ordered queryset (one query for the rows, one capped count)."""
    rows = list(qs[cursor.offset : cursor.offset + limit + 1])
    hits = qs.order_by()[:MAX_HITS].count()
    return Page(rows[:limit], cursor, limit, len(rows) > limit, hits)


def _micros(value: datetime) -> int:
    return (value - EPOCH) // MICROSECOND


def paginate_keyset(qs: QuerySet[M], cursor: Cursor, limit: int, field: str) -> Page[M]:
    """One page of ``qs`` ordered by ``field`` (a datetime column) then the id, both
    descending, from a keyset cursor (or an offset cursor, read as one, for old links)."""
    ordered = qs.order_by(f"-{field}", "-id")
    hits = qs.order_by()[:MAX_HITS].count()
    if not cursor.keyset:
        rows = list(ordered[cursor.offset : cursor.offset + limit + 1])
        has_next, items = len(rows) > limit, rows[:limit]
        has_previous = cursor.offset > 0
    else:
        try:
            at = EPOCH + (cursor.value - 1) * MICROSECOND
        except OverflowError:
            raise BadRequest("Invalid cursor parameter.") from None
        row_id = cursor.offset
        if cursor.is_prev:
            after = Q(**{f"{field}__gt": at}) | Q(**{field: at, "id__gt": row_id})
            rows = list(qs.filter(after).order_by(field, "id")[: limit + 1])
            has_previous, items = len(rows) > limit, rows[:limit][::-1]
            has_next = True
        else:
            before = Q(**{f"{field}__lt": at}) | Q(**{field: at, "id__lt": row_id})
            rows = list(ordered.filter(before)[: limit + 1])
            has_next, items = len(rows) > limit, rows[:limit]
            has_previous = True
    if items:
        first, last = items[0], items[-1]
        following = Cursor(last.pk, False, _micros(getattr(last, field)) + 1)
        previous = Cursor(first.pk, True, _micros(getattr(first, field)) + 1)
    else:
        following, previous = cursor, Cursor(cursor.offset, True, cursor.value)
        has_next = False
    return Page(items, cursor, limit, has_next, hits, following, previous, has_previous)


def json_response(body: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(body), status=status, content_type="application/json")


def _link(request: HttpRequest, cursor: Cursor, rel: str, results: bool) -> str:
    query = [(k, v) for k, values in request.GET.lists() if k != "cursor" for v in values]
    query.append(("cursor", str(cursor)))
    url = f"{settings.BASE_URL}{request.path}?{urlencode(query)}"
    flag = "true" if results else "false"
    return f'<{url}>; rel="{rel}"; results="{flag}"; cursor="{cursor}"'


def add_headers(request: HttpRequest, response: HttpResponse, page: Page[M]) -> None:
    offset, limit = page.cursor.offset, page.limit
    if page.next_cursor is not None and page.previous_cursor is not None:
        previous, following = page.previous_cursor, page.next_cursor
        has_previous = page.has_previous
    else:
        previous = Cursor(max(offset - limit, 0), True)
        following = Cursor(offset + limit, False)
        has_previous = offset > 0
    response["Link"] = ", ".join(
        (
            _link(request, previous, "previous", has_previous),
            _link(request, following, "next", page.has_next),
        )
    )
    response["X-Hits"] = str(page.hits)
    response["X-Max-Hits"] = str(MAX_HITS)
