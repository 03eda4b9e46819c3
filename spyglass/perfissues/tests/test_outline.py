"""Detection that skips what can't be found finds exactly what running every detector over
every span finds: the same problems, fingerprints and evidence, over the detector tests'
transactions, SDK captures and generated ones, at default and other thresholds."""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from spyglass.issues.models import Issue, IssueHash
from spyglass.perfissues import hook
from spyglass.perfissues.detectors import (
    DETECTORS,
    MAX_PROBLEMS,
    Problem,
    Thresholds,
    applicable,
    sort_spans,
)
from spyglass.perfissues.record import issue_hash
from spyglass.perfissues.spans import (
    SpanInfo,
    json_spans,
    keep_json_spans,
    outline_of,
    outline_of_json,
    span_from_json,
)
from spyglass.perfissues.tests import test_detectors as cases
from spyglass.perfissues.tests import test_record as recorded
from spyglass.perfissues.tests.factories import ROOT, T0, Spans
from spyglass.performance.models import Transaction
from spyglass.test import World

# The transactions SDKs sent in shared/reference/sdk-capture, by capture (client/case/request).
CAPTURES = Path(__file__).parent / "fixtures" / "sdk_transactions.json"
Settings = Mapping[str, Thresholds | None]


# --- the reference: every enabled detector over every span, as detection always ran ------


def every_detector(tx: Transaction, settings: Settings) -> list[Problem]:
    raw = orjson.loads(tx.body).get("spans")
    spans = [s for s in map(span_from_json, raw if isinstance(raw, list) else []) if s]
    info = hook._info(tx, spans)
    if not info.spans:
        return []
    kinds = sort_spans(info, hook._root(tx) if tx.span_id else None)
    problems: list[Problem] = []
    for key, detector in DETECTORS.items():
        thresholds = settings.get(key, detector.defaults())
        if thresholds is None:
            continue
        problems.extend(detector.detect(info, kinds, thresholds))
        if len(problems) >= MAX_PROBLEMS:
            break
    return problems[:MAX_PROBLEMS]


def evidence(span: SpanInfo | None) -> dict[str, Any] | None:
    return None if span is None else span.evidence()


def described(run: Callable[[], list[Problem]]) -> Any:
    try:
        problems = run()
    except Exception as exc:  # a detector's failure must fail the same way
        return ("failed", type(exc).__name__)
    return [
        (
            p.detector,
            p.fingerprint,
            p.value,
            [evidence(s) for s in p.offenders],
            evidence(p.parent),
            [evidence(s) for s in p.causes],
        )
        for p in problems
    ]


def stored(payload: dict[str, Any], kept: bool) -> Transaction:
    """A classic transaction's row as the digest builds it (spans kept, or only its body)."""
    trace = payload.get("contexts", {}).get("trace", {})
    start = float(payload["start_timestamp"])
    tx = Transaction(
        project_id=1,
        event_id="e" * 32,
        trace_id="f" * 32,
        span_id=trace.get("span_id") or "",
        name=payload.get("transaction") or "GET /",
        op=trace.get("op") or "",
        start=datetime.fromtimestamp(start, UTC),
        duration_ms=(float(payload["timestamp"]) - start) * 1000,
        measurements=payload.get("measurements") or {},
        platform="python",
        body=orjson.dumps(payload),
    )
    if kept:
        keep_json_spans(tx, payload.get("spans"))
    return tx


def compare(payload: dict[str, Any], settings: Settings) -> tuple[Any, bool]:
    """(what the reference finds, whether any detector could find something), after
    asserting both ways of reading the spans find exactly that."""
    expected = described(lambda: every_detector(stored(payload, False), settings))
    for kept in (True, False):
        tx = stored(payload, kept)
        found = described(functools.partial(hook.problems_of, tx, {}, settings))
        assert found == expected, (payload, settings)
    raw = payload.get("spans")
    outline = outline_of_json(raw if isinstance(raw, list) else [])
    return expected, bool(applicable(payload["contexts"]["trace"]["op"], outline, settings))


# --- transactions ---------------------------------------------------------------------------


