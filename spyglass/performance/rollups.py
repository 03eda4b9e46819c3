"""Transaction rollups, the query API the performance pages, metric alerts and the Discover
API call: ``transaction_table``, ``series``, ``aggregate``, ``histogram``. (``record``, which
the digest calls, and the reading underneath are in ``rollup_store``; the accumulator and
Sentry's functions in ``totals``.)

Rows are per (project, transaction name, environment) per minute, hour, UTC day and week
(``TransactionRollup``). A window is read from week rows for its whole weeks, day rows for its
whole days, hour rows for its whole hours and minute rows for the rest (longer than a day:
to the hour; longer than a week: to the day). A ``query`` the rollups can't answer
(anything but ``event.type:transaction``, ``transaction:x`` and ``environment:x``) is
computed from the raw ``Transaction`` rows
instead, with the same sketches, so results have the same shape and error bounds. See
docs/performance.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from spyglass.performance import sketches
from spyglass.performance.rollup_store import (
    DAY,
    HOUR,
    MINUTE,
    RAW_GROUPS,
    WEEK,
    Table,
    _at,
    _epoch,
    _filtered,
    _merge_blobs,
    _narrow,
    _query_filters,
    _sums,
    minute_rollup_cutoff,
    record,
    rollups_answer,
    totals,
    totals_from_transactions,
    totals_table,
)
from spyglass.performance.totals import (
    AGGREGATE_FIELDS,
    MISERY_ALPHA,
    MISERY_BETA,
    QUANTILES,
    Totals,
    Window,
    canonical_user_field,
    field_value,
)

__all__ = [
    "AGGREGATE_FIELDS",
    "DAY",
    "HOUR",
    "MINUTE",
    "MISERY_ALPHA",
    "MISERY_BETA",
    "QUANTILES",
    "RAW_GROUPS",
    "WEEK",
    "HistogramBin",
    "SeriesPoint",
    "Table",
    "Totals",
    "TransactionSummary",
    "Window",
    "aggregate",
    "bins_of",
    "canonical_user_field",
    "field_value",
    "histogram",
    "minute_rollup_cutoff",
    "record",
    "rollups_answer",
    "series",
    "series_totals",
    "totals",
    "totals_from_transactions",
    "totals_table",
    "transaction_table",
]

# --- the query API ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionSummary:
    name: str
    op: str
    count: int
    tpm: float
    p50: float | None
    p75: float | None
    p95: float | None
    p99: float | None
    avg: float | None
    failure_rate: float | None
    apdex: float | None
    user_misery: float | None
    users: int
    failures: int = 0
    miserable_users: int = 0


_SORTS = {
    "count",
    "tpm",
    "p50",
    "p75",
    "p95",
    "p99",
    "avg",
    "failure_rate",
    "apdex",
    "user_misery",
    "users",
    "name",
}


def _summary(name: str, found: Totals, window: Window) -> TransactionSummary:
    p50, p75, p95, p99 = sketches.percentiles(found.histogram, [0.5, 0.75, 0.95, 0.99])
    users, miserable, misery = found.user_counts()
    return TransactionSummary(
        name=name,
        op=found.op,
        count=found.count,
        tpm=found.count / window.minutes,
        p50=p50,
        p75=p75,
        p95=p95,
        p99=p99,
        avg=found.avg,
        failure_rate=found.failure_rate,
        apdex=found.apdex,
        user_misery=misery,
        users=users,
        failures=found.failures,
        miserable_users=miserable,
    )


def transaction_table(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    environment: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    sort: str = "-count",
    limit: int = 50,
    offset: int = 0,
    query: str | None = None,
) -> list[TransactionSummary]:
    """One row per transaction name in [start, end), sorted by ``sort`` (a field of
    TransactionSummary, "-" for descending; unknown values for a field sort last)."""
    field_name = sort.lstrip("-")
    if field_name not in _SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    table = totals_table(
        project_ids,
        start=start,
        end=end,
        group=("name",),
        environment=environment,
        names=names,
        query=query,
    )
    window, found = table.window, table.found
    descending = sort.startswith("-")
    if field_name in COUNTER_SORTS:
        # Sorted by a counter: only the page's sketches are read.
        keys = sorted(found, key=lambda key: _counter_order(found[key], field_name, window, key))
        if descending:
            keys = _descending(keys, found, field_name, window)
        keys = keys[offset : offset + limit]
        table.load_sketches(keys)
        return [_summary(key[0], found[key], window) for key in keys]
    table.load_sketches()
    rows = [_summary(name, t, window) for (name,), t in found.items()]

    def order(row: TransactionSummary) -> tuple[bool, Any, str]:
        value = getattr(row, field_name)
        missing = value is None
        if descending and not missing and field_name != "name":
            value = -value
        return (missing, value if not missing else 0, row.name)

    rows.sort(key=order)
    if descending and field_name == "name":
        rows.reverse()
    return rows[offset : offset + limit]


# Sorts the summed counters answer (no sketch needed).
COUNTER_SORTS = frozenset({"count", "tpm", "avg", "failure_rate", "apdex", "name"})


def _counter_value(totals: Totals, name: str, window: Window) -> float | None:
    if name in ("count", "tpm"):
        return float(totals.count)
    value: float | None = getattr(totals, name)
    return value


def _counter_order(
    totals: Totals, name: str, window: Window, key: tuple[Any, ...]
) -> tuple[bool, Any, str]:
    if name == "name":
        return (False, key[0], key[0])
    value = _counter_value(totals, name, window)
    return (value is None, value if value is not None else 0, key[0])


def _descending(
    keys: list[tuple[Any, ...]], found: dict[tuple[Any, ...], Totals], name: str, window: Window
) -> list[tuple[Any, ...]]:
    """Largest first, missing values still last, ties by name ascending."""
    if name == "name":
        return list(reversed(keys))
    present = [k for k in keys if _counter_value(found[k], name, window) is not None]
    missing = [k for k in keys if _counter_value(found[k], name, window) is None]
    present.sort(key=lambda k: (-(_counter_value(found[k], name, window) or 0), k[0]))
    return present + missing


@dataclass(frozen=True)
class SeriesPoint:
    start: datetime
    count: int
    failures: int
    p50: float | None
    p95: float | None
    p99: float | None
    apdex: float | None
    p75: float | None = None
    avg: float | None = None
    failure_rate: float | None = None


def series_totals(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    interval_seconds: int,
    environment: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    query: str | None = None,
    group: Sequence[str] = (),
    with_sketches: bool = True,
    users: bool = False,
    exclude: Sequence[str] = (),
) -> tuple[list[int], int, dict[tuple[Any, ...], Totals]]:
    """(bucket starts, the interval, totals per (group values…, bucket start)): buckets every
    ``interval_seconds`` (rounded up to a minute; aligned to the epoch, like Sentry's) from
    the one holding ``start`` to ``end``. Intervals of whole weeks read week rows, of whole
    days day rows, of whole hours hour rows, shorter ones minute rows (kept
    SPYGLASS_RETENTION_MINUTE_ROLLUPS_DAYS).
    Counters are summed by the database; histograms are read with ``with_sketches``, user
    sketches with ``users`` too."""
    interval = max(MINUTE, -(-int(interval_seconds) // MINUTE) * MINUTE)
    first = _epoch(start) // interval * interval
    last = math.ceil(end.timestamp())
    buckets = list(range(first, last, interval))
    ids = list(project_ids)
    if not rollups_answer(query):
        found = totals_from_transactions(
            ids,
            query or "",
            _at(first),
            end,
            environment=environment,
            names=names,
            group=(*group, "bucket"),
            bucket_seconds=interval,
            exclude=exclude,
        )
        return buckets, interval, found
    extra_names, extra_envs = _query_filters(query)
    envs: str | Sequence[str] | None = environment
    if extra_envs is not None:
        envs = _narrow([environment] if isinstance(environment, str) else environment, extra_envs)
    resolution = next(r for r in (WEEK, DAY, HOUR, MINUTE) if interval % r == 0)
    parts = [(resolution, first, last)]
    width = len(group)
    totals_by_key: dict[tuple[Any, ...], Totals] = {}
    chosen = _narrow(names, extra_names)
    summed = _sums(ids, parts, envs, chosen, [*group, "bucket"], exclude, interval, resolution)
    for key, summed_point in summed.items():
        at = key[width] // interval * interval
        existing = totals_by_key.get((*key[:width], at))
        if existing is None:
            totals_by_key[(*key[:width], at)] = summed_point
        else:
            existing.add_totals(summed_point)
    if with_sketches:
        rows = _filtered(ids, parts, envs, chosen, exclude)
        _merge_blobs(
            totals_by_key, rows, group, None, users=users, interval=interval, resolution=resolution
        )
    return buckets, interval, totals_by_key


def series(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    interval_seconds: int,
    environment: str | Sequence[str] | None = None,
    name: str | None = None,
    query: str | None = None,
) -> list[SeriesPoint]:
    """A point every ``interval_seconds`` (see ``series_totals``), empty ones included."""
    buckets, _, found = series_totals(
        project_ids,
        start=start,
        end=end,
        interval_seconds=interval_seconds,
        environment=environment,
        names=None if name is None else [name],
        query=query,
    )
    points = []
    for at in buckets:
        point = found.get((at,)) or Totals()
        p50, p75, p95, p99 = sketches.percentiles(point.histogram, [0.5, 0.75, 0.95, 0.99])
        points.append(
            SeriesPoint(
                start=_at(at),
                count=point.count,
                failures=point.failures,
                p50=p50,
                p95=p95,
                p99=p99,
                apdex=point.apdex,
                p75=p75,
                avg=point.avg,
                failure_rate=point.failure_rate,
            )
        )
    return points


def aggregate(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    environment: str | Sequence[str] | None = None,
    name: str | None = None,
    fields: Sequence[str] = ("count()",),
    query: str | None = None,
) -> dict[str, float | None]:
    """Sentry's functions over one window, for metric alerts: {field: value}. Percentiles and
    averages are None when there is no transaction; counts and rates 0."""
    window, found = totals(
        project_ids,
        start=start,
        end=end,
        environment=environment,
        names=None if name is None else [name],
        query=query,
        users=any(canonical_user_field(f) for f in fields),
    )
    merged = found.get((), Totals())
    return {f: field_value(merged, f, window) for f in fields}


@dataclass(frozen=True)
class HistogramBin:
    start_ms: float
    end_ms: float
    count: int


def histogram(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    name: str,
    environment: str | Sequence[str] | None = None,
    buckets: int = 40,
    query: str | None = None,
) -> list[HistogramBin]:
    """Durations of one transaction as ``buckets`` bins of equal width from the shortest to
    the longest (each sketch bucket counted in the bin holding its reported value)."""
    _, found = totals(
        project_ids,
        start=start,
        end=end,
        environment=environment,
        names=[name],
        query=query,
        users=False,
    )
    merged = found.get((), Totals()).histogram
    return bins_of(merged, buckets)


def bins_of(merged: sketches.Histogram, buckets: int) -> list[HistogramBin]:
    if not merged:
        return []
    buckets = max(1, buckets)
    values = {b: sketches.value_of(b) for b in merged}
    low, high = min(values.values()), max(values.values())
    width = (high - low) / buckets if high > low else 1.0
    counts = [0] * buckets
    for bucket, count in merged.items():
        index = min(buckets - 1, int((values[bucket] - low) / width))
        counts[index] += count
    return [HistogramBin(low + i * width, low + (i + 1) * width, counts[i]) for i in range(buckets)]
