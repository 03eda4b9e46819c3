"""The spans of a stored transaction as the detectors read them: one flat list, whichever
way the transaction arrived (a classic transaction's body, or span v2 rows)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?\b")
_STRING = re.compile(r"'(?:[^']|'')*'")
_IN_LIST = re.compile(r"\((?:\s*%s\s*,)+\s*%s\s*\)")
_PLACEHOLDER = re.compile(r"\?|%s|%\(\w+\)s|\$\d+|:\w+")
_SPACE = re.compile(r"\s+")
_ID_SEGMENT = re.compile(r"^(?:\d+|[0-9a-fA-F-]{16,}|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})$")


@dataclass(slots=True)
class SpanInfo:
    span_id: str
    parent_span_id: str
    op: str
    description: str
    start: float  # unix seconds
    end: float
    data: dict[str, Any] = field(default_factory=dict)
    duration_ms: float = field(init=False)

    def __post_init__(self) -> None:
        # Rounded to microseconds: unix-second floats carry noise in the last digits.
        self.duration_ms = max(0.0, round((self.end - self.start) * 1000, 3))

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
        span_id=span_id,
        parent_span_id=parent if isinstance(parent, str) else "",
        op=str(raw.get("op") or ""),
        description=str(raw.get("description") or ""),
        start=start,
        end=end,
        data=data if isinstance(data, dict) else {},
    )


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
    """The URL without its query values and with id-like path segments as ``*``."""
    parts = urlsplit(url)
    path = "/".join("*" if _ID_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
    keys = sorted({pair.partition("=")[0] for pair in parts.query.split("&") if pair})
    query = "&".join(f"{key}=*" for key in keys)
    return f"{parts.netloc}{path}" + (f"?{query}" if query else "")


def host_of(url: str) -> str:
    return urlsplit(url).netloc
