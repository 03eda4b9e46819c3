"""The spans of a stored transaction as the detectors read them: one flat list, whichever
way the transaction arrived (a classic transaction's body, or span v2 rows)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from spyglass.performance.models import Transaction

_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?\b")
_STRING = re.compile(r"'(?:[^']|'')*'")
_IN_LIST = re.compile(r"\((?:\s*%s\s*,)+\s*%s\s*\)")
_PLACEHOLDER = re.compile(r"\?|%s|%\(\w+\)s|\$\d+|:\w+")
_SPACE = re.compile(r"\s+")
_ID_SEGMENT = re.compile(r"^(?:\d+|[0-9a-fA-F-]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})$")


@dataclass(slots=True, init=False)
class SpanInfo:
    span_id: str
    parent_span_id: str
    op: str
    description: str
    start: float  # unix seconds
    end: float
    data: dict[str, Any]
    duration_ms: float

    def __init__(
        self,
        span_id: str,
        parent_span_id: str,
        op: str,
        description: str,
        start: float,
        end: float,
        data: dict[str, Any] | None = None,
    ) -> None:
        # Written out (not the dataclass's): a transaction's every span is built here.
        self.span_id = span_id
        self.parent_span_id = parent_span_id
        self.op = op
        self.description = description
        self.start = start
        self.end = end
        self.data = {} if data is None else data
        self.duration_ms = duration_ms(start, end)

    def evidence(self) -> dict[str, Any]:
        """What an occurrence keeps of the span (the issue page shows it)."""
        return {
            "span_id": self.span_id,
            "parent_span_id": self.parent_span_id,
            "op": self.op,
            "description": self.description[:2000],
            "start": self.start,
            "duration_ms": round(self.duration_ms, 3),
        }


@dataclass(slots=True)
class TransactionInfo:
    event_id: str
    name: str
    op: str
    start: float
    duration_ms: float
    measurements: dict[str, float]
    platform: str
    spans: list[SpanInfo]


def timestamp(value: Any) -> float | None:
    """Unix seconds from what SDKs and Relay write: a number or an RFC 3339 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def duration_ms(start: float, end: float) -> float:
    """A span's duration in ms, rounded to microseconds: unix-second floats carry noise in
    the last digits."""
    return max(0.0, round((end - start) * 1000, 3))


def span_from_json(raw: Any) -> SpanInfo | None:
    """A classic transaction's span (v1 JSON), or None when it lacks ids or times."""
    if not isinstance(raw, dict):
        return None
    start, end = timestamp(raw.get("start_timestamp")), timestamp(raw.get("timestamp"))
    span_id = raw.get("span_id")
    if start is None or end is None or not isinstance(span_id, str):
        return None
    data = raw.get("data")
    parent = raw.get("parent_span_id")
    return SpanInfo(
        span_id,
        parent if isinstance(parent, str) else "",
        str(raw.get("op") or ""),
        str(raw.get("description") or ""),
        start,
        end,
        data if isinstance(data, dict) else {},
    )


@dataclass(slots=True)
class Outline:
    """What a transaction's spans are made of, read without building them: the durations
    (ms) of its database and HTTP spans and whether it has any span the asset and main
    thread detectors look at. Enough to tell the detectors that can't find anything in it
    (``detectors.applicable``)."""

    db: list[float] = field(default_factory=list)
    http: list[float] = field(default_factory=list)
    sized_http: list[float] = field(default_factory=list)  # with a response size in data
    resources: bool = False
    main_thread: bool = False


_RESOURCE_OPS = ("resource.script", "resource.link")
_SIZE_KEYS = ("http.response_content_length", "http.response.body.size")


