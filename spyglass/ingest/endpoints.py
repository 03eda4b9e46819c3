"""Turn each ingest endpoint's body into one envelope for the queue.

Envelopes are stored as the client compressed them when we keep them unchanged; the legacy
endpoints (store, security, minidump) are wrapped into an envelope here, so the digest only
ever reads envelopes.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from spyglass.ingest.multipart import parse_multipart
from spyglass.protocol.encoding import decode_all
from spyglass.protocol.envelope import (
    Envelope,
    Item,
    check_envelope,
    find_event_id,
    normalize_event_id,
    parse_envelope,
)
from spyglass.protocol.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

ResponseKind = Literal["id", "gif", "created", "uuid"]

SECURITY_CONTENT_TYPES = frozenset(
    {
        "application/json",
        "application/csp-report",
        "application/expect-ct-report",
        "application/expect-ct-report+json",
        "application/expect-staple-report",
        "application/reports+json",
    }
)
MINIDUMP_MAGIC = (b"MDMP", b"PMDM")


@dataclass(frozen=True)
class Limits:
    max_envelope_size: int
    max_event_size: int
    max_attachment_size: int


@dataclass
class Prepared:
    envelope: Envelope
    body: bytes
    content_encoding: str
    event_id: str | None
    response: ResponseKind = "id"


def _check(envelope: Envelope, limits: Limits) -> None:
    check_envelope(
        envelope,
        max_event_size=limits.max_event_size,
        max_attachment_size=limits.max_attachment_size,
    )


def prepare_envelope(raw: bytes, decoded: bytes, encoding: str, limits: Limits) -> Prepared:
    envelope = parse_envelope(decoded)
    _check(envelope, limits)
    event_id = find_event_id(envelope)
    if event_id is not None and envelope.event_id is None and envelope.event_item() is not None:
        # Tie the event to its id in the header, where the digest (and attachments) look.
        envelope.headers["event_id"] = event_id
        return Prepared(envelope, envelope.serialize(), "", event_id)
    if envelope.event_item() is not None and event_id is None:
        event_id = uuid.uuid4().hex
        envelope.headers["event_id"] = event_id
        return Prepared(envelope, envelope.serialize(), "", event_id)
    return Prepared(envelope, raw, encoding.strip().lower(), event_id)


def _sanitize_nan(value: Any) -> Any:
    """Legacy Python SDKs sent NaN and Infinity, which are not JSON: make them null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _sanitize_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_sanitize_nan(v) for v in value]
    return value