def as_json(spans: list[SpanInfo], iso: bool = False) -> list[dict[str, Any]]:
    def moment(value: float) -> Any:
        return datetime.fromtimestamp(value, UTC).isoformat() if iso else value

    return [
        {
            "span_id": s.span_id,
            "parent_span_id": s.parent_span_id,
            "op": s.op,
            "description": s.description,
            "start_timestamp": moment(s.start),
            "timestamp": moment(s.end),
            "data": s.data,
        }
        for s in spans
    ]


def payload_of(
    spans: list[Any], duration_ms: float, op: str = "http.server", **measurements: float
) -> dict[str, Any]:
    return {
        "type": "transaction",
        "transaction": "GET /authors",
        "start_timestamp": T0,
        "timestamp": T0 + duration_ms / 1000,
        "contexts": {"trace": {"span_id": ROOT, "op": op}},
        "measurements": {k: {"value": v} for k, v in measurements.items()},
        "spans": spans,
    }


def from_spans(spans: Spans, duration_ms: float | None = None, **kw: Any) -> dict[str, Any]:
    total = spans.cursor if duration_ms is None else duration_ms
    return payload_of(as_json(spans.spans), total, **kw)


def detector_cases() -> Iterator[dict[str, Any]]:
    """The transactions of the detector tests, at and around their thresholds."""
    for repeats in (3, 4, 5, 6, 12):
        for each in (5, 9.9, 10, 10.1, 40):
            yield from_spans(cases.n_plus_one(repeats, each))
    for first, second in ((30, 80), (29.9, 120), (60, 60), (100, 100)):
        for total in (None, 300.0, 2000.0):
            yield from_spans(cases.consecutive(first, second), total)
    for count in (9, 10, 11):
        for each in (29.9, 30, 31):
            for gap in (1, 4.99, 5, 6):
                yield from_spans(cases.api_calls(count, each, gap))
    yield from_spans(cases.api_calls(10, 40, host="api.test/graphql"))
    for asset_ms, size, fcp in ((700, 600_000, 2000), (659, 600_000, 2000), (900, 500_000, 2500)):
        for status in ("blocking", "non-blocking"):
            spans = cases.page(asset_ms, size, fcp, status)
            yield from_spans(spans, op="pageload", fcp=fcp)
    for size, duration in ((600_000, 400), (500_000, 400), (600_000, 299)):
        for other in (True, False):
            yield from_spans(cases.assets(size, duration, other), op="pageload")
    runs: list[list[float]] = [[600, 600, 600, 600], [499, 700, 700, 700], [2000, 800, 700]]
    for durations in runs:
        yield from_spans(cases.calls(durations))
        yield from_spans(cases.calls(durations, op="pageload"))
        yield from_spans(cases.calls(durations, gap_ms=501))


def captures() -> Iterator[dict[str, Any]]:
    """The transactions SDKs sent (with their root's op under contexts.trace)."""
    captured: dict[str, dict[str, Any]] = orjson.loads(CAPTURES.read_bytes())
    yield from captured.values()


def as_numbers(payload: dict[str, Any]) -> dict[str, Any]:
    """SDKs write RFC 3339 times; the reference compares them as they are."""
    copy: dict[str, Any] = orjson.loads(orjson.dumps(payload))
    copy.setdefault("contexts", {}).setdefault("trace", {}).setdefault("op", "")
    for key in ("start_timestamp", "timestamp"):
        value = copy[key]
        if isinstance(value, str):
            copy[key] = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return copy


QUERIES = [
    "SELECT id, title FROM books WHERE author_id = {}",
    "SELECT id, name FROM authors",
    "SELECT * FROM orders WHERE id IN ({}, 2, 3)",
    "INSERT INTO books (title) VALUES ('{}')",
    "SELECT count(*) FROM sqlite_master",
]
URLS = [
    "GET https://api.test/authors/{}",
    "GET https://api.test/books?id={}",
    "POST https://api.test/orders",
    "GET https://cdn.test/app.{}.js",
    "GET https://other.test/authors/{}",
    "GET https://api.test/graphql?q={}",
    "GET http://[api.test/authors/{}",  # can't be parsed
]
OPS = ["http.server", "task", "pageload", "navigation", "ui.load", "ui.action"]


