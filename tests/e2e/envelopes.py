"""A small, independent reader for what the queue holds: decode a body, split an envelope.

Written apart from ``spyglass.protocol`` on purpose, so that a bug in the server's own parser
can't make these tests agree with it.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import brotli
import zstandard


@dataclass(frozen=True)
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type", ""))

    def json(self) -> Any:
        return json.loads(self.payload)


@dataclass(frozen=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]

    @property
    def types(self) -> list[str]:
        return [item.type for item in self.items]

    def item(self, item_type: str) -> Item:
        found = [item for item in self.items if item.type == item_type]
        assert len(found) == 1, f"expected one {item_type} item, envelope has {self.types}"
        return found[0]


def decode_body(content_encoding: str, body: bytes) -> bytes:
    if content_encoding == "":
        return body
    if content_encoding == "br":
        data: bytes = brotli.decompress(body)
        return data
    if content_encoding == "gzip":
        return gzip.decompress(body)
    if content_encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, -15)
    if content_encoding == "zstd":
        data = zstandard.ZstdDecompressor().decompress(body, max_output_size=64 * 1024 * 1024)
        return data
    raise AssertionError(f"unexpected content_encoding {content_encoding!r} in the queue")


def parse_envelope(data: bytes) -> Envelope:
    """Header line, then items framed by ``length`` or running to the next newline."""
    first, _, rest = data.partition(b"\n")
    headers = json.loads(first)
    items: list[Item] = []
    while rest.strip():
        line, _, rest = rest.partition(b"\n")
        item_headers = json.loads(line)
        length = item_headers.get("length")
        if length is None:
            payload, _, rest = rest.partition(b"\n")
        else:
            payload, rest = rest[:length], rest[length:]
            assert len(payload) == length, "item shorter than its length"
            rest = rest.removeprefix(b"\n")
        items.append(Item(item_headers, payload))
    return Envelope(headers, items)


def hex_id(value: str) -> str:
    """32 lower-case hex digits, whatever form a client printed the id in."""
    return uuid.UUID(value).hex


def event_envelope(event_id: str, message: str) -> bytes:
    """A minimal error event envelope, as the load generators send it."""
    event = {
        "event_id": event_id,
        "timestamp": time.time(),
        "platform": "python",
        "level": "error",
        "message": message,
    }
    payload = json.dumps(event).encode()
    header = json.dumps({"event_id": event_id, "sent_at": "2026-01-01T00:00:00Z"}).encode()
    item = json.dumps({"type": "event", "length": len(payload)}).encode()
    return header + b"\n" + item + b"\n" + payload + b"\n"
