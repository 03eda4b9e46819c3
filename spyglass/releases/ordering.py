"""Which of two releases is newer, as Sentry decides: by semver when both versions parse as
semver (``package@1.2.3``), otherwise by release date (released, else created)."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sentry_relay.processing import parse_release

SemverKey = tuple[int, int, int, int, int, tuple[Any, ...]]


@functools.lru_cache(maxsize=4096)
def semver_key(version: str) -> SemverKey | None:
    try:
        parsed = parse_release(version).get("version_parsed")
    except Exception:  # the binding raises its own error types for unparsable versions
        return None
    if not parsed:
        return None
    pre = parsed.get("pre")
    # A pre-release sorts before its release: (0, parts) < (1,).
    pre_key: tuple[Any, ...] = (
        (0, tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split("."))) if pre else (1,)
    )
    return (
        int(parsed["major"]),
        int(parsed["minor"]),
        int(parsed["patch"]),
        int(parsed.get("revision") or 0),
        0,
        pre_key,
    )


def compare(a: str, b: str, dates: dict[str, datetime] | None = None) -> int | None:
    """-1, 0 or 1 when ``a`` is older than, the same as, or newer than ``b``; None when the
    order can't be told (no semver and no dates)."""
    if a == b:
        return 0
    key_a, key_b = semver_key(a), semver_key(b)
    if key_a is not None and key_b is not None:
        return (key_a > key_b) - (key_a < key_b)
    if dates and a in dates and b in dates:
        return (dates[a] > dates[b]) - (dates[a] < dates[b])
    return None
