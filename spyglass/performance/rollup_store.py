"""Rollup rows: written per digest batch (``record``) and read back as ``Totals`` per group
over a window (``totals``, ``totals_table``), from the rollups when they can answer the query,
else from raw transactions. ``rollups`` builds the query API on this."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    BigIntegerField,
    BinaryField,
    ExpressionWrapper,
    F,
    Max,
    QuerySet,
    Sum,
)
from django.utils import timezone

from spyglass.performance import sketches
from spyglass.performance.models import (
    Transaction,
    TransactionRollup,
    apdex_thresholds,
)
from spyglass.performance.totals import Totals, Window

MINUTE = 60
HOUR = 3600
DAY = 86400
WEEK = 7 * DAY  # aligned to the epoch (weeks start on Thursday, 00:00 UTC)
# Longer windows are read from hour rows only, widened to whole hours.
EXACT_EDGES_UP_TO = timedelta(days=1)
# Longer still, to whole UTC days (day rows only).
HOUR_EDGES_UP_TO = timedelta(days=7)


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
    """Add newly stored transactions to their minute, hour, day and week rows: aggregated here
    first, then one upsert per row for the whole batch (inside the digest's write
    transaction)."""
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
        for resolution in (HOUR, DAY, WEEK):
            key = (project_id, resolution, minute - minute % resolution, name, environment)
            coarse = rows.get(key)
            if coarse is None:
                coarse = rows[key] = Totals()
            coarse.add_totals(totals)
    _upsert(rows)


def _upsert(rows: dict[_Key, Totals]) -> None:
    empty = (b"", b"", b"")
    with connection.cursor() as cursor:
        # In key order: concurrent workers (PostgreSQL) then take the new rows' locks in one
        # order, so two batches sharing rows wait for each other instead of deadlocking.
        cursor.executemany(_INSERT, [key + empty for key in sorted(rows)])
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


def build_week_rows(using: Any = None) -> int:
    """Week rows from the day rows of every (project, name, environment, week) that has no
    week row yet (rows written before week rows existed; migration 0005 calls this). Reads
    the day rows in key order and writes each week as it ends; returns the rows written."""
    conn = using or connection
    columns = "count, failures, satisfied, tolerable, duration_sum, histogram, users"
    with conn.cursor() as cursor:
        cursor.execute(
            f"SELECT project_id, bucket, name, environment FROM {_TABLE} WHERE resolution = %s",
            [WEEK],
        )
        existing = {tuple(row) for row in cursor.fetchall()}
    # A server-side cursor on PostgreSQL (it needs a transaction): day rows come in chunks.
    with transaction.atomic(using=conn.alias), conn.chunked_cursor() as cursor:
        cursor.execute(
            f"SELECT project_id, name, environment, bucket, op, {columns}, miserable_users"
            f" FROM {_TABLE} WHERE resolution = %s ORDER BY project_id, name, environment, bucket",
            [DAY],
        )
        weeks: list[tuple[Any, ...]] = []
        written = [0]
        current: tuple[Any, ...] | None = None

        def write() -> None:
            with conn.cursor() as writer:  # the reading cursor is still going
                writer.executemany(
                    f"INSERT INTO {_TABLE} ({_KEY_COLUMNS}, op, {columns}, miserable_users)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    f" ON CONFLICT ({_KEY_COLUMNS}) DO NOTHING",
                    weeks,
                )
            written[0] += len(weeks)
            weeks.clear()

        sums: list[Any] = []
        blobs: list[list[bytes]] = []

        def flush() -> None:
            if current is None or current in existing:
                return
            project_id, bucket, name, environment = current
            weeks.append(
                (
                    *(project_id, WEEK, bucket, name, environment, sums[0], *sums[1:6]),
                    sketches.encode_histogram(sketches.merge_encoded_histograms(blobs[0])),
                    sketches.encode_registers(sketches.merge_encoded_registers(blobs[1])),
                    sketches.encode_registers(sketches.merge_encoded_registers(blobs[2])),
                )
            )
            if len(weeks) >= 500:
                write()

        while chunk := cursor.fetchmany(2000):
            for project_id, name, env, bucket, op, *values in chunk:
                key = (project_id, bucket - bucket % WEEK, name, env)
                if key != current:
                    flush()
                    current, sums, blobs = key, [op, 0, 0, 0, 0, 0.0], [[], [], []]
                sums[0] = op  # the latest day's
                for index in range(5):
                    sums[index + 1] += values[index]
                for target, blob in zip(blobs, values[5:], strict=True):
                    if blob:
                        target.append(bytes(blob))
        flush()
        write()
    return written[0]


# --- reading ---------------------------------------------------------------------------------


def _epoch(moment: datetime) -> int:
    return math.floor(moment.timestamp())


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


Parts = list[tuple[int, int, int]]  # [(resolution, first bucket, end bucket)]


def _spans(start: datetime, end: datetime) -> tuple[Window, Parts]:
    """(the window read, the rows that cover it): week rows for its whole (epoch) weeks, day
    rows for its remaining whole days, hour rows for its whole hours, minute rows for the
    rest. Windows longer than a day (or older than the minute rows' retention) are widened
    to whole hours, longer than a week to whole days."""
    first, last = _epoch(start), math.ceil(end.timestamp())
    fine = MINUTE
    if end - start > EXACT_EDGES_UP_TO or start < minute_rollup_cutoff():
        fine = HOUR
    if end - start > HOUR_EDGES_UP_TO:
        fine = DAY
    first, last = first // fine * fine, -(-last // fine) * fine
    return Window(_at(first), _at(last)), _cover(first, last, (WEEK, DAY, HOUR, MINUTE), fine)


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
    exclude: Sequence[str] = (),
) -> list[QuerySet[TransactionRollup]]:
    """A query per part (each an index range; an OR of them would not be); ``exclude``:
    transaction names left out."""
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
        if exclude:
            rows = rows.exclude(name__in=list(exclude))
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
    # Measurement values per group and measurement (Discover's `p75(measurements.lcp)`),
    # read from raw transactions when asked for.
    measurements: dict[tuple[Any, ...], dict[str, list[float]]] = field(default_factory=dict)

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
        parts, merged = _closed_days(self, wanted, names, users=users)
        rows = _filtered(self.project_ids, parts, self.environment, names)
        _merge_blobs(self.found, rows, self.group, wanted, users=users, merged=merged)


# Merged sketches of closed days (week and day rows before today, UTC) per group, by window,
# filter and group: a 30-day window merges ≈ 4 week rows and a few day rows per group and
# environment, and the same days again on the next page load. Valid while the group's count
# over those rows is the one they were merged at, with the same last row id and duration sum
# (rows only grow: a late transaction changes the count). Per process, least recently used
# out first; each entry is its check and three encoded sketches (≤ 6 KB).
_Check = tuple[int, int, float]  # count, last row id, duration sum
_DAYS_CACHE: OrderedDict[tuple[Any, ...], tuple[_Check, bytes, bytes, bytes]] = OrderedDict()
DAYS_CACHE_ENTRIES = 4096
_CLOSABLE = (DAY, WEEK)


def _split_closed(parts: Parts, today: int) -> tuple[Parts, Parts]:
    """(the parts of week and day rows that end by today, the rest): a day part reaching
    into today is cut there; a week part holding today stays open."""
    closed: Parts = []
    open_parts: Parts = []
    for resolution, first, last in parts:
        if resolution not in _CLOSABLE:
            open_parts.append((resolution, first, last))
        elif last <= today:
            closed.append((resolution, first, last))
        elif resolution == DAY and first < today:
            closed.append((DAY, first, today))
            open_parts.append((DAY, today, last))
        else:
            open_parts.append((resolution, first, last))
    return closed, open_parts


def _closed_days(
    table: Table, wanted: set[tuple[Any, ...]], names: Sequence[str] | None, *, users: bool
) -> tuple[Parts, dict[tuple[Any, ...], tuple[bytes, ...]]]:
    """The parts still to read row by row, and the merged sketches of closed days per group
    (from the cache, or merged now and cached)."""
    today = _epoch(timezone.now()) // DAY * DAY
    closed, parts = _split_closed(table.parts, today)
    merged: dict[tuple[Any, ...], tuple[bytes, ...]] = {}
    if not table.group or sum(last - first for _, first, last in closed) < 2 * DAY:
        return table.parts, merged
    env = table.environment
    env_key = env if env is None or isinstance(env, str) else tuple(sorted(env))
    context = (tuple(sorted(table.project_ids)), tuple(sorted(closed)), env_key, users)
    group = tuple(table.group)
    querysets = _filtered(table.project_ids, closed, env, names)
    missing = set(wanted)
    if any((context, group, key) in _DAYS_CACHE for key in wanted):
        # Something to check (a window's first read has not: it merges at once).
        checks: dict[tuple[Any, ...], _Check] = {}
        for rows in querysets:
            summed = (
                rows.values_list(*group)
                .annotate(total=Sum("count"), last=Max("id"), spent=Sum("duration_sum"))
                .order_by()
            )
            for row in summed:
                key = tuple(row[:-3])
                seen = checks.get(key, (0, 0, 0.0))
                checks[key] = (
                    seen[0] + int(row[-3] or 0),
                    max(seen[1], int(row[-2] or 0)),
                    seen[2] + float(row[-1] or 0),
                )
        for key in wanted:
            hit = _DAYS_CACHE.get((context, group, key))
            check = checks.get(key)
            if check is None:
                missing.discard(key)  # no rows of those days
            elif hit is not None and _same(hit[0], check):
                _DAYS_CACHE.move_to_end((context, group, key))
                merged[key] = hit[1:]
                missing.discard(key)
    if missing:
        found = _stored_windows(table.project_ids, closed, today, env, names, group, missing)
        missing -= set(found)
        if missing:
            found.update(_merge_days(querysets, group, missing, users=users))
        for key, entry in found.items():
            _DAYS_CACHE[(context, group, key)] = entry
            merged[key] = entry[1:]
        while len(_DAYS_CACHE) > DAYS_CACHE_ENTRIES:
            _DAYS_CACHE.popitem(last=False)
    return parts, merged


# Closed windows: the closed days of the usual long windows (the last 14, 30 and 90 whole
# UTC days) merged by the scheduler (``write_closed_windows``) into rows of their own, so that
# a process's first read of such a window merges one row per name (and environment). Per
# (project, name, environment) their resolution is WINDOW_BASE plus the window's length in
# seconds; per (project, name), all environments together, twice WINDOW_BASE plus it
# (environment ""). No other reader asks for these resolutions; the bucket is the first day.
# A row is used while its count and duration sum are those of the rows it was merged from.
WINDOW_BASE = 10**9
WINDOW_DAYS = (14, 30, 90)
_WINDOW_KEYS: dict[int, tuple[str, ...]] = {
    WINDOW_BASE: ("project_id", "name", "environment"),
    2 * WINDOW_BASE: ("project_id", "name"),
}


def _window_of(closed: Parts, today: int) -> tuple[int, int] | None:
    """(length in seconds, first day) of the stored window these closed parts are, if any."""
    if not closed:
        return None
    first, end = min(p[1] for p in closed), max(p[2] for p in closed)
    if end != today or (end - first) % DAY or (end - first) // DAY not in WINDOW_DAYS:
        return None
    return end - first, first


def _live_checks(
    querysets: Sequence[QuerySet[TransactionRollup]], by: Sequence[str]
) -> dict[tuple[Any, ...], list[Any]]:
    """Per ``by`` values: [count, last row id, duration sum] of the rows."""
    checks: dict[tuple[Any, ...], list[Any]] = {}
    for rows in querysets:
        summed = (
            rows.values_list(*by)
            .annotate(total=Sum("count"), last=Max("id"), spent=Sum("duration_sum"))
            .order_by()
        )
        for *key, total, last, spent in summed:
            seen = checks.setdefault(tuple(key), [0, 0, 0.0])
            seen[0] += int(total or 0)
            seen[1] = max(seen[1], int(last or 0))
            seen[2] += float(spent or 0)
    return checks


def _stored_windows(
    project_ids: Sequence[int],
    closed: Parts,
    today: int,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
    group: Sequence[str],
    keys: set[tuple[Any, ...]],
) -> dict[tuple[Any, ...], tuple[_Check, bytes, bytes, bytes]]:
    """The cache entries of the groups whose closed days a stored window holds, each of its
    rows still matching the rows it was merged from (the others: merged by the caller)."""
    window = _window_of(closed, today)
    if window is None or not set(group) <= set(_WINDOW_KEYS[WINDOW_BASE]):
        return {}
    length, first = window
    base = WINDOW_BASE if environment is not None or "environment" in group else 2 * WINDOW_BASE
    by = _WINDOW_KEYS[base]
    live = _live_checks(_filtered(project_ids, closed, environment, names), by)
    if base != WINDOW_BASE:
        environment = None  # all environments' rows: environment ""
    [stored] = _filtered(project_ids, [(base + length, first, first + 1)], environment, names)
    blobs: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    columns = ("count", "duration_sum", "histogram", "users", "miserable_users")
    width = len(by)
    for row in stored.values_list(*by, *columns):
        seen = live.get(tuple(row[:width]))
        if seen is not None and seen[0] == row[width] and math.isclose(seen[2], row[width + 1]):
            blobs[tuple(row[:width])] = tuple(row[width + 2 :])
    at = [by.index(column) for column in group]
    members: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
    for member in live:
        members.setdefault(tuple(member[i] for i in at), []).append(member)
    found: dict[tuple[Any, ...], tuple[_Check, bytes, bytes, bytes]] = {}
    for key in keys:
        bases = members.get(key)
        if not bases or any(member not in blobs for member in bases):
            continue
        check: _Check = (
            sum(live[b][0] for b in bases),
            max(live[b][1] for b in bases),
            sum(live[b][2] for b in bases),
        )
        if len(bases) == 1:
            histogram_blob, users_blob, miserable_blob = (bytes(b) for b in blobs[bases[0]])
            found[key] = (check, histogram_blob, users_blob, miserable_blob)
            continue
        histogram = sketches.merge_encoded_histograms([blobs[b][0] for b in bases if blobs[b][0]])
        users, miserable = (
            sketches.merge_encoded_registers([blobs[b][i] for b in bases if blobs[b][i]])
            for i in (1, 2)
        )
        found[key] = (
            check,
            sketches.encode_histogram(histogram),
            sketches.encode_registers(users),
            sketches.encode_registers(miserable),
        )
    return found


def write_closed_windows(now: datetime | None = None) -> int:
    """Store the closed windows (WINDOW_DAYS) of every project with day rows in them whose
    stored rows are missing or no longer match (a new day, a late transaction), and delete
    the windows of days gone; returns the rows written. The scheduler runs it."""
    today = _epoch(now or timezone.now()) // DAY * DAY
    firsts = {
        base + days * DAY: today - days * DAY for base in _WINDOW_KEYS for days in WINDOW_DAYS
    }
    old = TransactionRollup.objects.filter(resolution__gt=WINDOW_BASE)
    for resolution, first in firsts.items():
        old = old.exclude(resolution=resolution, bucket=first)
    old._raw_delete(old.db)
    projects = (
        TransactionRollup.objects.filter(resolution=DAY, bucket__gte=min(firsts.values()))
        .values_list("project_id", flat=True)
        .distinct()
    )
    written = 0
    for project_id in sorted(projects):
        for resolution, first in firsts.items():
            by = _WINDOW_KEYS[resolution // WINDOW_BASE * WINDOW_BASE]
            written += _write_window(project_id, by, resolution, first, today)
    return written


def _write_window(
    project_id: int, by: Sequence[str], resolution: int, first: int, today: int
) -> int:
    closed, _ = _split_closed(_cover(first, today, (WEEK, DAY), DAY), today)
    live = _live_checks(_filtered([project_id], closed, None, None), by)
    stored = {
        tuple(row[: len(by)]): row[len(by) :]
        for row in TransactionRollup.objects.filter(
            project_id=project_id, resolution=resolution, bucket=first
        ).values_list(*by, "count", "duration_sum")
    }
    stale = {
        key
        for key, check in live.items()
        if key not in stored
        or stored[key][0] != check[0]
        or not math.isclose(stored[key][1], check[2])
    }
    gone = set(stored) - set(live)
    if not stale and not gone:
        return 0
    querysets = _filtered([project_id], closed, None, None)
    merged = _merge_days(querysets, by, stale, users=True)
    sums = _sums([project_id], closed, None, None, by)
    rows = []
    for key, (check, histogram, users, miserable) in merged.items():
        summed = sums.get(key, Totals())
        environment = key[2] if len(key) > 2 else ""
        rows.append(
            (
                *(project_id, resolution, first, key[1], environment, summed.op, check[0]),
                *(summed.failures, summed.satisfied, summed.tolerable, check[2]),
                *(histogram, users, miserable),
            )
        )
    with transaction.atomic(), connection.cursor() as cursor:
        for key in stale | gone:
            environment = key[2] if len(key) > 2 else ""
            cursor.execute(
                f"DELETE FROM {_TABLE} WHERE project_id = %s AND resolution = %s"
                " AND bucket = %s AND name = %s AND environment = %s",
                [project_id, resolution, first, key[1], environment],
            )
        cursor.executemany(
            f"INSERT INTO {_TABLE} ({_KEY_COLUMNS}, op, count, failures, satisfied, tolerable,"
            " duration_sum, histogram, users, miserable_users)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
    return len(rows)


def _same(cached: _Check, now: _Check) -> bool:
    return cached[:2] == now[:2] and math.isclose(cached[2], now[2], rel_tol=1e-9, abs_tol=1e-6)


def _merge_days(
    querysets: Sequence[QuerySet[TransactionRollup]],
    group: Sequence[str],
    keys: set[tuple[Any, ...]],
    *,
    users: bool,
) -> dict[tuple[Any, ...], tuple[_Check, bytes, bytes, bytes]]:
    """The check (count, last id, duration sum) and the merged, encoded sketches of these
    groups' rows, read together: the check is the one the sketches hold."""
    width = len(group)
    columns = ("histogram", "users", "miserable_users") if users else ("histogram",)
    found: dict[tuple[Any, ...], tuple[list[float], list[list[Any]]]] = {}
    selected = (*group, "id", "count", "duration_sum", *columns)
    for row in (r for rows in querysets for r in _raw(rows.values_list(*selected))):
        key = tuple(row[:width])
        if key not in keys:
            continue
        entry = found.get(key)
        if entry is None:
            entry = found[key] = ([0, 0, 0.0], [[] for _ in columns])
        check = entry[0]
        check[0] += row[width + 1]
        check[1] = max(check[1], row[width])
        check[2] += row[width + 2]
        for target, blob in zip(entry[1], row[width + 3 :], strict=True):
            if blob:
                target.append(blob)
    result = {}
    for key, (count, lists) in found.items():
        histogram = sketches.encode_histogram(sketches.merge_encoded_histograms(lists[0]))
        users_blob = miserable = b""
        if users:
            users_blob = sketches.encode_registers(sketches.merge_encoded_registers(lists[1]))
            miserable = sketches.encode_registers(sketches.merge_encoded_registers(lists[2]))
        result[key] = (
            (int(count[0]), int(count[1]), float(count[2])),
            histogram,
            users_blob,
            miserable,
        )
    return result


def _merge_blobs(
    found: dict[tuple[Any, ...], Totals],
    querysets: list[QuerySet[TransactionRollup]],
    group: Sequence[str],
    wanted: set[tuple[Any, ...]] | None,
    *,
    users: bool,
    interval: int = 0,
    resolution: int = 0,
    merged: dict[tuple[Any, ...], tuple[bytes, ...]] | None = None,
) -> None:
    """Merge the sketches of the rows into ``found`` by group (and by ``interval`` buckets
    of the row's bucket when given: the key's last part); ``merged``: sketches merged
    already per group (closed days), merged in as one more row."""
    width = len(group)
    columns = ("histogram", "users", "miserable_users") if users else ("histogram",)
    extra = ("bucket",) if interval else ()
    blobs: dict[tuple[Any, ...], list[list[Any]]] = {}
    for key, premerged in (merged or {}).items():
        blobs[key] = [[blob] if blob else [] for blob in premerged[: len(columns)]]
    for rows in querysets:
        if not users:
            # Histograms only: concatenated per group (and interval) by the database, which
            # is several times cheaper than a Python row per minute (they merge the same).
            rows = _slotted(rows, interval, resolution)
            by = [*group, *("slot",)[: len(extra)]] or ["project_id"]
            rows = rows.values(*by).annotate(joined=ConcatBlobs("histogram")).order_by()
            selected = rows.values_list(*by[: width + len(extra)], "joined")
        else:
            selected = rows.values_list(*group, *extra, *columns)
        for row in _raw(selected):
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


class ConcatBlobs(Aggregate):
    """The blobs of a group one after the other (in no particular order): PostgreSQL's
    ``string_agg`` of bytea; SQLite's ``group_concat`` keeps a blob's bytes (NULs too) as
    text of the database's UTF-8 encoding, cast back to a blob."""

    function = "string_agg"
    template = "%(function)s(%(expressions)s, ''::bytea)"
    output_field = BinaryField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(group_concat(%(expressions)s, x'') AS BLOB)"
        return self.as_sql(compiler, connection, template=template, **extra)


def _slotted(
    rows: QuerySet[TransactionRollup], interval: int, resolution: int
) -> QuerySet[TransactionRollup]:
    """With ``slot``: the start of the ``interval`` bucket holding the row's (integer
    division on both databases: buckets are not negative); the row's own bucket when the
    interval is its resolution (grouped in the index's order then, without a sort)."""
    if not interval:
        return rows
    if interval == resolution:
        return rows.annotate(slot=F("bucket"))
    return rows.annotate(
        slot=ExpressionWrapper(F("bucket") / interval * interval, output_field=BigIntegerField())
    )


def _sums(
    project_ids: Sequence[int],
    parts: Parts,
    environment: str | Sequence[str] | None,
    names: Sequence[str] | None,
    group: Sequence[str],
    exclude: Sequence[str] = (),
    interval: int = 0,
    resolution: int = 0,
) -> dict[tuple[Any, ...], Totals]:
    """The counters per group, summed by the database; with ``interval``, a "bucket" in
    ``group`` is the start of the ``interval`` bucket holding the row's (``_slotted``)."""
    sums = {
        "n": Sum("count"),
        "f": Sum("failures"),
        "s": Sum("satisfied"),
        "t": Sum("tolerable"),
        "d": Sum("duration_sum"),
        "last": Max("bucket"),
        "any_op": Max("op"),
    }
    found: dict[tuple[Any, ...], Totals] = {}
    width = len(group)
    # Grouped by project at least (then merged): an empty GROUP BY is not expressible here.
    by = list(group) or ["project_id"]
    if interval:
        by = ["slot" if column == "bucket" else column for column in by]
    for rows in _filtered(project_ids, parts, environment, names, exclude):
        rows = _slotted(rows, interval if "slot" in by else 0, resolution)
        summed_rows = rows.values(*by).annotate(**sums).values_list(*by, *sums).order_by()
        for row in _raw(summed_rows):
            count, failures, satisfied, tolerable, duration, last, op = row[len(by) :]
            if not count:
                continue
            summed = Totals(
                op=op or "",
                op_bucket=int(last),
                count=int(count),  # PostgreSQL's SUM of bigints is a numeric
                failures=int(failures),
                satisfied=int(satisfied),
                tolerable=int(tolerable),
                duration_sum=float(duration),
                last_bucket=int(last),
            )
            _add_sums(found, tuple(row[:width]), summed)
    return found


def _raw(rows: QuerySet[Any]) -> Any:
    """The rows of a values_list query as the database driver gives them: Django's per-value
    converters cost more than the query for thousands of small rows (integers, text, bytes
    need none on either backend)."""
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(2000):
            yield from chunk


def _add_sums(found: dict[tuple[Any, ...], Totals], key: tuple[Any, ...], summed: Totals) -> None:
    if key in found:
        found[key].add_totals(summed)
    else:
        found[key] = summed


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
    exclude: Sequence[str] = (),
) -> dict[tuple[Any, ...], Totals]:
    """The same totals computed from raw transactions (for queries rollups can't answer).
    ``group`` may include "bucket" (the start of a ``bucket_seconds`` bucket, in seconds)."""
    from spyglass.performance.search import transaction_queryset

    ids = list(project_ids)
    rows = transaction_queryset(ids, query, start=start, end=end, environment=environment)
    if names is not None:
        rows = rows.filter(name__in=list(names))
    if exclude:
        rows = rows.exclude(name__in=list(exclude))
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


def minute_rollup_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.RETENTION_MINUTE_ROLLUPS_DAYS)
