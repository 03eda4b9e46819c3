"""Helpers for the /api/0/ endpoints that live in the domain apps (``<app>/api.py``), which
may not import ``spyglass.api``: errors in Sentry's shape (``{"detail": "…"}``, answered by
the handlers ``spyglass.api.app`` installs) and Sentry's cursor pagination.

Cursors are ``?cursor=<value>:<offset>:<is_prev>`` in, a ``Link`` header with a previous and a
next cursor (each saying whether it has results) and ``X-Hits`` out. Spyglass's cursors are
offsets into the sorted results (value 0): ``0:100:0`` is the second page of 100. A previous
cursor points at the previous page's start (``is_prev`` 1, read the same way)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.db.models import Model, QuerySet
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


@dataclass(frozen=True)
class Cursor:
    offset: int = 0
    is_prev: bool = False

    def __str__(self) -> str:
        return f"0:{self.offset}:{int(self.is_prev)}"

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
        if offset < 0 or offset > MAX_OFFSET or is_prev not in (0, 1) or value < 0:
            raise BadRequest("Invalid cursor parameter.")
        return cls(offset, bool(is_prev))


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


def paginate(qs: QuerySet[M], cursor: Cursor, limit: int) -> Page[M]:
    """One page of an ordered queryset (one query for the rows, one capped count)."""
    rows = list(qs[cursor.offset : cursor.offset + limit + 1])
    hits = qs.order_by()[:MAX_HITS].count()
    return Page(rows[:limit], cursor, limit, len(rows) > limit, hits)


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
    previous = Cursor(max(offset - limit, 0), True)
    following = Cursor(offset + limit, False)
    response["Link"] = ", ".join(
        (
            _link(request, previous, "previous", offset > 0),
            _link(request, following, "next", page.has_next),
        )
    )
    response["X-Hits"] = str(page.hits)
    response["X-Max-Hits"] = str(MAX_HITS)