def outline_of_json(raw_spans: list[Any]) -> Outline:
    """The outline of a classic transaction's spans (v1 JSON). Reads the times of database
    and HTTP spans only; may count a span ``span_from_json`` would drop (never the reverse),
    so it never hides what the detectors would find. (Every span of every transaction comes
    through here: written for speed.)"""
    outline = Outline()
    db, http = outline.db, outline.http
    for raw in raw_spans:
        if not isinstance(raw, dict):
            continue
        value = raw.get("op")
        op = value if isinstance(value, str) else str(value or "")
        if op.startswith("db"):
            durations = db
        elif op == "http.client":
            durations = http
        else:
            if op in _RESOURCE_OPS:
                outline.resources = True
            elif op.startswith("file.") and _blocks_main_thread(raw.get("data")):
                outline.main_thread = True
            continue
        start: Any = raw.get("start_timestamp")
        end: Any = raw.get("timestamp")
        if start.__class__ is not float or end.__class__ is not float:
            start, end = timestamp(start), timestamp(end)
            if start is None or end is None:
                continue
        duration = max(0.0, round((end - start) * 1000, 3))  # as ``duration_ms``
        durations.append(duration)
        data = raw.get("data")
        if not data or not isinstance(data, dict):
            continue
        if durations is db:
            if data.get("blocked_main_thread") is True:
                outline.main_thread = True
        elif "http.response_content_length" in data or "http.response.body.size" in data:
            outline.sized_http.append(duration)
    return outline


def outline_of(spans: list[SpanInfo]) -> Outline:
    """The outline of spans read already (span v2 rows, tests)."""
    outline = Outline()
    for span in spans:
        op = span.op
        if op.startswith("db"):
            outline.db.append(span.duration_ms)
            if _blocks_main_thread(span.data):
                outline.main_thread = True
        elif op == "http.client":
            outline.http.append(span.duration_ms)
            if any(key in span.data for key in _SIZE_KEYS):
                outline.sized_http.append(span.duration_ms)
        elif op in _RESOURCE_OPS:
            outline.resources = True
        elif op.startswith("file.") and _blocks_main_thread(span.data):
            outline.main_thread = True
    return outline


def _blocks_main_thread(data: Any) -> bool:
    return isinstance(data, dict) and data.get("blocked_main_thread") is True


_PARSED_SPANS = "_perfissues_json_spans"


def keep_json_spans(row: Transaction, spans: Any) -> None:
    """Keep a classic transaction's spans, as the digest parsed them, on its row until the
    detectors run after commit (they would otherwise read the stored body again)."""
    if isinstance(spans, list):
        vars(row)[_PARSED_SPANS] = spans


def json_spans(row: Transaction) -> list[Any] | None:
    """The spans ``keep_json_spans`` kept on the row; None when it kept none."""
    spans = vars(row).get(_PARSED_SPANS)
    return spans if isinstance(spans, list) else None


@functools.lru_cache(maxsize=4096)  # the same statements come back in every transaction
def parameterized_sql(query: str) -> str:
    """A query with its literal values as ``%s``, so the same statement with other values
    reads the same (``WHERE id = 1`` and ``WHERE id = 2``)."""
    text = _STRING.sub("%s", query)
    text = _NUMBER.sub("%s", text)
    text = _PLACEHOLDER.sub("%s", text)
    text = _IN_LIST.sub("(%s)", text)
    return _SPACE.sub(" ", text).strip()


def has_parameters(query: str) -> bool:
    return "%s" in parameterized_sql(query)


def is_select(query: str) -> bool:
    return query.lstrip().upper().startswith("SELECT")


@functools.lru_cache(maxsize=4096)
def http_parts(description: str) -> tuple[str, str]:
    """(method, URL) of an ``http.client`` span's description ``"GET https://…"``."""
    method, _, url = description.strip().partition(" ")
    if not url:
        return "", method
    return method.upper(), url.strip()


@functools.lru_cache(maxsize=4096)
def parameterized_url(url: str) -> str:
    """The URL without its query values and with id-like path segments as ``*``; one that
    can't be parsed (``http://[host``) as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    path = "/".join("*" if _ID_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    keys = sorted({pair.partition("=")[0] for pair in parts.query.split("&") if pair})
    query = "&".join(f"{key}=*" for key in keys)
    return f"{parts.netloc}{path}" + (f"?{query}" if query else "")


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc
    except ValueError:  # not a URL that can be parsed: no host
        return ""
