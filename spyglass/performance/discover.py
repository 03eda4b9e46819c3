"""The Discover queries behind /api/0/organizations/{org}/events/ and events-stats/: Sentry's
`field=` list (columns and functions) over the transactions data set (rollups when they can
answer, raw transactions otherwise) or the errors data set (events). No HTTP here: the
endpoints (`api.py`) parse parameters and shape responses. See docs/performance.md "API"."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from spyglass.issues.models import Issue
from spyglass.performance import sketches
from spyglass.performance.rollups import (
    RAW_GROUPS,
    Table,
    Totals,
    Window,
    canonical_user_field,
    field_value,
    rollups_answer,
    series_totals,
    totals_table,
)
from spyglass.performance.totals import quantile_of
from spyglass.projects.models import Project
from spyglass.search import Filter, SearchSyntaxError, TextValue, parse, walk


class DiscoverError(ValueError):
    """A request Discover can't answer (a 400 with this message)."""


# Columns (`field=transaction`) and what they read in each data set.
TRANSACTION_COLUMNS = {
    "transaction": "name",
    "title": "name",
    "project": "project_id",
    "project.name": "project_id",
    "environment": "environment",
    "release": "release",
    "transaction.op": "op",
    "transaction.status": "status",
}
ERROR_COLUMNS = {
    "transaction": "transaction",
    "title": "title",
    "project": "project_id",
    "project.name": "project_id",
    "environment": "environment",
    "release": "release",
    "issue": "issue_id",
    "level": "level",
}
ROLLUP_GROUPS = frozenset({"name", "project_id", "environment"})
# Columns both data sets have: what the "discover" data set (both together) groups by.
DISCOVER_COLUMNS = frozenset(TRANSACTION_COLUMNS) & frozenset(ERROR_COLUMNS)
_FUNCTION = re.compile(r"([a-z_0-9]+)\((.*)\)\Z")
TRANSACTION_FUNCTIONS = {
    "count()": "integer",
    "failure_count()": "integer",
    "count_unique(user)": "integer",
    "count_miserable(user)": "integer",
    "p50()": "duration",
    "p75()": "duration",
    "p95()": "duration",
    "p99()": "duration",
    "p100()": "duration",
    "avg(transaction.duration)": "duration",
    "failure_rate()": "percentage",
    "apdex()": "number",
    "user_misery()": "number",
    "epm()": "rate",
    "tpm()": "rate",
    "eps()": "rate",
    "tps()": "rate",
    "last_seen()": "date",
}
ERROR_FUNCTIONS = {
    "count()": "integer",
    "count_unique(user)": "integer",
    "epm()": "rate",
    "eps()": "rate",
    "last_seen()": "date",
}
# Functions only transactions have: asking for one chooses that data set.
TRANSACTION_ONLY = frozenset(TRANSACTION_FUNCTIONS) - {
    "count()",
    "count_unique(user)",
    "last_seen()",
}
UNITS = {"duration": "millisecond", "rate": "1/minute"}
# `p75(measurements.lcp)`: a measurement's percentiles, average, least and most, exact over
# the matching transactions' values (raw rows: measurements are not in the rollups).
_MEASUREMENT_FUNCTION = re.compile(
    r"(p50|p75|p90|p95|p99|p100|avg|min|max)\(measurements\.([a-z0-9_.]{1,64})\)\Z"
)
_DURATION_MEASUREMENTS = frozenset(
    {"lcp", "fcp", "fp", "inp", "fid", "ttfb", "ttfb.requesttime", "app_start_cold"}
    | {"app_start_warm", "time_to_initial_display", "time_to_full_display"}
)


def measurement_function(field: str) -> tuple[str, str] | None:
    """(function, measurement) of `p75(measurements.lcp)`-like fields."""
    match = _MEASUREMENT_FUNCTION.match(field.replace(" ", ""))
    return (match[1], match[2]) if match else None


def canonical(field: str) -> str:
    """Sentry's spellings of one function, as one: `p95(transaction.duration)` is `p95()`."""
    text = field.replace(" ", "")
    match = re.fullmatch(r"(p[0-9]{1,3}|min|max|sum)\(transaction\.duration\)", text)
    if match:
        return f"{match[1]}()"
    if text in ("count(id)", "count(transaction.duration)"):
        return "count()"
    return text


