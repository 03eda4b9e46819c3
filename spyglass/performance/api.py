"""Discover endpoints of /api/0/, in Sentry's shapes (what dashboards and Grafana's Sentry
data source call):

- ``GET /organizations/{org}/events/``: a table of ``field=`` columns and functions
  (``transaction``, ``count()``, ``p95()``, ``failure_rate()``…), or single events when no
  function is asked for: ``{"data": [...], "meta": {"fields": …, "units": …}}``.
- ``GET /organizations/{org}/events-stats/``: time series of ``yAxis=`` functions, grouped
  by ``field=`` columns with ``topEvents=N``: ``{"data": [[ts, [{"count": n}]], …], …}``.

Both take ``query`` (the search language), ``statsPeriod`` or ``start``/``end``,
``project`` (repeatable ids; all the user's projects of the organization without it or
with ``-1``), ``environment`` (repeatable) and ``dataset`` (``transactions``/``errors``;
by default ``event.type:`` in the query decides). Anything the user may not see is a 404.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Query, Router

from spyglass.issues.api import parse_period
from spyglass.lib.restapi import BadRequest, Cursor, Page, add_headers, json_response
from spyglass.performance import discover
from spyglass.performance.models import Transaction
from spyglass.projects.access import get_membership
from spyglass.projects.models import Project
from spyglass.search import SearchSyntaxError

router = Router(tags=["discover"])

DEFAULT_PERIOD = timedelta(days=14)
MAX_QUERY_LENGTH = 10_000
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100
MAX_FIELDS = 20
MAX_BUCKETS = 10_000
MAX_TOP_EVENTS = 10
MAX_ID = 2**63 - 1
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,50}\Z")
_INTERVAL = re.compile(r"([0-9]{1,7})([smhdw]?)\Z")  # Sentry's: a bare number is seconds
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _projects(request: HttpRequest, org: str, wanted: list[int] | None) -> list[Project]:
    if not _SLUG.match(org):
        raise Http404("No such organization")
    member = get_membership(request, org)
    projects = Project.objects.filter(organization=member.organization).order_by("id")
    ids = {p for p in wanted or () if p != -1}
    if any(not 0 < p <= MAX_ID for p in ids):
        raise Http404("No such project")
    if not ids:
        return list(projects)
    chosen = list(projects.filter(pk__in=ids))
    if len(chosen) != len(ids):
        raise Http404("No such project")
    return chosen


def _moment(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(f"{name} must be a date (ISO 8601)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window(
    stats_period: str | None, start: str | None, end: str | None
) -> tuple[datetime, datetime]:
    now = timezone.now()
    if start or end:
        if not (start and end):
            raise BadRequest("start and end must be given together")
        first, last = _moment(start, "start"), _moment(end, "end")
        if first >= last:
            raise BadRequest("start must be before end")
        return first, last
    period = parse_period(stats_period) if stats_period else DEFAULT_PERIOD
    return now - period, now


def _request(
    request: HttpRequest,
    org: str,
    *,
    fields: list[str],
    query: str | None,
    stats_period: str | None,
    start: str | None,
    end: str | None,
    project: list[int] | None,
    environment: list[str] | None,
    dataset: str | None,
) -> discover.Request:
    projects = _projects(request, org, project)
    text = (query or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise BadRequest(f"The query is longer than {MAX_QUERY_LENGTH} characters")
    if len(fields) > MAX_FIELDS:
        raise BadRequest(f"You can view up to {MAX_FIELDS} fields at a time.")
    first, last = _window(stats_period, start, end)
    try:
        chosen = discover.choose_dataset(dataset, text, fields)
    except SearchSyntaxError as exc:
        raise _search_error(exc) from None
    except discover.DiscoverError as exc:
        raise BadRequest(str(exc)) from None
    envs = [e for e in environment or () if e] or None
    return discover.Request(projects, fields, text, first, last, envs, chosen)


def _search_error(exc: SearchSyntaxError) -> BadRequest:
    return BadRequest(f"Error parsing search query: {exc.message} (at position {exc.position})")


def _page(per_page: str | None, cursor: str | None) -> tuple[Cursor, int]:
    limit = DEFAULT_PER_PAGE
    if per_page:
        if not (per_page.isascii() and per_page.isdigit()) or int(per_page[:6]) < 1:
            raise BadRequest("Invalid per_page parameter.")
        limit = min(int(per_page[:6]), MAX_PER_PAGE)
    return Cursor.parse(cursor), limit


@router.get("/organizations/{org}/events/", response={200: dict[str, Any]})
def events(
    request: HttpRequest,
    org: str,
    field: Query[list[str] | None] = None,
    query: str | None = None,
    statsPeriod: str | None = None,
    start: str | None = None,
    end: str | None = None,
    project: Query[list[int] | None] = None,
    environment: Query[list[str] | None] = None,
    sort: Query[list[str] | None] = None,
    per_page: str | None = None,
    cursor: str | None = None,
    dataset: str | None = None,
) -> HttpResponse:
    """Sentry's Discover table: one row per distinct value of the columns when functions are
    asked for, else single events (newest first)."""
    fields = [f.strip() for f in field or () if f.strip()]
    found = _request(
        request,
        org,
        fields=fields,
        query=query,
        stats_period=statsPeriod,
        start=start,
        end=end,
        project=project,
        environment=environment,
        dataset=dataset,
    )
    page_cursor, limit = _page(per_page, cursor)
    order = sort[0] if sort else None
    try:
        discover.validate(found)
        if found.functions:
            rows, hits = discover.aggregate_page(
                found, order or f"-{found.functions[0]}", page_cursor.offset, limit + 1
            )
        else:
            rows = discover.event_rows(found, order, page_cursor.offset, limit + 1)
            hits = page_cursor.offset + len(rows)
    except SearchSyntaxError as exc:
        raise _search_error(exc) from None
    except discover.DiscoverError as exc:
        raise BadRequest(str(exc)) from None
    page: Page[Transaction] = Page([], page_cursor, limit, len(rows) > limit, hits)
    response = json_response({"data": rows[:limit], "meta": discover.meta(found)})
    add_headers(request, response, page)
    return response


def _interval(text: str | None, start: datetime, end: datetime) -> int:
    if text:
        match = _INTERVAL.match(text.strip())
        if not match:
            raise BadRequest(f'Invalid interval "{text[:40]}"')
        seconds = int(match.group(1)) * _UNITS[match.group(2) or "s"]
        if seconds < 1:
            raise BadRequest("The interval has to be at least a second")
    else:  # about as Sentry's charts choose: ≤ 1 h by the minute, ≤ 1 d by 30 min, …
        span = (end - start).total_seconds()
        seconds = 60 if span <= 3600 else 1800 if span <= 86400 else 3600
        seconds = 86400 if span > 30 * 86400 else seconds
    if (end - start).total_seconds() / seconds > MAX_BUCKETS:
        raise BadRequest(
            "Your interval and date range would create too many results. "
            "Use a larger interval, or a smaller date range."
        )
    return seconds


def _shown(buckets: Sequence[int], interval: int, end: datetime, partial: bool) -> list[int]:
    """The buckets a series shows, as Sentry's: those before the end rounded down to the
    interval (two when that leaves a single one: a window straddling two buckets), and with
    ``partial=1`` the one the end falls in too (it holds less than an interval's events)."""
    if not buckets:
        return []
    first = buckets[0]
    rounded = int(end.timestamp()) // interval * interval
    last = rounded + 1 if rounded - first == interval else rounded
    shown = [at for at in buckets if at < last]
    if partial and rounded < end.timestamp() and rounded not in shown and rounded in buckets:
        shown.append(rounded)
    return shown


@router.get("/organizations/{org}/events-stats/", response={200: dict[str, Any]})
def events_stats(
    request: HttpRequest,
    org: str,
    yAxis: Query[list[str] | None] = None,
    interval: str | None = None,
    query: str | None = None,
    statsPeriod: str | None = None,
    start: str | None = None,
    end: str | None = None,
    project: Query[list[int] | None] = None,
    environment: Query[list[str] | None] = None,
    field: Query[list[str] | None] = None,
    topEvents: str | None = None,
    orderby: Query[list[str] | None] = None,
    sort: Query[list[str] | None] = None,
    excludeOther: str | None = None,
    partial: str | None = None,
    dataset: str | None = None,
) -> HttpResponse:
    """Sentry's events-stats: a series per yAxis (one: ``{"data": …}``; several: keyed by
    yAxis), or with ``topEvents`` one per top group of ``field`` columns (keyed by their
    values joined with ","), plus "Other" unless ``excludeOther=1``. ``topEvents`` without
    a column (Grafana sends it always) gives the plain series. The bucket the end falls in
    is shown with ``partial=1`` only."""
    axes = [a.strip() for a in yAxis or () if a.strip()] or ["count()"]
    columns = [f.strip() for f in field or () if f.strip() and not discover.is_function(f)]
    top = _top_events(topEvents) if columns else 0
    found = _request(
        request,
        org,
        fields=[*columns, *axes] if top else axes,
        query=query,
        stats_period=statsPeriod,
        start=start,
        end=end,
        project=project,
        environment=environment,
        dataset=dataset,
    )
    seconds = _interval(interval, found.start, found.end)
    try:
        discover.validate(found)
        series = _Series(found, axes, partial == "1")
        if top:
            extra = [f.strip() for f in field or () if discover.is_function(f.strip())]
            order = (sort or orderby or [""])[0] or None
            body = _top_series(series, columns, extra, seconds, top, order, excludeOther == "1")
        else:
            buckets, used, groups = discover.series_points(found, seconds, (), axes)
            measured = discover.measurement_points(found, used, (), axes)
            series.buckets(buckets, used)
            body = series.body(groups.get((), {}), measured.get((), {}))
    except SearchSyntaxError as exc:
        raise _search_error(exc) from None
    except discover.DiscoverError as exc:
        raise BadRequest(str(exc)) from None
    return json_response(body)


def _top_events(text: str | None) -> int:
    if not text:
        return 0
    if not (text.isascii() and text.isdigit()) or not 0 < int(text[:4]) <= MAX_TOP_EVENTS:
        raise BadRequest(f"topEvents needs to be between 1 and {MAX_TOP_EVENTS}")
    return int(text)


class _Series:
    """The series of one request: its axes over the buckets shown."""

    def __init__(self, found: discover.Request, axes: Sequence[str], partial: bool) -> None:
        self.found = found
        self.axes = list(axes)
        self.partial = partial
        self.meta = discover.meta(found)
        self.shown: list[int] = []
        self.interval = 60

    def buckets(self, buckets: Sequence[int], interval: int) -> None:
        self.shown = _shown(buckets, interval, self.found.end, self.partial)
        self.interval = interval

    def one(
        self,
        axis: str,
        points: dict[int, Any],
        measured: dict[int, dict[str, list[float]]],
        order: int | None = None,
    ) -> dict[str, Any]:
        shown, interval = self.shown, self.interval
        values = discover.series_values(points, shown, axis, interval, measured)
        name = "count" if discover.canonical(axis) == "count()" else axis
        body: dict[str, Any] = {
            "data": [[at, [{"count": value}]] for at, value in zip(shown, values, strict=True)],
            "start": shown[0] if shown else int(self.found.start.timestamp()),
            "end": (shown[-1] + interval) if shown else int(self.found.end.timestamp()),
            "isMetricsData": False,
            "meta": {
                "fields": {name: self.meta["fields"].get(axis, "number")},
                "units": {name: self.meta["units"].get(axis)},
                "isMetricsData": False,
            },
        }
        if order is not None:
            body["order"] = order
        return body

    def body(
        self,
        points: dict[int, Any],
        measured: dict[int, dict[str, list[float]]],
        order: int | None = None,
    ) -> dict[str, Any]:
        if len(self.axes) == 1:
            return self.one(self.axes[0], points, measured, order)
        body: dict[str, Any] = {
            axis: self.one(axis, points, measured, i) for i, axis in enumerate(self.axes)
        }
        if order is not None:
            body["order"] = order
        return body


def _top_series(
    series: _Series,
    columns: list[str],
    extra: list[str],
    seconds: int,
    top: int,
    order: str | None,
    exclude_other: bool,
) -> dict[str, Any]:
    """The top groups by ``order`` (default: the first yAxis, descending), each a series."""
    found, axes = series.found, series.axes
    table = discover.Request(
        found.projects,
        [*columns, *axes, *[f for f in extra if f not in axes]],
        found.query,
        found.start,
        found.end,
        found.environments,
        found.dataset,
    )
    discover.validate(table)
    rows, _ = discover.aggregate_page(table, order or f"-{axes[0]}", 0, top)
    labels = [tuple(row[c] for c in columns) for row in rows[:top]]
    if found.dataset == "transactions" and columns == ["transaction"]:
        names = [label[0] for label in labels]
        return _top_transactions(series, seconds, names, exclude_other)
    buckets, used, groups = discover.series_points(found, seconds, columns, axes)
    measured = discover.measurement_points(found, used, columns, axes)
    series.buckets(buckets, used)
    display = _display_keys(found, columns, {**measured, **groups})
    body: dict[str, Any] = {}
    chosen: set[tuple[Any, ...]] = set()
    for index, label in enumerate(labels):
        key = next((k for k, shown in display.items() if shown == label), None)
        if key is None:
            continue
        chosen.add(key)
        name = ",".join(str(part) for part in label)
        body[name] = series.body(groups.get(key, {}), measured.get(key, {}), index)
    others = [points for key, points in groups.items() if key not in chosen]
    measured_others = [points for key, points in measured.items() if key not in chosen]
    if (others or measured_others) and not exclude_other:
        merged = discover.merge_points(others)
        body["Other"] = series.body(merged, discover.merge_measured(measured_others), len(body))
    return body


def _top_transactions(
    series: _Series, seconds: int, names: list[str], exclude_other: bool
) -> dict[str, Any]:
    """Top transactions by name: their series read only their rows, and "Other" every other
    name's (so a top-5 chart does not merge the sketches of every transaction twice)."""
    found, axes = series.found, series.axes
    buckets, used, groups = discover.series_points(
        found, seconds, ["transaction"], axes, names=names
    )
    measured = discover.measurement_points(found, used, ["transaction"], axes, names=names)
    series.buckets(buckets, used)
    body: dict[str, Any] = {}
    for index, name in enumerate(names):
        key = (name,)
        body[name] = series.body(groups.get(key, {}), measured.get(key, {}), index)
    if not exclude_other:
        _, _, rest = discover.series_points(found, seconds, (), axes, exclude=names)
        rest_measured = discover.measurement_points(found, used, (), axes, exclude=names)
        if rest.get(()) or rest_measured.get(()):
            body["Other"] = series.body(rest.get((), {}), rest_measured.get((), {}), len(body))
    return body


def _display_keys(
    found: discover.Request, columns: list[str], groups: dict[tuple[Any, ...], Any]
) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """Each group's key as the table shows it (project slugs, issue short ids)."""
    labels = discover.labels(found.projects, columns, groups)
    return {
        key: tuple(labels.get((c, v), v) for c, v in zip(columns, key, strict=True))
        for key in groups
    }
