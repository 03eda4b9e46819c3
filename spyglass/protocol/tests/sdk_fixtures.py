"""Real SDK requests captured by ``shared/reference/sdk-capture`` (a small subset, copied here).

The layout is the capture's own: ``fixtures/<client>/<case>/<NNN_METHOD_path>/`` with
``meta.json``, ``body.raw`` (bytes as sent, still compressed) and, when the request was
compressed, ``body.decoded``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Capture:
    name: str  # client/case/request
    directory: Path

    @cached_property
    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = json.loads((self.directory / "meta.json").read_text())
        return meta

    @property
    def client(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def method(self) -> str:
        method: str = self.meta["method"]
        return method

    @property
    def path(self) -> str:
        path: str = self.meta["path"]
        return path

    @property
    def kind(self) -> str:
        """``envelope`` or ``store``: the last segment of the path."""
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def query(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in self.meta["query"]]

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(name, value) for name, value in self.meta["headers"]]

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    @property
    def content_encoding(self) -> str:
        return self.header("content-encoding") or ""

    @property
    def item_types(self) -> list[str]:
        types: list[str] = self.meta.get("envelope_item_types") or []
        return types

    @property
    def raw(self) -> bytes:
        return (self.directory / "body.raw").read_bytes()

    @property
    def decoded(self) -> bytes:
        path = self.directory / "body.decoded"
        return path.read_bytes() if path.exists() else self.raw

    @property
    def has_decoded(self) -> bool:
        return (self.directory / "body.decoded").exists()


def captures() -> list[Capture]:
    return [
        Capture(str(meta.parent.relative_to(FIXTURES)), meta.parent)
        for meta in sorted(FIXTURES.glob("*/*/*/meta.json"))
    ]


def capture(name: str) -> Capture:
    found = [c for c in captures() if c.name == name]
    assert found, f"no captured request {name}"
    return found[0]


def envelope_captures() -> list[Capture]:
    return [c for c in captures() if c.kind == "envelope" and c.method == "POST"]


def store_captures() -> list[Capture]:
    return [c for c in captures() if c.kind == "store" and c.method == "POST"]
