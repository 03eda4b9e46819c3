"""The value of a metric alert rule's aggregate over one window.

Transactions come from the performance rollups when they can answer (no filter query beyond
exact transaction and environment), else from the raw ``performance.Transaction`` rows the
search language selects; errors from the stored events (their own columns, through the
events query). ``error_rate()`` is errors ÷ transactions of the same projects and window.

Aggregates (Sentry's names): ``count()``, ``count_unique(user)``, ``failure_rate()``,
``p50/p75/p95/p99(transaction.duration)``, ``avg(transaction.duration)``, ``apdex()`` /
``apdex(<T ms>)``, ``tpm()``, ``error_rate()`` and ``consecutive_failures()`` (the run of
the latest transactions matching the query that failed: status not ok / cancelled /
unknown, or an HTTP status of 500 or above)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from spyglass.events.models import Event
from spyglass.events.query import event_q
from spyglass.performance import rollups
from spyglass.performance.models import NOT_FAILED
from spyglass.performance.search import transaction_queryset
from spyglass.search import Scope, parse

TRANSACTION_AGGREGATES = (
    "count()",
    "count_unique(user)",
    "failure_rate()",
    "p50(transaction.duration)",
    "p75(transaction.duration)",
    "p95(transaction.duration)",
    "p99(transaction.duration)",
    "avg(transaction.duration)",
    "apdex()",
    "tpm()",
    "consecutive_failures()",
)
ERROR_AGGREGATES = ("count()", "count_unique(user)", "error_rate()")
_APDEX = re.compile(r"apdex\((\d{1,6})\)\Z")
_PERCENTILE = re.compile(r"p(50|75|95|99|100)\(transaction\.duration\)\Z")
CONSECUTIVE_LIMIT = 10_000  # rows looked at for a run of failures


def valid_aggregate(dataset: str, aggregate: str) -> bool:
    allowed = TRANSACTION_AGGREGATES if dataset == "transactions" else ERROR_AGGREGATES
    return aggregate in allowed or (dataset == "transactions" and bool(_APDEX.match(aggregate)))


@dataclass(frozen=True)
class MetricScope:
    project_ids: Sequence[int]
    dataset: str
    aggregate: str
    query: str
    environment: str


def value(scope: MetricScope, start: datetime, end: datetime) -> float | None:
    if scope.dataset == "transactions":
        return _transactions(scope, start, end)
    return _errors(scope, start, end)


def _environment(scope: MetricScope) -> str | None:
    return scope.environment or None


def _errors(scope: MetricScope, start: datetime, end: datetime) -> float | None:
    events = Event.objects.filter(
        project_id__in=scope.project_ids, timestamp__gte=start, timestamp__lt=end
    )
    if scope.environment:
        events = events.filter(environment=scope.environment)
    if scope.query.strip():
        events = events.filter(event_q(parse(scope.query, now=timezone.now(), scope=Scope.EVENT)))
    if scope.aggregate == "count_unique(user)":
        return float(events.exclude(user_key="").values("user_key").distinct().count())
    errors = float(events.count())
    if scope.aggregate != "error_rate()":
        return errors
    total = _transaction_value(scope, "count()", "", start, end)
    return errors / total if total else None


def _transactions(scope: MetricScope, start: datetime, end: datetime) -> float | None:
    if scope.aggregate == "consecutive_failures()":
        return float(consecutive_failures(scope, start, end))
    return _transaction_value(scope, scope.aggregate, scope.query, start, end)


def _transaction_value(
    scope: MetricScope, aggregate: str, query: str, start: datetime, end: datetime
) -> float | None:
    if not _APDEX.match(aggregate):  # the rollups' Apdex is at 300 ms
        found = rollups.aggregate(
            list(scope.project_ids),
            start=start,
            end=end,
            environment=_environment(scope),
            fields=[aggregate],
            query=query or None,
        )
        result = found.get(aggregate)
        return None if result is None else float(result)
    rows = list(
        transaction_queryset(
            scope.project_ids, query, start=start, end=end, environment=_environment(scope)
        ).values_list("duration_ms", "status", "http_status_code", "user_key")
    )
    return from_rows(aggregate, rows, (end - start).total_seconds() / 60)


def _failed(status: str, http_status: int | None) -> bool:
    return status not in NOT_FAILED or (http_status is not None and http_status >= 500)


def from_rows(
    aggregate: str, rows: Sequence[tuple[float, str, int | None, str]], minutes: float
) -> float | None:
    """An aggregate over raw transactions: (duration ms, status, HTTP status, user)."""
    count = len(rows)
    if aggregate == "count()":
        return float(count)
    if aggregate == "tpm()":
        return count / minutes if minutes else None
    if aggregate == "count_unique(user)":
        return float(len({r[3] for r in rows if r[3]}))
    if aggregate == "failure_rate()":
        return sum(1 for r in rows if _failed(r[1], r[2])) / count if count else 0.0
    durations = sorted(r[0] for r in rows)
    if not durations:
        return None
    if aggregate == "avg(transaction.duration)":
        return sum(durations) / count
    percentile = _PERCENTILE.match(aggregate)
    if percentile:
        return quantile(durations, int(percentile.group(1)) / 100)
    apdex = _APDEX.match(aggregate)
    if apdex or aggregate == "apdex()":
        t = float(apdex.group(1)) if apdex else 300.0
        satisfied = sum(1 for d in durations if d <= t)
        tolerating = sum(1 for d in durations if t < d <= 4 * t)
        return (satisfied + tolerating / 2) / count
    raise ValueError(f"unknown aggregate {aggregate!r}")


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def consecutive_failures(scope: MetricScope, start: datetime, end: datetime) -> int:
    """How many of the latest matching transactions in the window failed in a row."""
    rows = (
        transaction_queryset(
            scope.project_ids, scope.query, start=start, end=end, environment=_environment(scope)
        )
        .order_by("-start", "-id")
        .values_list("status", "http_status_code")[:CONSECUTIVE_LIMIT]
    )
    run = 0
    for status, http_status in rows:
        if not _failed(status, http_status):
            break
        run += 1
    return run
