"""Build a pool of realistic ingest requests from the captured SDK fixtures.

Every request is a complete HTTP/1.1 request (head and body), framed as the SDK that the
template came from frames it:

- Python ``sentry-sdk``: ``Content-Encoding: br`` (quality 4, the SDK's default),
  ``Content-Length``, auth in ``X-Sentry-Auth``, item headers with ``length``;
- ``@sentry/node``: uncompressed (it only gzips above 32 KiB), ``Transfer-Encoding: chunked``,
  auth in the query string, no Content-Type, newline-terminated items.

Events are padded with breadcrumbs (transactions with spans) to about ``target_size`` bytes of
envelope, and each error gets one of ``groups`` exception type / function combinations so that
the mix spreads over that many issues. Each request has its own event_id and trace_id.
"""

from __future__ import annotations

import copy
import json
import os
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import brotli

# shared/ sits beside the repository, here and in CI.
FIXTURES = Path(
    os.environ.get(
        "SPYGLASS_SDK_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared/reference/sdk-capture/fixtures",
    )
)
PYTHON_UA = "sentry.python/2.75.0"
NODE_CLIENT = "sentry.javascript.node%2F11.12.0"
NODE_UA = "sentry.javascript.node/11.12.0"

# (kind, sdk, fixture request dir, weight): 70 % errors, 30 % transactions; ~28 % from Node.
TEMPLATES: list[tuple[str, str, str, float]] = [
    ("error", "python", "python/flask_500/001_POST_api_1_envelope", 0.20),
    ("error", "python", "python/unhandled_exception/001_POST_api_1_envelope", 0.15),
    ("error", "python", "python/exception_chained/001_POST_api_1_envelope", 0.15),
    ("error", "node", "node/express_500/001_POST_api_1_envelope", 0.08),
    ("error", "node", "node/exception_chained/002_POST_api_1_envelope", 0.06),
    ("error", "node", "node/unhandled_exception/002_POST_api_1_envelope", 0.06),
    ("transaction", "python", "python/transaction_spans/001_POST_api_1_envelope", 0.22),
    ("transaction", "node", "node/transaction_spans_static/002_POST_api_1_envelope", 0.08),
]

EXCEPTION_TYPES = [
    "ValueError",
    "KeyError",
    "TypeError",
    "PaymentError",
    "TimeoutError",
    "ConnectionError",
    "PermissionError",
    "IntegrityError",
    "ValidationError",
    "RuntimeError",
]
FUNCTIONS = ["checkout", "charge_card", "load_orders", "render_invoice", "sync_inventory"]

_BREADCRUMBS = [
    {
        "type": "http",
        "category": "httplib",
        "level": "info",
        "data": {
            "method": "GET",
            "url": "https://api.payments.example.com/v1/charges/{n}",
            "status_code": 200,
            "reason": "OK",
        },
    },
    {
        "type": "default",
        "category": "query",
        "level": "info",
        "message": "SELECT orders.id, orders.user_id, orders.total, orders.created_at FROM orders"
        " WHERE orders.user_id = %s AND orders.status = %s ORDER BY orders.id DESC"
        " LIMIT 50 /* {n} */",
        "data": {"db.system": "postgresql", "db.params": ["{n}", "open"]},
    },
    {
        "type": "log",
        "category": "shop.checkout",
        "level": "warning",
        "message": "retrying charge for order ord-{n}: gateway answered 502 after 1250 ms",
    },
    {
        "type": "navigation",
        "category": "redis",
        "level": "info",
        "message": "GET session:{n}",
        "data": {"db.operation": "GET", "redis.key": "session:{n}"},
    },
]


@dataclass
class Built:
    kind: str  # "error" or "transaction"
    sdk: str  # "python" or "node"
    group: int | None
    envelope_size: int  # uncompressed envelope bytes
    request: bytes  # the full HTTP request


def _load(rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / rel / "envelope.json").read_text())
    items = [item for item in data["items"] if item["header"]["type"] in ("event", "transaction")]
    assert len(items) == 1, rel
    return {
        "header": data["header"],
        "item_header": items[0]["header"],
        "payload": items[0]["payload"],
    }


