"""Sentry's performance-issue detectors over one transaction's spans, with its default
thresholds (sentry-semantics §7.3). Pure functions: no models, no database. The spans are
sorted and sorted into kinds once; each detector then walks only its own kind."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spyglass.perfissues.spans import (
    Outline,
    SpanInfo,
    TransactionInfo,
    host_of,
    http_parts,
    is_select,
    outline_of,
    parameterized_sql,
    parameterized_url,
)

MAX_PROBLEMS = 10  # per transaction, as Sentry
EPSILON = 0.0005  # s: spans that touch within half a millisecond count as sequential
FRONTEND_OPS = frozenset({"pageload", "navigation", "ui.load", "ui.action"})
_STATIC = (".js", ".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".woff", ".woff2", ".ico")

Thresholds = dict[str, float]


@dataclass(frozen=True)
class Threshold:
    name: str
    label: str
    unit: str
    default: float


@dataclass
class Problem:
    """One finding in one transaction: which spans, and the pattern it is grouped by."""

    detector: str
    pattern: str  # what makes two findings the same issue (hashed into the fingerprint)
    value: str  # the offending query or URL, as the issue's metadata shows it
    offenders: list[SpanInfo]
    parent: SpanInfo | None = None
    causes: list[SpanInfo] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        kind = DETECTORS[self.detector]
        digest = hashlib.sha1(self.pattern.encode(), usedforsecurity=False).hexdigest()
        return f"1-{kind.type_id}-{digest}"


@dataclass
class Kinds:
    """A transaction's spans by what detectors look for, each sorted by start."""

    by_id: dict[str, SpanInfo]
    db: list[SpanInfo] = field(default_factory=list)
    http: list[SpanInfo] = field(default_factory=list)
    resources: list[SpanInfo] = field(default_factory=list)
    main_thread: list[SpanInfo] = field(default_factory=list)


def sort_spans(tx: TransactionInfo, root: SpanInfo | None) -> Kinds:
    kinds = Kinds(by_id={s.span_id: s for s in tx.spans})
    if root is not None:
        kinds.by_id.setdefault(root.span_id, root)
    for span in sorted(tx.spans, key=lambda s: s.start):
        op = span.op
        if op.startswith("db"):
            kinds.db.append(span)
        elif op == "http.client":
            kinds.http.append(span)
        elif op in ("resource.script", "resource.link"):
            kinds.resources.append(span)
        if span.data.get("blocked_main_thread") is True and (
            op.startswith("db") or op.startswith("file.")
        ):
            kinds.main_thread.append(span)
    return kinds


def _shape(span: SpanInfo | None) -> str:
    """The parent of a pattern, as it reads in every transaction (not its id)."""
    if span is None:
        return ""
    return f"{span.op}:{parameterized_sql(span.description)[:300]}"


def _number(data: dict[str, Any], *keys: str) -> float | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                continue
    return None


# --- database ---------------------------------------------------------------------------


def _db_runs(spans: list[SpanInfo]) -> Iterable[list[SpanInfo]]:
    """Runs of sequential (non-overlapping) SELECTs under one parent; anything else ends one."""
    run: list[SpanInfo] = []
    for span in spans:
        if not is_select(span.description):
            if run:
                yield run
            run = []
            continue
        if run and (
            span.parent_span_id != run[-1].parent_span_id or span.start < run[-1].end - EPSILON
        ):
            yield run
            run = []
        run.append(span)
    if run:
        yield run


