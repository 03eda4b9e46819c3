"""Transaction rollups: written per digest batch (``record``), read by the performance pages,
metric alerts and the Discover API (``transaction_table``, ``series``, ``aggregate``,
``histogram``).

Rows are per (project, transaction name, environment) per minute and per hour
(``TransactionRollup``). A window is read from hour rows for its whole hours and from minute
rows for the rest (windows longer than a day are widened to whole hours instead). A ``query``
the rollups can't answer (anything but ``event.type:transaction``, ``transaction:x`` and
``environment:x``) is computed from the raw ``Transaction`` rows instead, with the same
sketches, so results have the same shape and error bounds. See docs/performance.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max, QuerySet, Sum
from django.utils import timezone

from spyglass.performance import sketches
from spyglass.performance.models import (
    NOT_FAILED,
    Transaction,
    TransactionRollup,
    apdex_thresholds,
)

MINUTE = 60
HOUR = 3600
DAY = 86400
# Sentry's user misery prior (alpha, beta): few users read as ≈ 0.05, not 0 or 1.
MISERY_ALPHA = 5.8875
MISERY_BETA = 111.8625
# Longer windows are read from hour rows only, widened to whole hours.
EXACT_EDGES_UP_TO = timedelta(days=1)
# Longer still, to whole UTC days (day rows only).
HOUR_EDGES_UP_TO = timedelta(days=7)
QUANTILES = {"p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99, "p100": 1.0}


# --- accumulating ----------------------------------------------------------------------------


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


# --- writing (the digest) ------------------------------------------------------------------

_Key = tuple[int, int, int, str, str]  # project, resolution, bucket, name, environment
_TABLE = TransactionRollup._meta.db_table
_KEY_COLUMNS = "project_id, resolution, bucket, name, environment"
_INSERT = (
    f"INSERT INTO {_TABLE} ({_KEY_COLUMNS}, op, count, failures, satisfied, tolerable,"
    " duration_sum, histogram, users, miserable_users)"
    " VALUES (%s, %s, %s, %s, %s, '', 0, 0, 0, 0, 0, %s, %s, %s)"
    f" ON CONFLICT ({_KEY_COLUMNS}) DO NOTHING"
)
_UPDATE = (
    f"UPDATE {_TABLE} SET op = %s, count = count + %s, failures = failures + %s,"
    " satisfied = satisfied + %s, tolerable = tolerable + %s,"
    " duration_sum = duration_sum + %s, histogram = %s, users = %s, miserable_users = %s"
    " WHERE id = %s"
)


def record(transactions: Sequence[Transaction]) -> None:
    """Add newly stored transactions to their minute, hour and day rows: aggregated here first,
    then one upsert per row for the whole batch (inside the digest's write transaction)."""
    if not transactions:
        return
    thresholds = apdex_thresholds({tx.project_id for tx in transactions})
    minutes: dict[_Key, Totals] = {}
    for tx in transactions:
        minute = int(tx.start.timestamp()) // MINUTE * MINUTE
        key = (tx.project_id, MINUTE, minute, tx.name, tx.environment)
        totals = minutes.get(key)
        if totals is None:
            totals = minutes[key] = Totals()
        totals.add_transaction(
            tx.op, tx.status, tx.duration_ms, tx.user_key, thresholds[tx.project_id], minute
        )
    rows = dict(minutes)
    for (project_id, _, minute, name, environment), totals in minutes.items():
        for resolution in (HOUR, DAY):
            key = (project_id, resolution, minute - minute % resolution, name, environment)
            coarse = rows.get(key)
            if coarse is None:
                coarse = rows[key] = Totals()
            coarse.add_totals(totals)
    _upsert(rows)


def _upsert(rows: dict[_Key, Totals]) -> None:
    empty = (b"", b"", b"")
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT, [key + empty for key in rows])
        stored = _stored_rows(cursor, rows)
        updates = []
        for key, (row_id, hist, users, miserable) in stored.items():
            totals = rows[key]
            updates.append(
                (
                    totals.op,
                    totals.count,
                    totals.failures,
                    totals.satisfied,
                    totals.tolerable,
                    totals.duration_sum,
                    sketches.add_to_encoded_histogram(hist, totals.histogram),
                    sketches.add_to_encoded(users, totals.users),
                    sketches.add_to_encoded(miserable, totals.miserable),
                    row_id,
                )
            )
        cursor.executemany(_UPDATE, updates)