def _dumps(value: Any) -> bytes:
    # Both SDKs send compact JSON.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _fill(template: Any, n: int) -> Any:
    if isinstance(template, str):
        return template.replace("{n}", str(n))
    if isinstance(template, dict):
        return {k: _fill(v, n) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, n) for v in template]
    return template


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _set_group(payload: dict[str, Any], group: int, rng: random.Random) -> None:
    """Give every exception the group's type and its innermost in-app frame the group's function."""
    exc_type = EXCEPTION_TYPES[group % len(EXCEPTION_TYPES)]
    function = FUNCTIONS[(group // len(EXCEPTION_TYPES)) % len(FUNCTIONS)]
    for value in payload.get("exception", {}).get("values", []):
        value["type"] = exc_type
        value["value"] = f"{function} failed for order ord-{rng.randrange(10**6)}"
        frames = (value.get("stacktrace") or {}).get("frames") or []
        if frames:
            frames[-1]["function"] = function
    payload.pop("fingerprint", None)  # a custom fingerprint would merge our groups


def _pad_error(payload: dict[str, Any], sdk: str, target: int, rng: random.Random) -> None:
    crumbs_holder = payload.get("breadcrumbs")
    if sdk == "python":
        if not isinstance(crumbs_holder, dict):
            crumbs_holder = payload["breadcrumbs"] = {"values": []}
        crumbs = crumbs_holder.setdefault("values", [])
    else:
        if not isinstance(crumbs_holder, list):
            crumbs_holder = payload["breadcrumbs"] = []
        crumbs = crumbs_holder
    size = len(_dumps(payload))
    now = time.time()
    while size < target:
        crumb = _fill(rng.choice(_BREADCRUMBS), rng.randrange(10**6))
        crumb["timestamp"] = _iso(now - rng.random() * 30) if sdk == "python" else round(now, 3)
        crumbs.append(crumb)
        size += len(_dumps(crumb)) + 1


def _pad_transaction(payload: dict[str, Any], target: int, rng: random.Random) -> None:
    spans = payload.get("spans") or []
    base = [s for s in spans if s]
    size = len(_dumps(payload))
    while size < target and base:
        span = copy.deepcopy(rng.choice(base))
        span["span_id"] = uuid.uuid4().hex[:16]
        if isinstance(span.get("description"), str):
            span["description"] += f" /* {rng.randrange(10**6)} */"
        spans.append(span)
        size += len(_dumps(span)) + 1
    payload["spans"] = spans


def _python_request(
    path: str, key: str, header: dict[str, Any], item_header: dict[str, Any], payload: bytes
) -> tuple[int, bytes]:
    item_header = {**item_header, "length": len(payload)}
    envelope = _dumps(header) + b"\n" + _dumps(item_header) + b"\n" + payload + b"\n"
    body = brotli.compress(envelope, quality=4)
    head = (
        f"POST {path} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "Accept-Encoding: identity\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Content-Type: application/x-sentry-envelope\r\n"
        "Content-Encoding: br\r\n"
        f"User-Agent: {PYTHON_UA}\r\n"
        f"X-Sentry-Auth: Sentry sentry_key={key}, sentry_version=7,"
        f" sentry_client={PYTHON_UA}\r\n\r\n"
    )
    return len(envelope), head.encode() + body


def _node_request(
    path: str, key: str, header: dict[str, Any], item_header: dict[str, Any], payload: bytes
) -> tuple[int, bytes]:
    item_header = {k: v for k, v in item_header.items() if k != "length"}
    envelope = _dumps(header) + b"\n" + _dumps(item_header) + b"\n" + payload
    head = (
        f"POST {path}?sentry_version=7&sentry_key={key}&sentry_client={NODE_CLIENT} HTTP/1.1\r\n"
        f"user-agent: {NODE_UA}\r\n"
        "Host: 127.0.0.1\r\n"
        "Connection: keep-alive\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunked = f"{len(envelope):x}\r\n".encode() + envelope + b"\r\n0\r\n\r\n"
    return len(envelope), head.encode() + chunked


def build_pool(
    count: int,
    project_id: int,
    public_key: str,
    *,
    groups: int = 50,
    target_size: int = 12_000,
    seed: int = 1,
) -> list[Built]:
    rng = random.Random(seed)
    templates = [(kind, sdk, _load(rel), w) for kind, sdk, rel, w in TEMPLATES]
    weights = [w for *_, w in templates]
    path = f"/api/{project_id}/envelope/"
    pool: list[Built] = []
    for _ in range(count):
        kind, sdk, tpl, _w = rng.choices(templates, weights)[0]
        payload = copy.deepcopy(tpl["payload"])
        header = copy.deepcopy(tpl["header"])
        event_id, trace_id = uuid.uuid4().hex, uuid.uuid4().hex
        now = time.time()
        payload["event_id"] = header["event_id"] = event_id
        header["sent_at"] = _iso(now)
        if isinstance(header.get("trace"), dict):
            header["trace"]["trace_id"] = trace_id
            header["trace"]["public_key"] = public_key
        trace = payload.get("contexts", {}).get("trace")
        if isinstance(trace, dict):
            trace["trace_id"] = trace_id
        group = None
        if kind == "error":
            group = rng.randrange(groups)
            _set_group(payload, group, rng)
            payload["timestamp"] = _iso(now) if sdk == "python" else now
            _pad_error(payload, sdk, target_size - 400, rng)
        else:
            _pad_transaction(payload, target_size - 400, rng)
        body = _dumps(payload)
        make = _python_request if sdk == "python" else _node_request
        size, request = make(path, public_key, header, tpl["item_header"], body)
        pool.append(Built(kind, sdk, group, size, request))
    return pool


def write_pool(pool: list[Built], directory: Path) -> None:
    """requests.bin (the requests back to back) and requests.idx ("offset length" lines)."""
    directory.mkdir(parents=True, exist_ok=True)
    offset = 0
    with (
        open(directory / "requests.bin", "wb") as data,
        open(directory / "requests.idx", "w") as idx,
    ):
        for built in pool:
            data.write(built.request)
            idx.write(f"{offset} {len(built.request)}\n")
            offset += len(built.request)


def read_pool(directory: Path) -> list[bytes]:
    data = (directory / "requests.bin").read_bytes()
    out = []
    for line in (directory / "requests.idx").read_text().splitlines():
        offset, length = map(int, line.split())
        out.append(data[offset : offset + length])
    return out


def describe(pool: list[Built]) -> dict[str, Any]:
    n = len(pool)
    wire = [len(b.request) for b in pool]
    return {
        "requests": n,
        "errors": sum(b.kind == "error" for b in pool) / n,
        "transactions": sum(b.kind == "transaction" for b in pool) / n,
        "node_share": sum(b.sdk == "node" for b in pool) / n,
        "groups": len({b.group for b in pool if b.group is not None}),
        "mean_envelope_bytes": sum(b.envelope_size for b in pool) / n,
        "mean_request_bytes": sum(wire) / n,
        "mean_python_request_bytes": _mean([len(b.request) for b in pool if b.sdk == "python"]),
        "mean_node_request_bytes": _mean([len(b.request) for b in pool if b.sdk == "node"]),
    }


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0