def n_plus_one_db(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """A run of the same SELECT (values aside), one after the other under one parent, after a
    source query: at least ``count`` of them, together at least ``duration`` ms."""
    problems: list[Problem] = []
    for run in _db_runs(kinds.db):
        start = 0
        while start < len(run):
            query = parameterized_sql(run[start].description)
            end = start + 1
            while end < len(run) and parameterized_sql(run[end].description) == query:
                end += 1
            repeated = run[start:end]
            total = sum(s.duration_ms for s in repeated)
            if len(repeated) >= t["count"] and total >= t["duration"]:
                source = run[start - 1] if start > 0 else None
                parent = kinds.by_id.get(repeated[0].parent_span_id)
                problems.append(
                    Problem(
                        "n_plus_one_db_queries",
                        "|".join(
                            (
                                repeated[0].op,
                                query,
                                _shape(parent),
                                parameterized_sql(source.description) if source else "",
                            )
                        ),
                        repeated[0].description,
                        repeated,
                        parent,
                        [source] if source else [],
                    )
                )
            start = end
    return problems


def _where_parameters(query: str) -> bool:
    text = parameterized_sql(query)
    where = text.upper().find(" WHERE ")
    return where >= 0 and "%s" in text[where:]


def consecutive_db(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """SELECTs one after another that need nothing from each other (only the first may filter
    by a value), each at least ``span_duration`` ms, which run in parallel would save at least
    ``time_saved`` ms and ``ratio`` of the transaction."""
    problems: list[Problem] = []
    for run in _db_runs(kinds.db):
        sequence: list[SpanInfo] = []
        for span in [*run, None]:
            fits = span is not None and span.duration_ms >= t["span_duration"]
            if fits and sequence and span is not None and _where_parameters(span.description):
                fits = False
            if fits and span is not None:
                sequence.append(span)
                continue
            problem = _consecutive(tx, kinds, sequence, t)
            if problem:
                problems.append(problem)
            sequence = [span] if span is not None and span.duration_ms >= t["span_duration"] else []
    return problems


def _consecutive(
    tx: TransactionInfo, kinds: Kinds, spans: list[SpanInfo], t: Thresholds
) -> Problem | None:
    if len(spans) < t["count"]:
        return None
    queries = [parameterized_sql(s.description) for s in spans]
    if len(set(queries)) == 1:
        return None  # the same query over and over is an N+1, not a sequence
    durations = [s.duration_ms for s in spans]
    saved = sum(durations) - max(durations)
    if saved < t["time_saved"] or tx.duration_ms <= 0 or saved / tx.duration_ms < t["ratio"]:
        return None
    parent = kinds.by_id.get(spans[0].parent_span_id)
    return Problem(
        "consecutive_db_queries",
        "|".join([spans[0].op, _shape(parent), *queries]),
        spans[0].description,
        spans,
        parent,
    )


def slow_db(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """A single SELECT of at least ``duration`` ms (the issue waits for ``occurrences`` of the
    same query within a day: see ``issues.py``)."""
    problems = []
    for span in kinds.db:
        text = span.description
        if span.duration_ms < t["duration"] or not is_select(text) or "sqlite_master" in text:
            continue
        query = parameterized_sql(text)
        parent = kinds.by_id.get(span.parent_span_id)
        problems.append(Problem("slow_db_query", f"{span.op}|{query}", text, [span], parent))
    return problems


# --- http ---------------------------------------------------------------------------------


def _is_static(url: str) -> bool:
    path = url.split("?", 1)[0].lower()
    return path.endswith(_STATIC) or "/_next/static/" in path


def n_plus_one_api(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """At least ``count`` GETs of the same URL (values aside) to one host, each starting
    within ``window`` ms of the previous, together at least ``duration`` ms."""
    groups: dict[str, list[list[SpanInfo]]] = {}
    for span in kinds.http:
        method, url = http_parts(span.description)
        lowered = url.lower()
        if method != "GET" or "graphql" in lowered or "_next/data" in lowered:
            continue
        if _is_static(url):
            continue
        key = f"{span.parent_span_id}|{parameterized_url(url)}"
        clusters = groups.setdefault(key, [[]])
        last = clusters[-1]
        if last and round((span.start - last[-1].start) * 1000, 3) > t["window"]:
            clusters.append([])
        clusters[-1].append(span)
    problems = []
    for key, clusters in groups.items():
        for spans in clusters:
            total = sum(s.duration_ms for s in spans)
            if len(spans) < t["count"] or total < t["duration"]:
                continue
            if len({host_of(http_parts(s.description)[1]) for s in spans}) > 1:
                continue
            parent = kinds.by_id.get(spans[0].parent_span_id)
            pattern = f"http.client|{key.split('|', 1)[1]}|{_shape(parent)}"
            problems.append(
                Problem("n_plus_one_api_calls", pattern, spans[0].description, spans, parent)
            )
    return problems


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})


def consecutive_http(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """At least ``count`` HTTP calls one after another (non-HTTP spans between them aside),
    each at least ``span_duration`` ms and starting at most ``gap`` ms after the previous
    ended, which run in parallel would save at least ``time_saved`` ms. Backends and mobile
    apps only: browsers do other work between calls."""
    if tx.op in FRONTEND_OPS:
        return []
    problems: list[Problem] = []
    run: list[SpanInfo] = []
    for span in [*kinds.http, None]:
        fits = span is not None and _sequential_call(span, t)
        if fits and span is not None and run:
            gap = round((span.start - run[-1].end) * 1000, 3)
            fits = -EPSILON * 1000 <= gap <= t["gap"]
        if fits and span is not None:
            run.append(span)
            continue
        durations = [s.duration_ms for s in run]
        if len(run) >= t["count"] and sum(durations) - max(durations) >= t["time_saved"]:
            urls = [parameterized_url(http_parts(s.description)[1]) for s in run]
            parent = kinds.by_id.get(run[0].parent_span_id)
            pattern = "|".join(["http.client", _shape(parent), *urls])
            problems.append(Problem("consecutive_http", pattern, run[0].description, run, parent))
        run = [span] if span is not None and _sequential_call(span, t) else []
    return problems


def _sequential_call(span: SpanInfo, t: Thresholds) -> bool:
    method, url = http_parts(span.description)
    if method not in _HTTP_METHODS or "/_next/static/" in url or "/_next/data/" in url:
        return False
    return span.duration_ms >= t["span_duration"]


def large_http_payload(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """A response of at least ``size`` bytes that took at least ``duration`` ms."""
    problems = []
    for span in kinds.http:
        _, url = http_parts(span.description)
        if _is_static(url) or "/_next/data/" in url:
            continue
        size = _number(span.data, "http.response_content_length", "http.response.body.size")
        if size is None or size < t["size"] or span.duration_ms < t["duration"]:
            continue
        parent = kinds.by_id.get(span.parent_span_id)
        pattern = f"http.client|{parameterized_url(url)}"
        problems.append(Problem("large_http_payload", pattern, span.description, [span], parent))
    return problems


# --- browser assets -----------------------------------------------------------------------


def _sizes(span: SpanInfo) -> tuple[float | None, float | None, float | None]:
    """(encoded, decoded, transferred) bytes of a resource span."""
    data = span.data
    return (
        _number(data, "http.response_content_length"),
        _number(data, "http.decoded_response_content_length"),
        _number(data, "http.response_transfer_size"),
    )


def render_blocking(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """On a page load whose FCP is between ``fcp_min`` and ``fcp_max`` ms: a blocking
    script or stylesheet of at least ``size`` bytes that took ``fcp_ratio`` of the FCP."""
    fcp = tx.measurements.get("fcp")
    if tx.op != "pageload" or fcp is None or not t["fcp_min"] <= fcp <= t["fcp_max"]:
        return []
    problems = []
    for span in kinds.resources:
        status = span.data.get("resource.render_blocking_status")
        encoded = _sizes(span)[0]
        if status not in (None, "blocking") or encoded is None or encoded < t["size"]:
            continue
        if span.duration_ms < fcp * t["fcp_ratio"]:
            continue
        pattern = f"{span.op}|{parameterized_url(span.description)}"
        problems.append(Problem("render_blocking_asset_span", pattern, span.description, [span]))
    return problems


def uncompressed_assets(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """A .js or .css of at least ``size`` bytes sent uncompressed (encoded = decoded size)
    that took at least ``duration`` ms, on a page where another asset is compressed."""
    compressed, found = False, []
    for span in kinds.resources:
        encoded, decoded, transferred = _sizes(span)
        if encoded is None or decoded is None:
            continue
        if encoded < decoded:
            compressed = True
            continue
        path = span.description.split("?", 1)[0].lower()
        size = transferred if transferred is not None else encoded
        big = size >= t["size"] and span.duration_ms >= t["duration"]
        if big and path.endswith((".js", ".css")):
            found.append(span)
    if not compressed:
        return []
    return [
        Problem(
            "uncompressed_assets",
            f"{s.op}|{parameterized_url(s.description)}",
            s.description,
            [s],
        )
        for s in found
    ]


# --- main thread --------------------------------------------------------------------------


def _main_thread(kind: str, prefix: str, kinds: Kinds, t: Thresholds) -> list[Problem]:
    by_parent: dict[str, list[SpanInfo]] = {}
    for span in kinds.main_thread:
        if span.op.startswith(prefix):
            by_parent.setdefault(span.parent_span_id, []).append(span)
    problems = []
    for parent_id, spans in by_parent.items():
        covered, end = 0.0, float("-inf")
        for span in spans:  # sorted by start: count overlaps once
            begin = max(span.start, end)
            if span.end > begin:
                covered += (span.end - begin) * 1000
            end = max(end, span.end)
        if covered < t["duration"]:
            continue
        parent = kinds.by_id.get(parent_id)
        shapes = sorted({f"{s.op}:{parameterized_sql(s.description)[:200]}" for s in spans})
        pattern = "|".join([_shape(parent), *shapes])
        problems.append(Problem(kind, pattern, spans[0].description, spans, parent))
    return problems


def file_io_main_thread(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """File I/O the SDK says blocked the main thread, at least ``duration`` ms together."""
    return _main_thread("file_io_main_thread", "file.", kinds, t)


def db_main_thread(tx: TransactionInfo, kinds: Kinds, t: Thresholds) -> list[Problem]:
    """Database work the SDK says blocked the main thread, at least ``duration`` ms."""
    return _main_thread("db_main_thread", "db", kinds, t)


# --- what each detector needs (checked before the spans are read in full) -----------------
#
# Each is true whenever its detector could find something (or fail) in a transaction of that
# operation and outline, whatever the thresholds: it compares in the form "not below", which
# a NaN threshold passes, and sums with a margin over float rounding (a run's durations are
# summed in another order than the outline's).


def _not_below(total: float, threshold: float) -> bool:
    return not total * (1 + 1e-9) + 1e-6 < threshold


def _repeats(durations: list[float], t: Thresholds) -> bool:
    """Runs of at least ``count`` spans (one at least) of at least ``duration`` ms together."""
    return (
        bool(durations)
        and not len(durations) < t["count"]
        and _not_below(sum(durations), t["duration"])
    )


def _reaching(durations: list[float], threshold: float) -> int:
    """How many durations are not below the threshold (none when the longest is)."""
    if not durations or max(durations) < threshold:
        return 0
    return sum(1 for d in durations if not d < threshold)


def _needs_n_plus_one_db(op: str, outline: Outline, t: Thresholds) -> bool:
    return _repeats(outline.db, t)


def _needs_consecutive_db(op: str, outline: Outline, t: Thresholds) -> bool:
    if not t["count"] > 0:  # an empty sequence counts (NaN too): the detector runs as ever
        return bool(outline.db)
    # Two different queries at least, each at least span_duration.
    long = _reaching(outline.db, t["span_duration"])
    return long >= 2 and not long < t["count"]


def _needs_slow_db(op: str, outline: Outline, t: Thresholds) -> bool:
    return _reaching(outline.db, t["duration"]) > 0


def _needs_n_plus_one_api(op: str, outline: Outline, t: Thresholds) -> bool:
    return _repeats(outline.http, t)


def _needs_consecutive_http(op: str, outline: Outline, t: Thresholds) -> bool:
    if op in FRONTEND_OPS:
        return False
    if t["count"] <= 0:
        return True  # an empty run counts: the detector runs as it always did
    long = _reaching(outline.http, t["span_duration"])
    return not long < t["count"]


def _needs_large_http_payload(op: str, outline: Outline, t: Thresholds) -> bool:
    return _reaching(outline.sized_http, t["duration"]) > 0


def _needs_resources(op: str, outline: Outline, t: Thresholds) -> bool:
    return outline.resources


def _needs_main_thread(op: str, outline: Outline, t: Thresholds) -> bool:
    return outline.main_thread


# --- registry -----------------------------------------------------------------------------

Detect = Callable[[TransactionInfo, Kinds, Thresholds], list[Problem]]
Needs = Callable[[str, Outline, Thresholds], bool]


@dataclass(frozen=True)
class Detector:
    key: str
    type_id: int  # Sentry's GroupType id
    title: str  # Sentry's issue title
    description: str
    detect: Detect
    thresholds: tuple[Threshold, ...]
    # False when the detector can't find anything in a transaction (its op, its outline).
    could_find: Needs

    @property
    def issue_type(self) -> str:
        return f"performance_{self.key}"

    def defaults(self) -> Thresholds:
        return {t.name: t.default for t in self.thresholds}


_MS, _BYTES, _N = "ms", "bytes", ""
DETECTORS: dict[str, Detector] = {
    d.key: d
    for d in (
        Detector(
            "n_plus_one_db_queries",
            1006,
            "N+1 Query",
            "The same SELECT repeated one after another under one parent.",
            n_plus_one_db,
            (
                Threshold("count", "Repeated queries at least", _N, 5),
                Threshold("duration", "Their total duration at least", _MS, 50),
            ),
            _needs_n_plus_one_db,
        ),
        Detector(
            "consecutive_db_queries",
            1007,
            "Consecutive DB Queries",
            "Independent SELECTs run one after another that could run in parallel.",
            consecutive_db,
            (
                Threshold("count", "Queries in a row at least", _N, 2),
                Threshold("span_duration", "Each query at least", _MS, 30),
                Threshold("time_saved", "Time parallel queries would save at least", _MS, 100),
                Threshold("ratio", "Share of the transaction saved at least", _N, 0.1),
            ),
            _needs_consecutive_db,
        ),
        Detector(
            "slow_db_query",
            1001,
            "Slow DB Query",
            "A SELECT that takes long, seen often within a day.",
            slow_db,
            (
                Threshold("duration", "Query duration at least", _MS, 500),
                Threshold("occurrences", "Times seen within 24 hours before an issue", _N, 100),
            ),
            _needs_slow_db,
        ),
        Detector(
            "n_plus_one_api_calls",
            1010,
            "N+1 API Call",
            "Many GETs of the same URL started at nearly the same time.",
            n_plus_one_api,
            (
                Threshold("count", "Concurrent calls at least", _N, 10),
                Threshold("window", "Each started within (of the previous)", _MS, 5),
                Threshold("duration", "Their total duration at least", _MS, 300),
            ),
            _needs_n_plus_one_api,
        ),
        Detector(
            "consecutive_http",
            1009,
            "Consecutive HTTP",
            "Slow HTTP calls made one after another that could run in parallel.",
            consecutive_http,
            (
                Threshold("count", "Calls in a row at least", _N, 3),
                Threshold("span_duration", "Each call at least", _MS, 500),
                Threshold("gap", "Each started within (after the previous ended)", _MS, 500),
                Threshold("time_saved", "Time parallel calls would save at least", _MS, 2000),
            ),
            _needs_consecutive_http,
        ),
        Detector(
            "large_http_payload",
            1015,
            "Large HTTP payload",
            "An outgoing request whose response is large.",
            large_http_payload,
            (
                Threshold("size", "Response size at least", _BYTES, 300_000),
                Threshold("duration", "Request duration at least", _MS, 100),
            ),
            _needs_large_http_payload,
        ),
        Detector(
            "uncompressed_assets",
            1012,
            "Uncompressed Asset",
            "A large script or stylesheet served without compression.",
            uncompressed_assets,
            (
                Threshold("size", "Asset size at least", _BYTES, 512_000),
                Threshold("duration", "Load duration at least", _MS, 300),
            ),
            _needs_resources,
        ),
        Detector(
            "render_blocking_asset_span",
            1004,
            "Large Render Blocking Asset",
            "A large script or stylesheet that holds back the first paint of a page load.",
            render_blocking,
            (
                Threshold("size", "Asset size at least", _BYTES, 512_000),
                Threshold("fcp_ratio", "Share of the FCP at least", _N, 0.33),
                Threshold("fcp_min", "Only when FCP at least", _MS, 2000),
                Threshold("fcp_max", "Only when FCP at most", _MS, 10_000),
            ),
            _needs_resources,
        ),
        Detector(
            "file_io_main_thread",
            1008,
            "File IO on Main Thread",
            "File reads or writes that blocked the main (UI) thread.",
            file_io_main_thread,
            (Threshold("duration", "Blocked at least", _MS, 16),),
            _needs_main_thread,
        ),
        Detector(
            "db_main_thread",
            1013,
            "DB on Main Thread",
            "Database work that blocked the main (UI) thread.",
            db_main_thread,
            (Threshold("duration", "Blocked at least", _MS, 16),),
            _needs_main_thread,
        ),
    )
}


def applicable(
    op: str, outline: Outline, settings: Mapping[str, Thresholds | None]
) -> list[tuple[Detector, Thresholds]]:
    """The enabled detectors (with their thresholds) that could find something in a
    transaction of this operation and outline, in the order they run."""
    found = []
    for key, detector in DETECTORS.items():
        thresholds = settings[key] if key in settings else detector.defaults()
        if thresholds is not None and detector.could_find(op, outline, thresholds):
            found.append((detector, thresholds))
    return found


def detect(
    tx: TransactionInfo,
    root: SpanInfo | None,
    settings: Mapping[str, Thresholds | None],
    outline: Outline | None = None,
) -> list[Problem]:
    """The problems of one transaction. ``settings``: thresholds per enabled detector
    (``None``: off; missing: on with the defaults). ``outline``: that of ``tx.spans`` when
    the caller has it. Only the detectors that could find something run."""
    if not tx.spans:
        return []
    detectors = applicable(tx.op, outline or outline_of(tx.spans), settings)
    if not detectors:
        return []
    kinds = sort_spans(tx, root)
    problems: list[Problem] = []
    for detector, thresholds in detectors:
        problems.extend(detector.detect(tx, kinds, thresholds))
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems[:MAX_PROBLEMS]
