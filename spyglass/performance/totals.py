"""The accumulator behind every performance number: what rollup rows or raw transactions of
one group add up to (counters and sketches), and Sentry's functions computed from it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from spyglass.performance import sketches
from spyglass.performance.models import (
    NOT_FAILED,
)

MISERY_ALPHA = 5.8875
MISERY_BETA = 111.8625
QUANTILES = {"p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99, "p100": 1.0}


@dataclass(slots=True)
class Totals:
    """What rollup rows (or raw transactions) of one group add up to."""

    op: str = ""
    op_bucket: int = -1
    count: int = 0
    failures: int = 0
    satisfied: int = 0
    tolerable: int = 0
    duration_sum: float = 0.0
    histogram: sketches.Histogram = field(default_factory=dict)
    users: sketches.Registers = field(default_factory=dict)
    miserable: sketches.Registers = field(default_factory=dict)
    last_bucket: int = -1
    # Unix seconds of the latest transaction: known from raw transactions only.
    last_seen: float = float("-inf")

    def add_transaction(
        self, op: str, status: str, duration: float, user: str, threshold: float, at: int
    ) -> None:
        if at >= self.op_bucket:
            self.op, self.op_bucket = op, at
        self.last_bucket = max(self.last_bucket, at)
        self.count += 1
        if status not in NOT_FAILED:
            self.failures += 1
        if duration <= threshold:
            self.satisfied += 1
        elif duration <= 4 * threshold:
            self.tolerable += 1
        self.duration_sum += duration
        bucket = sketches.bucket_of(duration)
        self.histogram[bucket] = self.histogram.get(bucket, 0) + 1
        if user:
            hashed = sketches.user_hash(user)
            sketches.add_user(self.users, hashed)
            if duration > 4 * threshold:
                sketches.add_user(self.miserable, hashed)

    def add_totals(self, other: Totals) -> None:
        if other.op_bucket >= self.op_bucket:
            self.op, self.op_bucket = other.op, other.op_bucket
        self.last_bucket = max(self.last_bucket, other.last_bucket)
        self.last_seen = max(self.last_seen, other.last_seen)
        self.count += other.count
        self.failures += other.failures
        self.satisfied += other.satisfied
        self.tolerable += other.tolerable
        self.duration_sum += other.duration_sum
        sketches.merge_histogram(self.histogram, other.histogram)
        sketches.merge_registers(self.users, other.users)
        sketches.merge_registers(self.miserable, other.miserable)

    # What Sentry's functions compute from these.
    def percentile(self, quantile: float) -> float | None:
        return sketches.percentiles(self.histogram, [quantile])[0]

    @property
    def avg(self) -> float | None:
        return self.duration_sum / self.count if self.count else None

    @property
    def failure_rate(self) -> float | None:
        return self.failures / self.count if self.count else None

    @property
    def apdex(self) -> float | None:
        return (self.satisfied + self.tolerable / 2) / self.count if self.count else None

    @property
    def unique_users(self) -> int:
        return sketches.estimate(self.users)

    @property
    def miserable_users(self) -> int:
        return min(sketches.estimate(self.miserable), self.unique_users)

    def user_counts(self) -> tuple[int, int, float | None]:
        """(unique users, miserable users, user misery), each sketch estimated once."""
        users = sketches.estimate(self.users)
        miserable = min(sketches.estimate(self.miserable), users)
        if not self.count:
            return users, miserable, None
        return users, miserable, (miserable + MISERY_ALPHA) / (users + MISERY_ALPHA + MISERY_BETA)

    @property
    def user_misery(self) -> float | None:
        if not self.count:
            return None
        return (self.miserable_users + MISERY_ALPHA) / (
            self.unique_users + MISERY_ALPHA + MISERY_BETA
        )


@dataclass(frozen=True)
class Window:
    """The [start, end) actually read: the asked window, to the minute (or the hour)."""

    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds() / 60)


AGGREGATE_FIELDS = (
    "count()",
    "failure_count()",
    "failure_rate()",
    "p50()",
    "p75()",
    "p95()",
    "p99()",
    "p100()",
    "avg(transaction.duration)",
    "apdex()",
    "count_unique(user)",
    "count_miserable(user)",
    "user_misery()",
    "tpm()",
    "epm()",
)


def canonical_user_field(name: str) -> bool:
    """Whether this function reads the user sketches."""
    return name.replace(" ", "") in ("count_unique(user)", "count_miserable(user)", "user_misery()")


_PNN = re.compile(r"p([0-9]{1,3})\(\)\Z")
_PERCENTILE = re.compile(r"percentile\(transaction\.duration,([0-9]*\.?[0-9]+)\)\Z")


def quantile_of(canonical: str) -> float | None:
    """The quantile a duration function asks for: `p90()` (any pNN), `percentile(transaction.
    duration,0.95)`, `min()`, `max()` (after `(transaction.duration)` became `()`)."""
    if canonical == "max()":
        return 1.0
    if canonical == "min()":
        return 0.0
    match = _PNN.match(canonical)
    if match and int(match[1]) <= 100:
        return int(match[1]) / 100
    match = _PERCENTILE.match(canonical)
    if match and 0 <= float(match[1]) <= 1:
        return float(match[1])
    return None


def field_value(found: Totals, name: str, window: Window) -> float | None:
    """The value of one of Sentry's functions (AGGREGATE_FIELDS; `pNN(transaction.duration)`
    is `pNN()`) over these totals."""
    canonical = name.replace("(transaction.duration)", "()").replace(" ", "")
    quantile = quantile_of(canonical)
    if quantile is not None:
        return found.percentile(quantile)
    if canonical == "sum()":
        return found.duration_sum
    if canonical == "count()":
        return float(found.count)
    if canonical == "failure_count()":
        return float(found.failures)
    if canonical == "failure_rate()":
        return found.failure_rate if found.count else 0.0
    if canonical in ("avg()", "avg(transaction.duration)"):
        return found.avg
    if canonical == "apdex()":
        return found.apdex if found.count else 0.0
    if canonical == "count_unique(user)":
        return float(found.unique_users)
    if canonical == "count_miserable(user)":
        return float(found.miserable_users)
    if canonical == "user_misery()":
        return found.user_misery
    if canonical in ("tpm()", "epm()"):
        return found.count / window.minutes
    if canonical in ("tps()", "eps()"):
        return found.count / window.minutes / 60
    raise ValueError(f"unknown field {name!r}")
