"""Event payloads sent by real SDKs (see shared/reference/sdk-capture), normalized by Relay.

Two sources, one layout (`<client>/<case>/<NNN_METHOD_path>/` with `meta.json`, `body.raw`
and, for compressed requests, `body.decoded`): the captures the protocol tests already keep,
and the extra ones copied into `fixtures/` here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from sentry_relay.processing import StoreNormalizer

from spyglass.protocol.envelope import parse_envelope

HERE = Path(__file__).parent
SOURCES = [HERE.parent.parent / "protocol" / "tests" / "fixtures", HERE / "fixtures"]
EVENT_TYPES = ("event",)


@dataclass(frozen=True)
class SdkEvent:
    name: str  # client/case/request
    payload: bytes

    @property
    def slug(self) -> str:
        return self.name.replace("/", "__")


def _body(directory: Path) -> bytes:
    decoded = directory / "body.decoded"
    return (decoded if decoded.exists() else directory / "body.raw").read_bytes()


def _payloads(directory: Path) -> list[bytes]:
    meta = json.loads((directory / "meta.json").read_text())
    if meta.get("method") != "POST":
        return []
    path = meta["path"].rstrip("/")
    if path.endswith("/store"):
        return [_body(directory)]
    if not path.endswith("/envelope"):
        return []
    envelope = parse_envelope(_body(directory))
    return [item.payload for item in envelope.items if item.type in EVENT_TYPES]


@cache
def sdk_events() -> list[SdkEvent]:
    found: dict[str, SdkEvent] = {}
    for source in SOURCES:
        for meta in sorted(source.glob("*/*/*/meta.json")):
            name = str(meta.parent.relative_to(source))
            for index, payload in enumerate(_payloads(meta.parent)):
                key = name if index == 0 else f"{name}#{index}"
                found.setdefault(key, SdkEvent(key, payload))
    return [found[name] for name in sorted(found)]


_normalizer: StoreNormalizer | None = None


def normalize(payload: bytes) -> dict[str, Any]:
    global _normalizer
    if _normalizer is None:
        _normalizer = StoreNormalizer(project_id=1)
    event: dict[str, Any] = _normalizer.normalize_event(raw_event=payload)
    return event


def normalized(name: str) -> dict[str, Any]:
    """A fresh copy of one captured event, normalized."""
    for event in sdk_events():
        if event.name == name:
            return normalize(event.payload)
    raise LookupError(f"no captured event {name}")