def generated(rng: random.Random) -> dict[str, Any]:
    """A transaction of runs of spans of every kind, sizes and durations near thresholds,
    some spans broken in the ways SDKs break them."""
    spans: list[Any] = []
    parents = [ROOT, "b" * 16, "c" * 16]
    cursor = 0.0
    op = rng.choice(OPS)
    for _ in range(rng.randrange(1, 7)):
        kind = rng.choice(["db", "db", "http", "asset", "main", "other", "broken"])
        parent = rng.choice(parents)
        repeats = rng.choice([1, 2, 3, 5, 6, 10, 12])
        each = rng.choice([0.1, 1, 9.9, 10, 12, 30, 35, 120, 499.9, 500, 700])
        gap = rng.choice([0, 0.1, 3, 6, 400, 600])
        template = rng.choice(QUERIES if kind == "db" else URLS)
        for n in range(repeats):
            data: dict[str, Any] = {}
            span_op = {"db": "db", "http": "http.client", "other": "function"}.get(kind, "db")
            text = template.format(n if rng.random() < 0.7 else 1)
            if kind == "db":
                span_op = rng.choice(["db", "db.query", "db.sql.query"])
            elif kind == "http":
                if rng.random() < 0.3:
                    data["http.response_content_length"] = rng.choice(
                        [299_999, 300_000, 2_000_000, "400000", "big", True]
                    )
                if rng.random() < 0.1:
                    data["http.response.body.size"] = 500_000
            elif kind == "asset":
                span_op = rng.choice(["resource.script", "resource.link", "resource.img"])
                text = f"https://cdn.test/{rng.choice(['app', 'site'])}.{n}.js"
                size = rng.choice([100_000, 512_000, 600_000])
                data["http.response_content_length"] = size
                data["http.decoded_response_content_length"] = rng.choice([size, size * 3])
                data["resource.render_blocking_status"] = rng.choice(["blocking", None, "non"])
            elif kind == "main":
                span_op = rng.choice(["file.read", "file.write", "db.sql.query", "ui.render"])
                data["blocked_main_thread"] = rng.choice([True, True, "true", False])
            start = cursor + (gap if n else 0)
            span: Any = {
                "span_id": f"{len(spans) + 1:016x}",
                "parent_span_id": parent,
                "op": span_op,
                "description": text,
                "start_timestamp": T0 + start / 1000,
                "timestamp": T0 + (start + each) / 1000,
                "data": data,
            }
            if kind == "broken":
                span = rng.choice(
                    [
                        None,
                        "span",
                        {**span, "span_id": None},
                        {**span, "timestamp": "yesterday"},
                        {**span, "op": None, "description": None, "data": []},
                        {**span, "op": 7},
                        {**span, "span_id": "1".zfill(16)},  # a duplicate id
                    ]
                )
            spans.append(span)
            cursor = start + (each if rng.random() < 0.8 else each / 2)  # some overlap
    if rng.random() < 0.3:
        for span in spans:
            for key in ("start_timestamp", "timestamp"):
                if isinstance(span, dict) and isinstance(span[key], float):
                    span[key] = datetime.fromtimestamp(span[key], UTC).isoformat()
    rng.shuffle(spans)  # SDKs send spans as they finish, not as they started
    total = cursor * rng.choice([0.5, 1, 1.5, 4])
    return payload_of(spans, total, op, fcp=rng.choice([1000.0, 2500.0, 9000.0]))


def settings_variants(rng: random.Random) -> Iterator[dict[str, Thresholds | None]]:
    defaults: dict[str, Thresholds | None] = {k: d.defaults() for k, d in DETECTORS.items()}
    yield defaults
    yield {}  # no stored settings: defaults for all
    for scale in (0.0, 0.1, 0.5, 2.0):
        yield {k: {n: v * scale for n, v in d.defaults().items()} for k, d in DETECTORS.items()}
    yield {k: (d.defaults() if rng.random() < 0.5 else None) for k, d in DETECTORS.items()}
    odd = [0.0, -1.0, 1.0, 2.0, math.nan, math.inf]
    yield {k: {n: rng.choice(odd) for n in d.defaults()} for k, d in DETECTORS.items()}


