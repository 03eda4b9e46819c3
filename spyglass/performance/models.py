"""Transactions and spans: what performance pages, traces and latency alerts read."""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from django.db import connection, models

from spyglass.projects.models import Project


class SpanStatus(models.TextChoices):
    # Relay's SpanStatus names (the `status` of a trace context or span).
    OK = "ok"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"
    INVALID_ARGUMENT = "invalid_argument"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    PERMISSION_DENIED = "permission_denied"
    RESOURCE_EXHAUSTED = "resource_exhausted"
    FAILED_PRECONDITION = "failed_precondition"
    ABORTED = "aborted"
    OUT_OF_RANGE = "out_of_range"
    UNIMPLEMENTED = "unimplemented"
    INTERNAL_ERROR = "internal_error"
    UNAVAILABLE = "unavailable"
    DATA_LOSS = "data_loss"
    UNAUTHENTICATED = "unauthenticated"

    @classmethod
    def parse(cls, value: object) -> str:
        """A status name from what SDKs send: Relay's names, its aliases, span v2's
        ``ok``/``error``; anything else is ``unknown`` (as Relay defaults a missing one)."""
        if not isinstance(value, str):
            return cls.UNKNOWN
        name = value.strip().lower()
        name = _ALIASES.get(name, name)
        return name if name in _NAMES else cls.UNKNOWN


_ALIASES = {"unknown_error": "unknown", "error": "internal_error", "canceled": "cancelled"}
_NAMES = frozenset(SpanStatus.values)  # `values` builds a list on every call
# Statuses that do not count as failures (Sentry's failure_rate()).
NOT_FAILED = frozenset({SpanStatus.OK, SpanStatus.CANCELLED, SpanStatus.UNKNOWN})


class Transaction(models.Model):
    """One transaction (a classic ``transaction`` item, or a span v2 segment). The whole
    payload is ``body`` (zstd JSON, with its spans for classic transactions); the fields that
    lists, percentiles and traces need are columns."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="transactions")
    event_id = models.CharField(max_length=32)
    trace_id = models.CharField(max_length=32, blank=True)
    span_id = models.CharField(max_length=16, blank=True)
    parent_span_id = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=200)  # Sentry's `transaction`
    op = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, default=SpanStatus.UNKNOWN)
    start = models.DateTimeField()
    duration_ms = models.FloatField()
    received_at = models.DateTimeField()
    release = models.CharField(max_length=250, blank=True)
    environment = models.CharField(max_length=64, blank=True)
    user_key = models.CharField(max_length=200, blank=True)
    http_method = models.CharField(max_length=16, blank=True)
    http_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    measurements = models.JSONField(default=dict)  # {name: {"value": float, "unit": str}}
    tags = models.JSONField(default=list)  # [[key, value], …]
    span_count = models.PositiveIntegerField(default=0)
    platform = models.CharField(max_length=64, blank=True)
    sdk_name = models.CharField(max_length=128, blank=True)
    sdk_version = models.CharField(max_length=64, blank=True)
    body = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "event_id"], name="transaction_id_unique")
        ]
        indexes = [
            models.Index(fields=["project", "start"], name="transaction_project_start"),
            models.Index(fields=["project", "name", "start"], name="transaction_name_start"),
            models.Index(fields=["project", "trace_id"], name="transaction_trace"),
            # What transaction searches filter on most (`op:process_events status:…`).
            models.Index(fields=["project", "op", "start"], name="transaction_op_start"),
            models.Index(fields=["project", "status", "start"], name="transaction_status_start"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_ms:.1f} ms)"

    @property
    def failed(self) -> bool:
        return self.status not in NOT_FAILED


class Span(models.Model):
    """One span: sent on its own (span v2 streaming, or a legacy standalone span), or one of
    a classic transaction's (its own span as the segment, then its children), which stay in
    that transaction's body as well."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="spans")
    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    segment_id = models.CharField(max_length=16, blank=True)
    is_segment = models.BooleanField(default=False)
    name = models.TextField(blank=True)  # span v2 `name`, a v1 span's `description`
    op = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, default=SpanStatus.UNKNOWN)
    start = models.DateTimeField()
    duration_ms = models.FloatField()
    attributes = models.BinaryField()  # JSON {key: value}, zstd when over 256 bytes

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "span_id"], name="span_id_unique")
        ]
        indexes = [
            models.Index(fields=["project", "trace_id"], name="span_trace"),
            models.Index(fields=["project", "start"], name="span_project_start"),
        ]

    def __str__(self) -> str:
        return f"{self.op} {self.name[:60]} ({self.duration_ms:.1f} ms)"