def _stored_rows(cursor: Any, rows: dict[_Key, Totals]) -> dict[_Key, tuple[int, Any, Any, Any]]:
    """The rows of these keys (locked on PostgreSQL: other digest workers wait for them)."""
    found: dict[_Key, tuple[int, Any, Any, Any]] = {}
    projects = sorted({key[0] for key in rows})
    buckets = sorted({key[2] for key in rows})
    names = sorted({key[3] for key in rows})
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""
    for start in range(0, len(names), 200):
        chunk = names[start : start + 200]
        cursor.execute(
            f"SELECT id, {_KEY_COLUMNS}, histogram, users, miserable_users FROM {_TABLE}"
            f" WHERE project_id IN ({_marks(projects)}) AND bucket IN ({_marks(buckets)})"
            f" AND name IN ({_marks(chunk)}) ORDER BY id{lock}",
            [*projects, *buckets, *chunk],
        )
        for row_id, project_id, resolution, bucket, name, env, hist, users, mis in cursor:
            key = (project_id, resolution, bucket, name, env)
            if key in rows:
                found[key] = (row_id, hist, users, mis)
    return found


def _marks(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


# --- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """The [start, end) actually read: the asked window, to the minute (or the hour)."""

    start: datetime
    end: datetime

    @property
    def minutes(self) -> float:
        return max(1.0, (self.end - self.start).total_seconds() / 60)


def _epoch(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


Parts = list[tuple[int, int, int]]  # [(resolution, first bucket, end bucket)]


def _spans(start: datetime, end: datetime) -> tuple[Window, Parts]:
    """(the window read, the rows that cover it): day rows for its whole days, hour rows for
    its whole hours, minute rows for the rest. Windows longer than a day (or older than the
    minute rows' retention) are widened to whole hours, longer than a week to whole days."""
    first, last = _epoch(start), math.ceil(end.timestamp())
    fine = MINUTE
    if end - start > EXACT_EDGES_UP_TO or start < minute_rollup_cutoff():
        fine = HOUR
    if end - start > HOUR_EDGES_UP_TO:
        fine = DAY
    first, last = first // fine * fine, -(-last // fine) * fine
    return Window(_at(first), _at(last)), _cover(first, last, (DAY, HOUR, MINUTE), fine)


def _cover(first: int, last: int, resolutions: Sequence[int], fine: int) -> Parts:
    """The coarsest rows first, finer ones for what is left at either end."""
    resolution = resolutions[0]
    if resolution == fine:
        return [(resolution, first, last)] if first < last else []
    inner_first, inner_last = -(-first // resolution) * resolution, last // resolution * resolution
    if inner_first >= inner_last:
        return _cover(first, last, resolutions[1:], fine)
    return [
        (resolution, inner_first, inner_last),
        *_cover(first, inner_first, resolutions[1:], fine),
        *_cover(inner_last, last, resolutions[1:], fine),
    ]


def _filtered(
    project_ids: Sequence[int],
    parts: Parts,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
) -> list[QuerySet[TransactionRollup]]:
    """A query per part (each an index range; an OR of them would not be)."""
    found = []
    for resolution, first, last in parts:
        rows = TransactionRollup.objects.filter(
            project_id__in=project_ids, resolution=resolution, bucket__gte=first, bucket__lt=last
        )
        if environment is not None:
            envs = [environment] if isinstance(environment, str) else list(environment)
            rows = rows.filter(environment__in=envs)
        if names is not None:
            rows = rows.filter(name__in=list(names))
        found.append(rows)
    return found


@dataclass
class Table:
    """Totals per group over a window. From rollups, the counters are summed by the database
    first and the sketches (percentiles, users) read only for the groups asked for
    (``load_sketches``): a page of a table sorted by a counter reads few blobs."""

    window: Window
    found: dict[tuple[Any, ...], Totals]
    project_ids: list[int] = field(default_factory=list)
    parts: Parts = field(default_factory=list)
    environment: str | Sequence[str] | None = None
    names: Sequence[str] | None = None
    group: Sequence[str] = ()
    loaded: bool = True

    def load_sketches(
        self, keys: Iterable[tuple[Any, ...]] | None = None, *, users: bool = True
    ) -> None:
        """Read the sketches of these groups (all: None); ``users=False``: the histograms
        only (the user sketches are the larger blobs)."""
        if self.loaded:
            return
        wanted = set(self.found) if keys is None else set(keys) & set(self.found)
        if keys is None:
            self.loaded = True
        if not wanted:
            return
        names = self.names
        if "name" in self.group and len(wanted) < len(self.found):
            index = list(self.group).index("name")
            names = sorted({key[index] for key in wanted})
        rows = _filtered(self.project_ids, self.parts, self.environment, names)
        _merge_blobs(self.found, rows, self.group, wanted, users=users)


def _merge_blobs(
    found: dict[tuple[Any, ...], Totals],
    querysets: list[QuerySet[TransactionRollup]],
    group: Sequence[str],
    wanted: set[tuple[Any, ...]] | None,
    *,
    users: bool,
    interval: int = 0,
) -> None:
    """Merge the sketches of the rows into ``found`` by group (and by ``interval`` buckets
    of the row's bucket when given: the key's last part)."""
    width = len(group)
    columns = ("histogram", "users", "miserable_users") if users else ("histogram",)
    extra = ("bucket",) if interval else ()
    blobs: dict[tuple[Any, ...], list[list[Any]]] = {}
    for rows in querysets:
        for row in rows.values_list(*group, *extra, *columns).iterator(chunk_size=2000):
            key = tuple(row[:width])
            if interval:
                key = (*key, row[width] // interval * interval)
            if wanted is not None and key not in wanted:
                continue
            lists = blobs.get(key)
            if lists is None:
                lists = blobs[key] = [[] for _ in columns]
            for target, blob in zip(lists, row[width + len(extra) :], strict=True):
                if blob:
                    target.append(blob)
    for key, lists in blobs.items():
        totals = found.get(key)
        if totals is None:
            continue
        totals.histogram = sketches.merge_encoded_histograms(lists[0])
        if users:
            totals.users = sketches.merge_encoded_registers(lists[1])
            totals.miserable = sketches.merge_encoded_registers(lists[2])


def _sums(
    project_ids: Sequence[int],
    parts: Parts,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
    group: Sequence[str],
) -> dict[tuple[Any, ...], Totals]:
    """The counters per group, summed by the database."""
    sums = {
        "n": Sum("count"),
        "f": Sum("failures"),
        "s": Sum("satisfied"),
        "t": Sum("tolerable"),
        "d": Sum("duration_sum"),
        "last": Max("bucket"),
        "any_op": Max("op"),
    }
    found_rows: list[dict[str, Any]] = []
    for rows in _filtered(project_ids, parts, environment, names):
        if group:
            found_rows.extend(rows.values(*group).annotate(**sums).order_by())
        else:
            total = rows.aggregate(**sums)
            found_rows.extend([total] if total["n"] else [])
    found: dict[tuple[Any, ...], Totals] = {}
    for row in found_rows:
        key = tuple(row[g] for g in group)
        summed = Totals(
            op=row["any_op"] or "",
            op_bucket=row["last"],
            count=row["n"],
            failures=row["f"],
            satisfied=row["s"],
            tolerable=row["t"],
            duration_sum=row["d"],
            last_bucket=row["last"],
        )
        if key in found:
            found[key].add_totals(summed)
        else:
            found[key] = summed
    return found


def _totals_from_rows(
    project_ids: Iterable[int],
    start: datetime,
    end: datetime,
    *,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
    group: Sequence[str],
) -> Table:
    window, parts = _spans(start, end)
    ids = list(project_ids)
    found = _sums(ids, parts, environment, names, group)
    return Table(window, found, ids, parts, environment, names, group, loaded=False)


# Raw transactions: what the rollup dimensions are called there.
RAW_GROUPS = frozenset({"name", "project_id", "environment", "release", "op", "status"})


def totals_from_transactions(
    project_ids: Iterable[int],
    query: str,
    start: datetime,
    end: datetime,
    *,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
    group: Sequence[str],
    bucket_seconds: int = MINUTE,
) -> dict[tuple[Any, ...], Totals]:
    """The same totals computed from raw transactions (for queries rollups can't answer).
    ``group`` may include "bucket" (the start of a ``bucket_seconds`` bucket, in seconds)."""
    from spyglass.performance.search import transaction_queryset

    ids = list(project_ids)
    rows = transaction_queryset(ids, query, start=start, end=end, environment=environment)
    if names is not None:
        rows = rows.filter(name__in=list(names))
    thresholds = apdex_thresholds(ids)
    columns = [g for g in group if g != "bucket"]
    if not set(columns) <= RAW_GROUPS:
        raise ValueError(f"can't group transactions by {sorted(set(columns) - RAW_GROUPS)}")
    found: dict[tuple[Any, ...], Totals] = {}
    values = rows.values_list(
        "project_id", "op", "status", "duration_ms", "user_key", "start", *columns
    )
    for project_id, op, status, duration, user, started, *dims in values.iterator(2000):
        at = _epoch(started) // bucket_seconds * bucket_seconds
        key = tuple(at if g == "bucket" else dims.pop(0) for g in group)
        totals = found.get(key)
        if totals is None:
            totals = found[key] = Totals()
        totals.add_transaction(op, status, duration, user, thresholds[project_id], at)
        totals.last_seen = max(totals.last_seen, started.timestamp())
    return found


def rollups_answer(query: str | None) -> bool:
    """Whether rollups can answer this query: nothing but `event.type:transaction`, exact
    `transaction:…` and `environment:…` filters, AND-ed."""
    if not query or not query.strip():
        return True
    from spyglass.search import And, Filter, Scope, TextValue, parse

    node = parse(query, now=timezone.now(), scope=Scope.TRANSACTION)
    children = node.children if isinstance(node, And) else (node,)
    for child in children:
        if not isinstance(child, Filter) or child.negated or child.key.tag:
            return False
        values = child.values
        if not all(isinstance(v, TextValue) and not v.has_wildcards for v in values):
            return False
        texts = [v.text for v in values if isinstance(v, TextValue)]
        if child.key.name == "event.type":
            if texts != ["transaction"]:
                return False
        elif child.key.name not in ("transaction", "environment"):
            return False
    return True


def _query_filters(query: str | None) -> tuple[list[str] | None, list[str] | None]:
    """(names, environments) a rollup-answerable query restricts to (None: any)."""
    if not query or not query.strip():
        return None, None
    from spyglass.search import And, Filter, Scope, TextValue, parse

    node = parse(query, now=timezone.now(), scope=Scope.TRANSACTION)
    names: list[str] | None = None
    envs: list[str] | None = None
    for child in node.children if isinstance(node, And) else (node,):
        if not isinstance(child, Filter):
            continue
        texts = [v.text for v in child.values if isinstance(v, TextValue)]
        if child.key.name == "transaction":
            names = texts if names is None else [n for n in names if n in texts]
        elif child.key.name == "environment":
            envs = texts if envs is None else [e for e in envs if e in texts]
    return names, envs


def _narrow(given: Sequence[str] | None, extra: list[str] | None) -> list[str] | None:
    if extra is None:
        return None if given is None else list(given)
    if given is None:
        return extra
    return [value for value in given if value in extra]


def totals(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    group: Sequence[str] = (),
    environment: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    query: str | None = None,
    users: bool = True,
) -> tuple[Window, dict[tuple[Any, ...], Totals]]:
    """Totals per group (of "name", "project_id", "environment"), from rollups when they can
    answer the query, else from raw transactions. The Discover API builds on this.
    ``users=False``: the user sketches are not read (user counts are then 0)."""
    table = totals_table(
        project_ids,
        start=start,
        end=end,
        group=group,
        environment=environment,
        names=names,
        query=query,
    )
    table.load_sketches(users=users)
    return table.window, table.found


def totals_table(
    project_ids: Iterable[int],
    *,
    start: datetime,
    end: datetime,
    group: Sequence[str] = (),
    environment: str | Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    query: str | None = None,
) -> Table:
    """``totals``, with the sketches not read yet (``Table.load_sketches``)."""
    ids = list(project_ids)
    if not rollups_answer(query):
        found = totals_from_transactions(
            ids, query or "", start, end, environment=environment, names=names, group=group
        )
        return Table(Window(start, end), found)
    extra_names, extra_envs = _query_filters(query)
    envs: str | Sequence[str] | None = environment
    if extra_envs is not None:
        given = [environment] if isinstance(environment, str) else environment
        envs = _narrow(given, extra_envs)
    return _totals_from_rows(
        ids, start, end, environment=envs, names=_narrow(names, extra_names), group=group
    )


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
) -> tuple[list[int], int, dict[tuple[Any, ...], Totals]]:
    """(bucket starts, the interval, totals per (group values…, bucket start)): buckets every
    ``interval_seconds`` (rounded up to a minute; aligned to the epoch, like Sentry's) from
    the one holding ``start`` to ``end``. Intervals of whole days read day rows, of whole
    hours hour rows, shorter ones minute rows (kept SPYGLASS_RETENTION_MINUTE_ROLLUPS_DAYS).
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
        )
        return buckets, interval, found
    extra_names, extra_envs = _query_filters(query)
    envs: str | Sequence[str] | None = environment
    if extra_envs is not None:
        envs = _narrow([environment] if isinstance(environment, str) else environment, extra_envs)
    resolution = DAY if interval % DAY == 0 else HOUR if interval % HOUR == 0 else MINUTE
    parts = [(resolution, first, last)]
    width = len(group)
    totals_by_key: dict[tuple[Any, ...], Totals] = {}
    summed = _sums(ids, parts, envs, _narrow(names, extra_names), [*group, "bucket"])
    for key, summed_point in summed.items():
        at = key[width] // interval * interval
        existing = totals_by_key.get((*key[:width], at))
        if existing is None:
            totals_by_key[(*key[:width], at)] = summed_point
        else:
            existing.add_totals(summed_point)
    if with_sketches:
        rows = _filtered(ids, parts, envs, _narrow(names, extra_names))
        _merge_blobs(totals_by_key, rows, group, None, users=users, interval=interval)
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


def field_value(found: Totals, name: str, window: Window) -> float | None:
    """The value of one of Sentry's functions (AGGREGATE_FIELDS; `pNN(transaction.duration)`
    is `pNN()`) over these totals."""
    canonical = name.replace("(transaction.duration)", "()").replace(" ", "")
    if canonical in ("p50()", "p75()", "p95()", "p99()", "p100()"):
        return found.percentile(QUANTILES[canonical[:-2]])
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


def minute_rollup_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.RETENTION_MINUTE_ROLLUPS_DAYS)
