"""Performance pages of a project: overview, transaction summary, transaction event (the
span waterfall), web vitals; and an organization's trace view. Every view resolves access
first: anything outside the user's organizations is a 404."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode

from spyglass.events.bodies import read_body
from spyglass.events.models import Event
from spyglass.issues.models import Category, Issue
from spyglass.performance import rollups
from spyglass.performance.models import Span, Transaction, TransactionRollup
from spyglass.performance.waterfall import error_span_id, spans_of, trace_tree, tree
from spyglass.projects.access import get_membership, get_project
from spyglass.projects.models import Project
from spyglass.search import SearchSyntaxError

# period -> (length, series interval in seconds)
PERIODS = {
    "1h": (timedelta(hours=1), 60),
    "24h": (timedelta(hours=24), 1800),
    "7d": (timedelta(days=7), 6 * 3600),
    "14d": (timedelta(days=14), 12 * 3600),
    "30d": (timedelta(days=30), 24 * 3600),
}
COLUMNS = [
    ("name", "Transaction"),
    ("tpm", "TPM"),
    ("p50", "p50"),
    ("p95", "p95"),
    ("p99", "p99"),
    ("failure_rate", "Failure rate"),
    ("apdex", "Apdex"),
    ("user_misery", "User misery"),
]
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TAG_SAMPLE = 500  # the summary's tag breakdown reads the latest transactions only
SPAN_SAMPLE = 200
VITALS_SAMPLE = 5000
PAGE_LOADS = ("pageload", "navigation")
# Sentry's web vital thresholds: (good up to, needs improvement up to), then poor.
VITALS = [
    ("lcp", "LCP", "Largest contentful paint", 2500, 4000, "ms"),
    ("fcp", "FCP", "First contentful paint", 1800, 3000, "ms"),
    ("cls", "CLS", "Cumulative layout shift", 0.1, 0.25, "cls"),
    ("inp", "INP", "Interaction to next paint", 200, 500, "ms"),
    ("fid", "FID", "First input delay", 100, 300, "ms"),
    ("ttfb", "TTFB", "Time to first byte", 800, 1800, "ms"),
]


@dataclass
class Filters:
    period: str
    start: datetime
    end: datetime
    interval: int
    environment: str
    query: str
    sort: str

    @classmethod
    def parse(cls, params: QueryDict) -> Filters:
        period = params.get("statsPeriod", "24h")
        if period not in PERIODS:
            period = "24h"
        length, interval = PERIODS[period]
        end = timezone.now()
        sort = params.get("sort", "-tpm")
        if sort.lstrip("-") not in {key for key, _ in COLUMNS}:
            sort = "-tpm"
        return cls(
            period,
            end - length,
            end,
            interval,
            params.get("environment", "")[:64],
            params.get("query", "")[:2000].strip(),
            sort,
        )

    @property
    def environments(self) -> list[str] | None:
        return [self.environment] if self.environment else None

    def params(self, **changes: str) -> str:
        values = {
            "statsPeriod": self.period,
            "environment": self.environment,
            "query": self.query,
            "sort": self.sort,
            **changes,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _environments(project: Project, since: datetime) -> list[str]:
    bucket = int(since.timestamp()) // 3600 * 3600
    return sorted(
        TransactionRollup.objects.filter(project=project, resolution=3600, bucket__gte=bucket)
        .values_list("environment", flat=True)
        .distinct()
    )


def _labels(points: list[rollups.SeriesPoint], interval: int) -> list[str]:
    fmt = "%H:%M" if interval < 86400 else "%b %d"
    return [p.start.strftime(fmt) + " UTC" for p in points]


def _base(project: Project, filters: Filters, tab: str) -> dict[str, Any]:
    return {
        "organization": project.organization,
        "project": project,
        "filters": filters,
        "periods": list(PERIODS),
        "environments": _environments(project, filters.start),
        "tab": tab,
    }


@login_required
def overview(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _member = get_project(request, org_slug, project_slug)
    filters = Filters.parse(request.GET)
    error: SearchSyntaxError | None = None
    rows: list[rollups.TransactionSummary] = []
    points: list[rollups.SeriesPoint] = []
    try:
        rows = rollups.transaction_table(
            [project.id],
            start=filters.start,
            end=filters.end,
            environment=filters.environments,
            sort=filters.sort,
            limit=100,
            query=filters.query or None,
        )
        points = rollups.series(
            [project.id],
            start=filters.start,
            end=filters.end,
            interval_seconds=filters.interval,
            environment=filters.environments,
            query=filters.query or None,
        )
    except SearchSyntaxError as exc:
        error = exc
    labels = _labels(points, filters.interval)
    columns = [
        (key, label, filters.params(sort=key if filters.sort == f"-{key}" else f"-{key}"))
        for key, label in COLUMNS
    ]
    return render(
        request,
        "performance/overview.html",
        {
            **_base(project, filters, "overview"),
            "rows": rows,
            "columns": columns,
            "search_error": error,
            "throughput": [p.count for p in points],
            "labels": labels,
            "p95": [("p95", [p.p95 for p in points])],
            "failure_rate": [("failure rate", [p.failure_rate for p in points])],
        },
    )


@login_required
def summary(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, _member = get_project(request, org_slug, project_slug)
    filters = Filters.parse(request.GET)
    name = request.GET.get("transaction", "")[:200]
    if not name:
        return redirect("performance:overview", org_slug, project_slug)
    found = rollups.transaction_table(
        [project.id],
        start=filters.start,
        end=filters.end,
        environment=filters.environments,
        names=[name],
        limit=1,
    )
    points = rollups.series(
        [project.id],
        start=filters.start,
        end=filters.end,
        interval_seconds=filters.interval,
        environment=filters.environments,
        name=name,
    )
    bins = rollups.histogram(
        [project.id],
        start=filters.start,
        end=filters.end,
        name=name,
        environment=filters.environments,
        buckets=30,
    )
    raw = _raw(project, filters, name)
    return render(
        request,
        "performance/summary.html",
        {
            **_base(project, filters, "overview"),
            "name": name,
            "row": found[0] if found else None,
            "labels": _labels(points, filters.interval),
            "percentiles": [
                ("p50", [p.p50 for p in points]),
                ("p95", [p.p95 for p in points]),
                ("p99", [p.p99 for p in points]),
            ],
            "histogram": [b.count for b in bins],
            "histogram_labels": [f"{b.start_ms:.0f} to {b.end_ms:.0f} ms" for b in bins],
            "histogram_range": (bins[0].start_ms, bins[-1].end_ms) if bins else None,
            "slowest": raw.order_by("-duration_ms")[:10],
            "statuses": _statuses(raw),
            "tags": _tags(raw),
            "operations": _operations(project, raw),
            "related": _related_issues(project, filters, name),
        },
    )


def _raw(project: Project, filters: Filters, name: str) -> Any:
    raw = Transaction.objects.filter(
        project=project, name=name, start__gte=filters.start, start__lt=filters.end
    )
    return raw.filter(environment=filters.environment) if filters.environment else raw


def _statuses(raw: Any) -> list[dict[str, Any]]:
    counts = list(raw.values("status").annotate(n=Count("id")).order_by("-n", "status")[:20])
    total = sum(c["n"] for c in counts) or 1
    return [{**c, "percent": round(c["n"] * 100 / total, 1)} for c in counts]


def _tags(raw: Any) -> list[dict[str, Any]]:
    """Top values per tag key over the latest transactions."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    latest = raw.order_by("-start").values_list("tags", flat=True)[:TAG_SAMPLE]
    for tags in latest:
        for pair in tags if isinstance(tags, list) else []:
            if isinstance(pair, list) and len(pair) == 2:
                counts[str(pair[0])][str(pair[1])] += 1
    result = []
    for key in sorted(counts)[:30]:
        total = sum(counts[key].values())
        values = [
            {"value": v, "count": n, "percent": round(n * 100 / total, 1)}
            for v, n in counts[key].most_common(5)
        ]
        result.append({"key": key, "total": total, "values": values})
    return result