DEFAULT_APDEX_THRESHOLD_MS = 300


class ProjectPerformanceSettings(models.Model):
    """A project's performance options. No row: the defaults."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, related_name="performance_settings"
    )
    # Apdex T (ms): satisfied ≤ T, tolerable ≤ 4T, frustrated (and a miserable user) above.
    apdex_threshold_ms = models.PositiveIntegerField(default=DEFAULT_APDEX_THRESHOLD_MS)

    class Meta:
        verbose_name_plural = "project performance settings"

    def __str__(self) -> str:
        return f"performance settings of {self.project_id}"


def apdex_thresholds(project_ids: Iterable[int]) -> dict[int, float]:
    """Apdex T (ms) of each project (the default for those without settings)."""
    ids = set(project_ids)
    found = dict(
        ProjectPerformanceSettings.objects.filter(project_id__in=ids).values_list(
            "project_id", "apdex_threshold_ms"
        )
    )
    return {pid: float(found.get(pid, DEFAULT_APDEX_THRESHOLD_MS)) for pid in ids}


class TransactionRollup(models.Model):
    """Transactions per (project, name, environment) per minute and per hour: counts, Apdex
    buckets, sketches of distinct and miserable users and of durations. Written by the digest
    (``rollups.record``), read by ``rollups`` queries; see docs/performance.md."""

    project = models.ForeignKey(  # indexed by transaction_rollup_unique
        Project, on_delete=models.CASCADE, related_name="transaction_rollups", db_index=False
    )
    resolution = models.PositiveIntegerField()  # seconds: 60 or 3600
    bucket = models.BigIntegerField()  # unix seconds at the start of the bucket
    name = models.CharField(max_length=200)
    environment = models.CharField(max_length=64, blank=True)
    op = models.CharField(max_length=64, blank=True)  # of the latest transaction
    count = models.PositiveBigIntegerField(default=0)
    failures = models.PositiveBigIntegerField(default=0)
    satisfied = models.PositiveBigIntegerField(default=0)
    tolerable = models.PositiveBigIntegerField(default=0)
    duration_sum = models.FloatField(default=0.0)  # ms
    histogram = models.BinaryField(default=b"")  # sketches.encode_histogram
    users = models.BinaryField(default=b"")  # sketches.encode_registers
    miserable_users = models.BinaryField(default=b"")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "resolution", "bucket", "name", "environment"],
                name="transaction_rollup_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["project", "name", "resolution", "bucket"], name="transaction_rollup_name"
            ),
            # Covers the counters: tables and series sum them without reading the sketches.
            models.Index(
                fields=[
                    "project",
                    "resolution",
                    "bucket",
                    "name",
                    "environment",
                    "count",
                    "failures",
                    "satisfied",
                    "tolerable",
                    "duration_sum",
                    "op",
                ],
                name="transaction_rollup_sums",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} @{self.bucket}/{self.resolution}s: {self.count}"


_Row = TypeVar("_Row", Transaction, Span)


def new_row(model: type[_Row], **values: Any) -> _Row:
    """An unsaved ``model`` instance without ``Model.__init__`` (eight times faster, and the digest
    builds one per span): each concrete field gets its value from ``values`` or its default."""
    names, static, dynamic = _field_defaults(model)
    if not values.keys() <= names:  # a comparison: no set built for every row
        unknown = sorted(values.keys() - names)[0]
        raise TypeError(f"{model.__name__} has no field {unknown!r}")
    row = model.__new__(model)
    attrs = row.__dict__
    attrs.update(static)
    for attname, default in dynamic:
        attrs[attname] = default()
    attrs.update(values)
    row._state = models.base.ModelState()
    return row


@functools.cache
def _field_defaults(
    model: type[models.Model],
) -> tuple[frozenset[str], dict[str, Any], tuple[tuple[str, Callable[[], Any]], ...]]:
    """(attnames, immutable defaults, callable defaults) of a model's concrete fields."""
    static: dict[str, Any] = {}
    dynamic: list[tuple[str, Callable[[], Any]]] = []
    for field in model._meta.concrete_fields:
        if callable(field.default) and field.has_default():
            dynamic.append((field.attname, field.default))
        else:
            static[field.attname] = field.get_default()
    return frozenset(static) | {name for name, _ in dynamic}, static, tuple(dynamic)


