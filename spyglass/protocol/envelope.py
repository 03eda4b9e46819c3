"""Sentry envelopes: parse, check against limits, serialize.

An envelope is a JSON header line followed by items; each item is a JSON header line and a
payload, either exactly ``length`` bytes long or running to the next newline.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from spyglass.protocol.errors import BadRequest, PayloadTooLarge

# More items than any SDK sends in one envelope (logs and spans travel as one container
# item each); a cap keeps a hostile 20 MiB envelope of empty items from costing seconds.
MAX_ITEMS = 1000
# Only whitespace up to the end. A regex, as ``data[pos:].strip()`` would copy the rest of the
# body for every item whose header starts with whitespace (quadratic: seconds per envelope).
_BLANK_TAIL = re.compile(rb"\s*\Z")

# Items that carry "the" event of an envelope: at most one of them per envelope.
EVENT_ITEM_TYPES = frozenset(
    {"event", "transaction", "security", "raw_security", "nel", "unreal_report", "form_data"}
)

KIB = 1024
MIB = 1024 * 1024

# Item size limits Relay applies and we do not make settings (the event and attachment
# limits are settings; see ``item_size_limit``).
FIXED_ITEM_LIMITS = {
    "check_in": 100 * KIB,
    "client_report": 4 * KIB,
    "profile": 50 * MIB,
    "profile_chunk": 50 * MIB,
    "replay_recording": 100 * MIB,
    "replay_video": 100 * MIB,
}


@dataclass
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        value = self.headers.get("type")
        return value if isinstance(value, str) else ""


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)

    @property
    def event_id(self) -> str | None:
        value = self.headers.get("event_id")
        return value if isinstance(value, str) else None

    def event_item(self) -> Item | None:
        for item in self.items:
            if item.type in EVENT_ITEM_TYPES:
                return item
        return None

    def serialize(self) -> bytes:
        parts = [orjson.dumps(self.headers), b"\n"]
        for item in self.items:
            headers = dict(item.headers)
            headers["length"] = len(item.payload)
            parts += [orjson.dumps(headers), b"\n", item.payload, b"\n"]
        return b"".join(parts)


def normalize_event_id(value: object) -> str:
    """32 lower-case hex digits, from either that form or a hyphenated UUID."""
    if not isinstance(value, str):
        raise ValueError("event_id must be a string")
    return uuid.UUID(value).hex


def _json_object(raw: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"invalid envelope: {what} is not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise BadRequest(f"invalid envelope: {what} is not a JSON object")
    return value


def parse_envelope(data: bytes) -> Envelope:
    """Split an envelope into its header and items. Raises BadRequest on any framing error."""
    if not data.strip():
        raise BadRequest("invalid envelope: empty body")
    end = data.find(b"\n")
    if end < 0:
        end = len(data)
    headers = _json_object(data[:end], "envelope header")
    if "event_id" in headers and headers["event_id"] is not None:
        try:
            headers["event_id"] = normalize_event_id(headers["event_id"])
        except ValueError:
            raise BadRequest("invalid envelope: event_id is not a UUID") from None
    envelope = Envelope(headers)
    pos, size = end + 1, len(data)
    while pos < size:
        if _BLANK_TAIL.match(data, pos):
            break  # trailing blank lines
        line_end = data.find(b"\n", pos)
        if line_end < 0:
            line_end = size
        item_headers = _json_object(data[pos:line_end], f"item {len(envelope.items)} header")
        if not isinstance(item_headers.get("type"), str) or not item_headers["type"]:
            raise BadRequest(f"invalid envelope: item {len(envelope.items)} has no type")
        # As Relay: a header line at the very end is followed by an empty payload.
        pos = min(line_end + 1, size)
        length = item_headers.get("length")
        if length is None:
            payload_end = data.find(b"\n", pos)
            if payload_end < 0:
                payload_end = size
            payload = data[pos:payload_end] if pos < size else b""
            pos = payload_end + 1
        else:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise BadRequest("invalid envelope: item length is not a non-negative integer")
            if pos + length > size:
                raise BadRequest("invalid envelope: item is shorter than its length")
            payload = data[pos : pos + length]
            pos += length
            if pos < size:
                if data[pos : pos + 1] != b"\n":
                    raise BadRequest("invalid envelope: missing newline after item payload")
                pos += 1
        envelope.items.append(Item(item_headers, payload))
        if len(envelope.items) > MAX_ITEMS:
            raise BadRequest(f"invalid envelope: more than {MAX_ITEMS} items")
    return envelope


def item_size_limit(item_type: str, *, max_event_size: int, max_attachment_size: int) -> int:
    if item_type == "attachment":
        return max_attachment_size
    return FIXED_ITEM_LIMITS.get(item_type, max_event_size)


def check_envelope(envelope: Envelope, *, max_event_size: int, max_attachment_size: int) -> None:
    """Relay's rules: one event-like item at most, and every item within its size limit."""
    event_items = [item.type for item in envelope.items if item.type in EVENT_ITEM_TYPES]
    if len(event_items) > 1:
        raise BadRequest(f"duplicate event items in envelope: {', '.join(event_items)}")
    attachments_total = 0
    for item in envelope.items:
        limit = item_size_limit(
            item.type, max_event_size=max_event_size, max_attachment_size=max_attachment_size
        )
        if len(item.payload) > limit:
            raise PayloadTooLarge(
                f"envelope exceeded size limits: {item.type} item of {len(item.payload)} bytes"
                f" is over the limit of {limit}"
            )
        if item.type == "attachment":
            attachments_total += len(item.payload)
    if attachments_total > max_attachment_size:
        raise PayloadTooLarge("envelope exceeded size limits: attachments are over the limit")


def find_event_id(envelope: Envelope) -> str | None:
    """The envelope's event id: from its header, else from its event item's payload."""
    if envelope.event_id:
        return envelope.event_id
    item = envelope.event_item()
    if item is None or item.type not in ("event", "transaction"):
        return None
    try:
        payload = orjson.loads(item.payload)
        return normalize_event_id(payload.get("event_id")) if isinstance(payload, dict) else None
    except (orjson.JSONDecodeError, ValueError):
        return None