def _operations(project: Project, raw: Any) -> list[dict[str, Any]]:
    """Time in spans per operation family (db, http, cache, …) over the latest transactions."""
    latest = raw.exclude(span_id="").exclude(trace_id="").order_by("-start")
    pairs = list(latest.values_list("span_id", "trace_id")[:SPAN_SAMPLE])
    if not pairs:
        return []
    segments = {span_id for span_id, _ in pairs}
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    # By trace (the span table's index), then only the spans of these transactions.
    rows = Span.objects.filter(
        project=project, trace_id__in={trace for _, trace in pairs}, is_segment=False
    ).values_list("segment_id", "op", "duration_ms")
    for segment, op, duration in rows:
        if segment not in segments:
            continue
        family = (op or "other").split(".")[0]
        totals[family][0] += duration
        totals[family][1] += 1
    whole = sum(t[0] for t in totals.values()) or 1.0
    return [
        {
            "op": op,
            "total_ms": t[0],
            "count": int(t[1]),
            "per_transaction_ms": t[0] / len(segments),
            "percent": round(t[0] * 100 / whole, 1),
        }
        for op, t in sorted(totals.items(), key=lambda item: -item[1][0])
    ]


def _related_issues(project: Project, filters: Filters, name: str) -> list[dict[str, Any]]:
    """Error issues whose events happened in this transaction, most events first."""
    events = Event.objects.filter(
        project=project, transaction=name, timestamp__gte=filters.start, timestamp__lt=filters.end
    )
    if filters.environment:
        events = events.filter(environment=filters.environment)
    counts = list(events.values("issue_id").annotate(n=Count("id")).order_by("-n")[:10])
    issues = Issue.objects.in_bulk([c["issue_id"] for c in counts])
    related = []
    for c in counts:
        issue = issues.get(c["issue_id"])
        if issue is not None and issue.category == Category.ERROR:
            issue.project = project
            related.append({"issue": issue, "count": c["n"]})
    return related