def _legacy_json(body: bytes, limits: Limits) -> tuple[dict[str, Any], bytes]:
    """A store body: JSON, or base64 of JSON, or base64 of zlib'd JSON (old SDKs)."""
    text = body.strip()
    if not text.startswith(b"{"):
        try:
            text = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            raise BadRequest("invalid event payload: not JSON, base64 or zlib") from None
        if not text.lstrip().startswith(b"{"):
            text = decode_all("deflate", text, limits.max_event_size)
    if len(text) > limits.max_event_size:
        raise PayloadTooLarge(f"event exceeds the limit of {limits.max_event_size} bytes")
    try:
        payload = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            payload = _sanitize_nan(json.loads(text))
            # Not orjson: it refuses integers past 64 bits and nesting past 254 (a 500).
            text = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (ValueError, RecursionError) as exc:
            raise BadRequest(f"invalid event payload: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequest("invalid event payload: not a JSON object")
    return payload, text


def _event_envelope(payload: dict[str, Any], raw_json: bytes) -> tuple[Envelope, str]:
    given = payload.get("event_id")
    try:
        event_id = normalize_event_id(given) if given else uuid.uuid4().hex
    except ValueError:
        raise BadRequest("invalid event payload: event_id is not a UUID") from None
    item_type = "transaction" if payload.get("type") == "transaction" else "event"
    item = Item({"type": item_type, "content_type": "application/json"}, raw_json)
    return Envelope({"event_id": event_id}, [item]), event_id


def prepare_store(decoded: bytes, limits: Limits) -> Prepared:
    payload, raw_json = _legacy_json(decoded, limits)
    envelope, event_id = _event_envelope(payload, raw_json)
    return Prepared(envelope, envelope.serialize(), "", event_id)


def prepare_store_get(sentry_data: str, limits: Limits) -> Prepared:
    prepared = prepare_store(sentry_data.encode("utf-8"), limits)
    prepared.response = "gif"
    return prepared


def prepare_security(
    decoded: bytes, content_type: str, query: dict[str, str], limits: Limits
) -> Prepared:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in SECURITY_CONTENT_TYPES:
        raise UnsupportedMediaType(f"unsupported content type {media or '(none)'!r}")
    if len(decoded) > limits.max_event_size:
        raise PayloadTooLarge(f"report exceeds the limit of {limits.max_event_size} bytes")
    try:
        orjson.loads(decoded)
    except orjson.JSONDecodeError:
        raise BadRequest("invalid security report: not JSON") from None
    headers: dict[str, Any] = {"type": "raw_security", "content_type": media}
    for name in ("sentry_release", "sentry_environment"):
        if query.get(name):
            headers[name] = query[name]
    event_id = uuid.uuid4().hex
    envelope = Envelope({"event_id": event_id}, [Item(headers, decoded)])
    return Prepared(envelope, envelope.serialize(), "", event_id, response="created")


def _unwrap_minidump(data: bytes, limit: int) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return decode_all("gzip", data, limit)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        return decode_all("zstd", data, limit)
    return data


def _flattened_event(fields: dict[str, str]) -> dict[str, Any]:
    """``sentry[tags][os]=linux`` form fields -> ``{"tags": {"os": "linux"}}``."""
    event: dict[str, Any] = {}
    for name, value in fields.items():
        if not name.startswith("sentry["):
            continue
        path = [p.rstrip("]") for p in name[len("sentry[") :].split("[")]
        node = event
        for key in path[:-1]:
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = value
    return event


def prepare_minidump(decoded: bytes, content_type: str, limits: Limits) -> Prepared:
    media = content_type.split(";", 1)[0].strip().lower()
    fields: dict[str, str] = {}
    files: list[tuple[str, str, str, bytes]] = []  # (field, filename, content type, data)
    if media == "multipart/form-data":
        for part in parse_multipart(decoded, content_type):
            if part.filename is None:
                fields[part.name] = part.data.decode("utf-8", "replace")
            else:
                files.append((part.name, part.filename, part.content_type, part.data))
    else:
        files.append(("upload_file_minidump", "minidump.dmp", media, decoded))
    dumps = [f for f in files if f[0] == "upload_file_minidump"]
    if not dumps:
        raise BadRequest("missing minidump: no upload_file_minidump part")
    dump = _unwrap_minidump(dumps[0][3], limits.max_attachment_size)
    if dump[:4] not in MINIDUMP_MAGIC:
        raise BadRequest("invalid minidump: missing MDMP header")
    event: dict[str, Any] = {}
    if "sentry" in fields:
        try:
            parsed = orjson.loads(fields["sentry"])
        except orjson.JSONDecodeError:
            raise BadRequest("invalid minidump: the sentry field is not JSON") from None
        if isinstance(parsed, dict):
            event = parsed
    event.update(_flattened_event(fields))
    event_id = uuid.uuid4().hex
    event["event_id"] = event_id
    event.setdefault("platform", "native")
    items = [Item({"type": "event", "content_type": "application/json"}, orjson.dumps(event))]
    items.append(
        Item(
            {
                "type": "attachment",
                "attachment_type": "event.minidump",
                "filename": dumps[0][1] or "minidump.dmp",
                "content_type": "application/x-dmp",
            },
            dump,
        )
    )
    for field_name, filename, file_type, data in files:
        if field_name != "upload_file_minidump":
            items.append(
                Item(
                    {"type": "attachment", "filename": filename, "content_type": file_type},
                    data,
                )
            )
    envelope = Envelope({"event_id": event_id}, items)
    _check(envelope, limits)
    return Prepared(envelope, envelope.serialize(), "", event_id, response="uuid")