def store_new(rows: Iterable[_Row], id_field: str) -> list[_Row]:
    """Insert the rows whose (project, ``id_field``) is not stored yet (redeliveries and
    repeats in the batch are skipped); returns those inserted."""
    unique: dict[tuple[int, str], _Row] = {}
    for row in rows:
        unique.setdefault((row.project_id, getattr(row, id_field)), row)
    if not unique:
        return []
    model = type(next(iter(unique.values())))
    by_project: dict[int, list[str]] = {}
    for project_id, key in unique:
        by_project.setdefault(project_id, []).append(key)
    known: set[tuple[int, str]] = set()
    # The query the ORM would build, written out: building it cost ≈ 0.5 ms per 500 ids.
    columns = {f.attname: f.column for f in model._meta.concrete_fields}
    quote = connection.ops.quote_name
    table, column = quote(model._meta.db_table), quote(columns[id_field])
    project = quote(columns["project_id"])
    with connection.cursor() as cursor:
        for project_id, ids in by_project.items():
            for start in range(0, len(ids), 500):
                chunk: list[str] = ids[start : start + 500]
                cursor.execute(
                    f"SELECT {column} FROM {table} WHERE {project} = %s"
                    f" AND {column} IN ({', '.join(['%s'] * len(chunk))})",
                    [project_id, *chunk],
                )
                known.update((project_id, key) for (key,) in cursor.fetchall())
    fresh = [row for key, row in unique.items() if key not in known]
    _insert(model, fresh)
    return fresh


def _insert(model: type[Transaction | Span], rows: Sequence[Transaction | Span]) -> None:
    """One ``executemany`` of the rows' values, ON CONFLICT DO NOTHING (another worker may
    have stored the same row since we looked). Django's bulk_create prepares every value of
    every row through its field, which costs several times the insert for many small spans."""
    if not rows:
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    prepare = [_preparer(f) for f in fields]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = (
        f"INSERT INTO {connection.ops.quote_name(model._meta.db_table)} ({columns})"
        f" VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT DO NOTHING"
    )
    # All of a row's values in one C call; only datetimes and JSON go through a preparer.
    read = operator.attrgetter(*(f.attname for f in fields))
    adapt = [(i, p) for i, p in enumerate(prepare) if p is not None]
    values = []
    for row in rows:
        value = list(read(row))
        for index, prepared in adapt:
            value[index] = prepared(value[index])
        values.append(value)
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _preparer(field: Any) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes to the database: datetimes and JSON need the backend's
    adaptation; the rest (numbers, text, bytes, booleans) pass as they are (None)."""
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, connection)
    return None


class TransactionNameRule(models.Model):
    """A rule the transaction name clusterer discovered (``clustering.py``): URL-named
    transactions matching ``pattern`` (``/users/*/**``) have their ``*`` segments replaced.
    Expires once unused for 90 days, as Sentry's do."""

    project = models.ForeignKey(  # indexed by transaction_name_rule_unique
        Project, on_delete=models.CASCADE, related_name="transaction_name_rules", db_index=False
    )
    pattern = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    last_used = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "pattern"], name="transaction_name_rule_unique"
            )
        ]

    def __str__(self) -> str:
        return self.pattern


class TransactionNameSample(models.Model):
    """A URL-sourced transaction name seen lately: what the clusterer discovers rules from."""

    project = models.ForeignKey(  # indexed by transaction_name_sample_unique
        Project, on_delete=models.CASCADE, related_name="transaction_name_samples", db_index=False
    )
    name = models.CharField(max_length=200)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"], name="transaction_name_sample_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name