def _transaction(project: Project, event_id: str) -> Transaction:
    event_id = event_id.lower()
    tx = (
        Transaction.objects.filter(project=project, event_id=event_id).first()
        if HEX32.match(event_id)
        else None
    )
    if tx is None:
        raise Http404("No such transaction")
    return tx


@login_required
def event(request: HttpRequest, org_slug: str, project_slug: str, event_id: str) -> HttpResponse:
    """One transaction: its span waterfall and the errors that happened inside it."""
    project, _member = get_project(request, org_slug, project_slug)
    tx = _transaction(project, event_id)
    rows = tree(spans_of(tx))
    by_span = {row.span_id: row for row in rows}
    errors = []
    if tx.trace_id:
        for error in _trace_errors([project.id], tx.trace_id)[:200]:
            row = by_span.get(error_span_id(error))
            if row is not None:
                row.errors.append(error)
                errors.append(error)
    for error in errors:
        error.issue.project = project
    return render(
        request,
        "performance/event.html",
        {
            "organization": project.organization,
            "project": project,
            "tx": tx,
            "rows": rows,
            "errors": errors,
            "measurements": sorted(tx.measurements.items()),
            "tags": tx.tags,
        },
    )


@login_required
def event_json(
    request: HttpRequest, org_slug: str, project_slug: str, event_id: str
) -> HttpResponse:
    """The stored transaction as JSON (with its spans, for classic transactions), as a
    download; same access rules as its page."""
    project, _member = get_project(request, org_slug, project_slug)
    tx = _transaction(project, event_id)
    response = HttpResponse(
        orjson.dumps(read_body(tx.body) if tx.body else {}, option=orjson.OPT_INDENT_2),
        content_type="application/json",
    )
    response["Content-Disposition"] = f'attachment; filename="{tx.event_id}.json"'
    return response