# --- tests ----------------------------------------------------------------------------------


def test_the_detector_tests_transactions_find_the_same() -> None:
    rng = random.Random(4)
    found = 0
    for payload in detector_cases():
        for settings in settings_variants(rng):
            expected, _ = compare(payload, settings)
            found += bool(expected) and expected[0] != "failed"
    assert found > 100  # the cases do find problems: the comparison is not of nothing


def test_sdk_captures_find_the_same() -> None:
    rng = random.Random(5)
    payloads = [as_numbers(p) for p in captures()]
    assert sum(1 for p in payloads if p.get("spans")) >= 3
    for payload in payloads:
        for settings in settings_variants(rng):
            compare(payload, settings)


def test_generated_transactions_find_the_same() -> None:
    rng = random.Random(6)
    outcomes = {"found": 0, "failed": 0, "skipped": 0}
    for _ in range(600):
        payload = generated(rng)
        for settings in settings_variants(rng):
            expected, could = compare(payload, settings)
            if expected and expected[0] == "failed":
                outcomes["failed"] += 1
            elif expected:
                outcomes["found"] += 1
            outcomes["skipped"] += not could
    # Each way of ending is exercised: findings, a detector's failure, and transactions told
    # apart by their outline alone.
    assert outcomes["found"] > 500 and outcomes["failed"] > 20 and outcomes["skipped"] > 200


def test_an_ordinary_transaction_needs_no_detector_but_a_problem_does() -> None:
    python = next(p for p in captures() if len(p.get("spans") or []) > 20)
    outline = outline_of_json(python["spans"])
    defaults = {k: d.defaults() for k, d in DETECTORS.items()}
    assert applicable(python["contexts"]["trace"]["op"], outline, defaults) == []
    n_plus_one = from_spans(cases.n_plus_one(6, 10))
    needed = applicable("http.server", outline_of_json(n_plus_one["spans"]), defaults)
    assert [d.key for d, _ in needed] == ["n_plus_one_db_queries"]


@pytest.mark.parametrize("iso", [False, True])
def test_the_outline_of_json_spans_is_that_of_the_spans_read(iso: bool) -> None:
    rng = random.Random(7)
    for _ in range(200):
        read = [s for s in map(span_from_json, generated(rng)["spans"]) if s]
        if iso:  # as SDKs write times
            read = [s for s in map(span_from_json, as_json(read, iso=True)) if s]
        assert outline_of_json(as_json(read, iso)) == outline_of(read)


@pytest.mark.django_db
def test_the_digest_hands_the_spans_it_parsed_to_the_detectors(
    world: World, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unread(body: Any) -> Any:
        raise AssertionError("a stored body read again")

    monkeypatch.setattr(hook, "read_body", unread)
    recorded.digest(world, recorded.n_plus_one, 2, django_capture_on_commit_callbacks)
    issue = Issue.objects.get()
    assert issue.times_seen == 2
    monkeypatch.undo()
    # Read back, a transaction has no spans kept: its body has them.
    tx = Transaction.objects.first()
    assert tx is not None and json_spans(tx) is None
    (problem,) = hook.problems_of(tx, {}, {})
    assert IssueHash.objects.get(issue=issue).hash == issue_hash(problem.fingerprint)


def test_an_unparsable_url_costs_a_transaction_none_of_its_findings() -> None:
    spans = Spans()
    spans.then(700, "db", "SELECT * FROM big")
    for n in range(10):  # one after another within 5 ms: an N+1
        spans.at(700 + n, 40, "http.client", "GET http://[api.test/authors/7")
    payload = from_spans(spans)
    expected, _ = compare(payload, {})
    assert [finding[0] for finding in expected] == ["slow_db_query", "n_plus_one_api_calls"]
    assert expected[1][1:3] == (
        "1-1010-"
        + hashlib.sha1(
            b"http.client|http://[api.test/authors/7|http.server:GET /authors",
            usedforsecurity=False,
        ).hexdigest(),
        "GET http://[api.test/authors/7",
    )