def function_type(field: str, dataset: str) -> str | None:
    """Sentry's type of a function's values in a data set (None: not a function there)."""
    name = canonical(field)
    if dataset != "transactions":
        return ERROR_FUNCTIONS.get(name)
    if name in TRANSACTION_FUNCTIONS:
        return TRANSACTION_FUNCTIONS[name]
    measured = measurement_function(name)
    if measured is not None:
        return "duration" if measured[1] in _DURATION_MEASUREMENTS else "number"
    if quantile_of(name) is not None or name == "sum()":
        return "duration"
    return None


def needs_sketches(field: str) -> bool:
    name = canonical(field)
    return name in SKETCH_FUNCTIONS or quantile_of(name) is not None


def is_function(field: str) -> bool:
    return bool(_FUNCTION.match(field.replace(" ", "")))


@dataclass(frozen=True)
class Request:
    projects: list[Project]
    fields: list[str]
    query: str
    start: datetime
    end: datetime
    environments: list[str] | None
    dataset: str  # "transactions", "errors" or "discover" (both)

    @property
    def project_ids(self) -> list[int]:
        return [p.pk for p in self.projects]

    @property
    def columns(self) -> list[str]:
        return [f for f in self.fields if not is_function(f)]

    @property
    def functions(self) -> list[str]:
        return [f for f in self.fields if is_function(f)]


def choose_dataset(requested: str | None, query: str, fields: Sequence[str]) -> str:
    """`dataset=` when given; else `event.type:` in the query; else transactions when a
    function only they have is asked for; else both ("discover", Sentry's default) when the
    functions and columns apply to both; else errors (single events are listed from one)."""
    if requested in ("transactions", "errors"):
        return requested
    if requested not in (None, "", "discover"):
        raise DiscoverError(f"Unsupported dataset: {requested}")
    for node in walk(parse(query, now=datetime.now(UTC))) if query else ():
        if isinstance(node, Filter) and node.key.name == "event.type" and not node.negated:
            texts = {v.text for v in node.values if isinstance(v, TextValue)}
            if texts == {"transaction"}:
                return "transactions"
            if texts and "transaction" not in texts:
                return "errors"
    if any(canonical(f) in TRANSACTION_ONLY or measurement_function(f) for f in fields):
        return "transactions"
    functions = [f for f in fields if is_function(f)]
    columns = [f for f in fields if not is_function(f)]
    both = all(canonical(f) in ERROR_FUNCTIONS for f in functions)
    if functions and both and set(columns) <= DISCOVER_COLUMNS:
        return "discover"  # Sentry's default: errors and transactions together
    return "errors"


def meta(request: Request) -> dict[str, Any]:
    types: dict[str, str] = {}
    units: dict[str, str | None] = {}
    for field in request.fields:
        kind = "string"
        if is_function(field):
            kind = function_type(field, request.dataset) or "number"
        if field in ("timestamp", "last_seen()"):
            kind = "date"
        if field == "transaction.duration":
            kind = "duration"
        types[field] = kind
        units[field] = UNITS.get(kind)
    return {"fields": types, "units": units, "isMetricsData": False, "tips": {}}


def validate(request: Request) -> None:
    known: Collection[str] = ERROR_COLUMNS
    if request.dataset == "transactions":
        known = TRANSACTION_COLUMNS
    elif request.dataset == "discover":
        known = DISCOVER_COLUMNS
    if not request.fields:
        raise DiscoverError("No columns selected")
    for field in request.functions:
        if function_type(field, request.dataset) is None:
            raise DiscoverError(f"{field} is not a valid function for the {request.dataset} data")
    if request.functions:
        for field in request.columns:
            if field not in known:
                raise DiscoverError(f"Can't group {request.dataset} by {field}")


# --- aggregates (`field=transaction&field=count()`) -----------------------------------------


# Functions that need the sketches (the rest come from summed counters).
SKETCH_FUNCTIONS = frozenset(
    {"p50()", "p75()", "p95()", "p99()", "p100()", "count_unique(user)"}
    | {"count_miserable(user)", "user_misery()"}
)