def _trace_errors(project_ids: list[int], trace_id: str) -> list[Event]:
    """Every error event of a trace (up to 500, oldest first), by the events' (project,
    trace_id) index (events migration 0005), whenever they happened."""
    events = Event.objects.filter(project_id__in=project_ids, trace_id=trace_id)
    return list(events.select_related("issue", "project").order_by("timestamp", "id")[:500])


@login_required
def trace(request: HttpRequest, org_slug: str, trace_id: str) -> HttpResponse:
    """Every transaction and error of a trace across the organization's projects."""
    member = get_membership(request, org_slug)
    trace_id = trace_id.lower()
    if not HEX32.match(trace_id):
        raise Http404("No such trace")
    projects = {p.id: p for p in Project.objects.filter(organization=member.organization)}
    ids = list(projects)
    transactions = list(
        Transaction.objects.filter(project_id__in=ids, trace_id=trace_id)
        .defer("body")
        .order_by("start")[:1000]
    )
    errors = _trace_errors(ids, trace_id)
    if not transactions and not errors:
        raise Http404("No such trace")
    segment_of = dict(
        Span.objects.filter(project_id__in=ids, trace_id=trace_id)
        .exclude(segment_id="")
        .values_list("span_id", "segment_id")[:20000]
    )
    for error in errors:
        error.span_id = error_span_id(error)  # type: ignore[attr-defined]
        error.project = projects[error.project_id]
        error.issue.project = error.project
    for tx in transactions:
        tx.project = projects[tx.project_id]
    rows = trace_tree(transactions, errors, segment_of)
    return render(
        request,
        "performance/trace.html",
        {
            "organization": member.organization,
            "trace_id": trace_id,
            "rows": rows,
            "transactions": transactions,
            "errors": errors,
            "project_count": len(
                {t.project_id for t in transactions} | {e.project_id for e in errors}
            ),
        },
    )


def rating(value: float | None, good: float, meh: float) -> str:
    if value is None:
        return ""
    if value <= good:
        return "good"
    return "meh" if value <= meh else "poor"


def p75(values: list[float]) -> float | None:
    """The 75th percentile (nearest rank), exact over the values read."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * 3 // 4) - 1)]


@login_required
def vitals(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    """p75 of each web vital per page, rated at Sentry's thresholds."""
    project, _member = get_project(request, org_slug, project_slug)
    filters = Filters.parse(request.GET)
    loads = Transaction.objects.filter(
        project=project, op__in=PAGE_LOADS, start__gte=filters.start, start__lt=filters.end
    )
    if filters.environment:
        loads = loads.filter(environment=filters.environment)
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    counts: Counter[str] = Counter()
    # Vitals sent as spans of their own (LCP, CLS, INP) are in the page load's measurements
    # too: the digest folds them in (spyglass.digest.items_performance).
    rows = loads.order_by("-start").values_list("name", "measurements")
    for name, measurements in rows[:VITALS_SAMPLE]:
        counts[name] += 1
        for key, *_ in VITALS:
            m = measurements.get(key) if isinstance(measurements, dict) else None
            if isinstance(m, dict) and isinstance(m.get("value"), int | float):
                values[name][key].append(float(m["value"]))
    pages = []
    for name, count in counts.most_common(100):
        cells = []
        for key, _short, _long, good, meh, unit in VITALS:
            value = p75(values[name][key])
            cells.append(
                {"key": key, "value": value, "unit": unit, "rating": rating(value, good, meh)}
            )
        pages.append({"name": name, "count": count, "cells": cells})
    overall = []
    for key, short, long, good, meh, unit in VITALS:
        every = [v for page in values.values() for v in page.get(key, [])]
        value = p75(every)
        overall.append(
            {
                "key": key,
                "short": short,
                "long": long,
                "value": value,
                "unit": unit,
                "good": good,
                "meh": meh,
                "rating": rating(value, good, meh),
                "count": len(every),
            }
        )
    return render(
        request,
        "performance/vitals.html",
        {**_base(project, filters, "vitals"), "pages": pages, "overall": overall, "vitals": VITALS},
    )