def aggregate_rows(request: Request) -> list[dict[str, Any]]:
    """One row per distinct value of the columns, with each function's value (unsorted)."""
    table = _grouped_table(request)
    table.load_sketches()
    rows = _rows_of(request, table, list(table.found))
    for row in rows:
        del row["__key"]
    return rows


def aggregate_page(
    request: Request, sort: str | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """(one page of rows sorted by ``sort``, how many rows there are). Sorted by a column or
    a counter, only the page's sketches are read."""
    table = _grouped_table(request)
    keys = list(table.found) or ([()] if not request.columns else [])
    sort_field = (sort or "").lstrip("-")
    users = any(canonical_user_field(canonical(f)) for f in request.functions)
    if needs_sketches(sort_field):
        table.load_sketches(users=users)
    rows = _rows_of(request, table, keys)
    sort_rows(rows, sort, request.fields)
    page = rows[offset : offset + limit]
    if not table.loaded:
        table.load_sketches([row["__key"] for row in page], users=users)
        page = _rows_of(request, table, [row["__key"] for row in page])
    for row in page:
        del row["__key"]
    return page, len(rows)


def _rows_of(request: Request, table: Table, keys: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    names = labels(request.projects, request.columns, keys)
    rows = []
    for key in keys:
        found = table.found.get(key) or Totals()
        row: dict[str, Any] = {"__key": key}
        for column, value in zip(request.columns, key, strict=True):
            row[column] = names.get((column, value), value)
        for field in request.functions:
            measured = measurement_function(field)
            if measured is not None:
                values = table.measurements.get(key, {}).get(measured[1], [])
                row[field] = _measurement_value(values, measured[0])
            else:
                row[field] = _value(request, found, field, table.window)
        rows.append(row)
    return rows


def _grouped_table(request: Request) -> Table:
    table = _grouped_totals(request)
    wanted = {m[1] for f in request.functions if (m := measurement_function(f))}
    if wanted and request.dataset == "transactions":
        table.measurements = _measurements(request, wanted)
    return table


def _measurements(
    request: Request, wanted: set[str]
) -> dict[tuple[Any, ...], dict[str, list[float]]]:
    """The wanted measurements' values per group, from the matching raw transactions."""
    from spyglass.performance.search import transaction_queryset

    group = [TRANSACTION_COLUMNS[c] for c in request.columns]
    rows = transaction_queryset(
        request.project_ids,
        request.query,
        start=request.start,
        end=request.end,
        environment=request.environments,
    ).exclude(measurements={})
    found: dict[tuple[Any, ...], dict[str, list[float]]] = {}
    for *key, measured in rows.values_list(*group, "measurements").iterator(2000):
        if not isinstance(measured, dict):
            continue
        for name in wanted:
            entry = measured.get(name)
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                found.setdefault(tuple(key), {}).setdefault(name, []).append(float(value))
    return found


def _measurement_value(values: list[float], function: str) -> float | None:
    if not values:
        return None
    if function == "avg":
        return sum(values) / len(values)
    if function == "min":
        return min(values)
    if function == "max":
        return max(values)
    ordered = sorted(values)  # pNN: nearest rank, as the exact percentiles elsewhere
    rank = math.ceil(int(function[1:]) / 100 * len(ordered)) - 1
    return ordered[min(len(ordered) - 1, max(0, rank))]


def _grouped_totals(request: Request) -> Table:
    if request.dataset == "discover":  # both: the transactions' totals, the errors added
        window = Window(request.start, request.end)
        group = [ERROR_COLUMNS[c] for c in request.columns]
        table, errors = _both(
            lambda: _grouped_totals(replace(request, dataset="transactions")),
            lambda: _error_totals(request, group),
        )
        table = table or Table(window, {})
        table.load_sketches(users="count_unique(user)" in map(canonical, request.functions))
        for key, error_totals in (errors or {}).items():
            table.found.setdefault(key, Totals()).add_totals(error_totals)
        return table
    if request.dataset == "errors":
        found = _error_totals(request, [ERROR_COLUMNS[c] for c in request.columns])
        return Table(Window(request.start, request.end), found)
    group = [TRANSACTION_COLUMNS[c] for c in request.columns]
    raw_needed = not set(group) <= ROLLUP_GROUPS or "last_seen()" in request.functions
    if raw_needed and rollups_answer(request.query):
        query = request.query or "event.type:transaction"
    else:
        query = request.query
    if raw_needed and not set(group) <= RAW_GROUPS:  # pragma: no cover - columns map to both
        raise DiscoverError("Can't group transactions so")
    if raw_needed:
        from spyglass.performance.rollups import totals_from_transactions

        found = totals_from_transactions(
            request.project_ids,
            query,
            request.start,
            request.end,
            environment=request.environments,
            names=None,
            group=group,
        )
        return Table(Window(request.start, request.end), found)
    return totals_table(
        request.project_ids,
        start=request.start,
        end=request.end,
        group=group,
        environment=request.environments,
        query=query,
    )


T = TypeVar("T")
U = TypeVar("U")


def _both(transactions: Callable[[], T], errors: Callable[[], U]) -> tuple[T | None, U | None]:
    """Both data sets' parts of a "discover" query. A part is None when the query names a
    key its data set doesn't have (`level:` for transactions, `transaction.duration:` for
    errors): as in Sentry, such a filter matches none of its events. (The query parsed
    without a scope already, so what fails here is a key's scope; failing in both is the
    query's error.)"""
    first: SearchSyntaxError | None = None
    try:
        found_transactions: T | None = transactions()
    except SearchSyntaxError as exc:
        found_transactions, first = None, exc
    try:
        found_errors: U | None = errors()
    except SearchSyntaxError:
        if first is not None:
            raise first from None
        found_errors = None
    return found_transactions, found_errors


def _error_totals(request: Request, group: Sequence[str], bucket: int = 0) -> dict[Any, Totals]:
    """Errors per group (and per ``bucket`` seconds when given): counts, user sketches, last
    seen, from the events themselves."""
    from spyglass.events.query import event_queryset

    rows = event_queryset(
        request.project_ids,
        request.query,
        start=request.start,
        end=request.end,
        environment=request.environments,
    )
    found: dict[tuple[Any, ...], Totals] = {}
    for user, moment, *dims in rows.values_list("user_key", "timestamp", *group).iterator(2000):
        seconds = moment.timestamp()
        key = (*dims, int(seconds) // bucket * bucket) if bucket else tuple(dims)
        totals_of = found.get(key)
        if totals_of is None:
            totals_of = found[key] = Totals()
        totals_of.count += 1
        totals_of.last_seen = max(totals_of.last_seen, seconds)
        if user:
            sketches.add_user(totals_of.users, sketches.user_hash(user))
    return found


def _value(request: Request, found: Totals, field: str, window: Window) -> Any:
    name = canonical(field)
    if name == "last_seen()":
        if found.last_seen == float("-inf"):
            return None
        return datetime.fromtimestamp(found.last_seen, tz=UTC).isoformat().replace("+00:00", "Z")
    value = field_value(found, name, window)
    if value is not None and TRANSACTION_FUNCTIONS.get(name) == "integer":
        return int(value)
    return value


def labels(
    projects: Sequence[Project], columns: Sequence[str], groups: Iterable[tuple[Any, ...]]
) -> dict[tuple[str, Any], Any]:
    """Display values of id columns: project slugs, issue short ids."""
    keys = list(groups)
    found: dict[tuple[str, Any], Any] = {}
    for index, column in enumerate(columns):
        values = {key[index] for key in keys}
        if column in ("project", "project.name"):
            slugs = {p.pk: p.slug for p in projects}
            found.update({(column, v): slugs.get(v, str(v)) for v in values})
        elif column == "issue":
            issues = Issue.objects.select_related("project").filter(pk__in=values)
            found.update({(column, i.pk): i.short_id for i in issues})
    return found


def sort_rows(rows: list[dict[str, Any]], sort: str | None, fields: Sequence[str]) -> None:
    """Sentry's `sort=-count()`: one of the selected fields, "-" for descending; missing
    values last either way."""
    if not sort:
        return
    name = sort.lstrip("-")
    match = next((f for f in fields if f == name or canonical(f) == canonical(name)), None)
    if match is None:
        raise DiscoverError(f"Cannot sort by a field that is not selected: {name}")
    descending = sort.startswith("-")
    present = [r for r in rows if r.get(match) is not None]
    missing = [r for r in rows if r.get(match) is None]
    present.sort(key=lambda r: r[match], reverse=descending)
    rows[:] = present + missing


# --- event lists (`field=id&field=transaction.duration`, no function) ------------------------

TRANSACTION_LIST = {
    "id": "event_id",
    "transaction": "name",
    "title": "name",
    "project": "project__slug",
    "project.name": "project__slug",
    "environment": "environment",
    "release": "release",
    "timestamp": "start",
    "transaction.duration": "duration_ms",
    "transaction.op": "op",
    "transaction.status": "status",
    "trace": "trace_id",
    "user": "user_key",
    "http.method": "http_method",
    "http.status_code": "http_status_code",
}
ERROR_LIST = {
    "id": "event_id",
    "title": "title",
    "transaction": "transaction",
    "project": "project__slug",
    "project.name": "project__slug",
    "environment": "environment",
    "release": "release",
    "timestamp": "timestamp",
    "level": "level",
    "issue.id": "issue_id",
    "trace": "trace_id",
    "user": "user_key",
    "message": "message",
}


def event_rows(request: Request, sort: str | None, offset: int, limit: int) -> list[dict[str, Any]]:
    """Single transactions or errors: the selected fields of each, sorted in the database."""
    columns = TRANSACTION_LIST if request.dataset == "transactions" else ERROR_LIST
    unknown = [f for f in request.fields if f not in columns]
    if unknown:
        raise DiscoverError(f"Unknown field: {unknown[0]}")
    name = (sort or "-timestamp").lstrip("-")
    if name not in columns:
        raise DiscoverError(f"Cannot sort by {name}")
    order = ("-" if (sort or "-timestamp").startswith("-") else "") + columns[name]
    rows = _queryset(request).order_by(order, "pk")[offset : offset + limit]
    values = rows.values_list(*[columns[f] for f in request.fields])
    found = []
    for row in values:
        item = {}
        for field, value in zip(request.fields, row, strict=True):
            item[field] = (
                value.isoformat().replace("+00:00", "Z") if field == "timestamp" else value
            )
        found.append(item)
    return found


def _queryset(request: Request) -> Any:
    if request.dataset == "errors":
        from spyglass.events.query import event_queryset

        return event_queryset(
            request.project_ids,
            request.query,
            start=request.start,
            end=request.end,
            environment=request.environments,
        )
    from spyglass.performance.search import transaction_queryset

    return transaction_queryset(
        request.project_ids,
        request.query,
        start=request.start,
        end=request.end,
        environment=request.environments,
    )


# --- time series (events-stats) --------------------------------------------------------------


def series_points(
    request: Request,
    interval: int,
    group: Sequence[str] = (),
    axes: Sequence[str] = (),
    *,
    names: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> tuple[list[int], int, dict[tuple[Any, ...], dict[int, Totals]]]:
    """(bucket starts, the interval used, {group values: {bucket start: totals}}); the
    sketches are read only when one of ``axes`` needs them. ``names`` / ``exclude``: only
    these transaction names / all but these (transactions only)."""
    if request.dataset == "discover":  # both, bucket by bucket (whole minutes, as rollups)
        used = max(60, -(-interval // 60) * 60)
        first = int(request.start.timestamp()) // used * used
        buckets = list(range(first, math.ceil(request.end.timestamp()), used))
        merged: dict[tuple[Any, ...], dict[int, Totals]] = {}
        sides = _both(
            lambda: series_points(replace(request, dataset="transactions"), used, group, axes),
            lambda: series_points(replace(request, dataset="errors"), used, group, axes),
        )
        for side in sides:
            for key, points in (side[2] if side else {}).items():
                into = merged.setdefault(key, {})
                for at, point in points.items():
                    into.setdefault(at, Totals()).add_totals(point)
        return buckets, used, merged
    if request.dataset == "errors":
        interval = max(1, interval)
        first = int(request.start.timestamp()) // interval * interval
        end = request.end.timestamp()
        buckets = [b for b in range(first, int(end) + 1, interval) if b < end]
        found = _error_totals(request, [ERROR_COLUMNS[c] for c in group], bucket=interval)
    else:
        buckets, interval, found = series_totals(
            request.project_ids,
            start=request.start,
            end=request.end,
            interval_seconds=interval,
            environment=request.environments,
            query=request.query,
            names=names,
            exclude=exclude,
            group=[TRANSACTION_COLUMNS[c] for c in group],
            with_sketches=any(needs_sketches(a) for a in axes),
            users=any(canonical_user_field(a) for a in axes),
        )
    by_group: dict[tuple[Any, ...], dict[int, Totals]] = {}
    for key, point in found.items():
        by_group.setdefault(tuple(key[:-1]), {})[key[-1]] = point
    return buckets, interval, by_group


# {group values: {bucket start: {measurement: values}}}
MeasuredPoints = dict[tuple[Any, ...], dict[int, dict[str, list[float]]]]


def measurement_points(
    request: Request,
    interval: int,
    group: Sequence[str] = (),
    axes: Sequence[str] = (),
    *,
    names: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
) -> MeasuredPoints:
    """The values of the measurements ``axes`` ask for (`p75(measurements.lcp)`…) per group
    and ``interval`` bucket (aligned to the epoch, from the one holding the start), from the
    matching raw transactions: measurements are not in the rollups. Empty without such axes."""
    from spyglass.performance.search import transaction_queryset

    wanted = {m[1] for axis in axes if (m := measurement_function(axis))}
    if not wanted or request.dataset != "transactions":
        return {}
    first = int(request.start.timestamp()) // interval * interval
    rows = transaction_queryset(
        request.project_ids,
        request.query,
        start=datetime.fromtimestamp(first, tz=UTC),
        end=request.end,
        environment=request.environments,
    ).exclude(measurements={})
    if names is not None:
        rows = rows.filter(name__in=list(names))
    if exclude:
        rows = rows.exclude(name__in=list(exclude))
    columns = [TRANSACTION_COLUMNS[c] for c in group]
    found: MeasuredPoints = {}
    for *key, started, measured in rows.values_list(*columns, "start", "measurements").iterator(
        2000
    ):
        if not isinstance(measured, dict):
            continue
        at = int(started.timestamp()) // interval * interval
        for name in wanted:
            entry = measured.get(name)
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                point = found.setdefault(tuple(key), {}).setdefault(at, {})
                point.setdefault(name, []).append(float(value))
    return found


def merge_measured(groups: Sequence[dict[int, dict[str, list[float]]]]) -> dict[int, Any]:
    merged: dict[int, dict[str, list[float]]] = {}
    for points in groups:
        for at, values in points.items():
            into = merged.setdefault(at, {})
            for name, found in values.items():
                into.setdefault(name, []).extend(found)
    return merged


def merge_points(groups: Sequence[dict[int, Totals]]) -> dict[int, Totals]:
    merged: dict[int, Totals] = {}
    for points in groups:
        for at, point in points.items():
            merged.setdefault(at, Totals()).add_totals(point)
    return merged


def series_values(
    points: dict[int, Totals],
    buckets: Sequence[int],
    axis: str,
    interval: int,
    measured: dict[int, dict[str, list[float]]] | None = None,
) -> list[float]:
    """The value of ``axis`` in each bucket; empty buckets (and undefined values) are 0.
    ``measured``: the measurements' values per bucket (``measurement_points``)."""
    window = Window(datetime.fromtimestamp(0, tz=UTC), datetime.fromtimestamp(interval, tz=UTC))
    name = canonical(axis)
    measurement = measurement_function(name)
    values: list[float] = []
    for at in buckets:
        point = points.get(at)
        value = None
        if measurement is not None:
            found = (measured or {}).get(at, {}).get(measurement[1], [])
            value = _measurement_value(found, measurement[0])
        elif point is not None and name == "last_seen()":
            value = point.last_seen if point.last_seen != float("-inf") else None
        elif point is not None:
            value = field_value(point, name, window)
        if value is None:
            values.append(0)
        else:
            integer = TRANSACTION_FUNCTIONS.get(name) == "integer"
            values.append(int(value) if integer else value)
    return values
