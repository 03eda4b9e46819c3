"""What the digest's steps hand each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class ProcessedEvent:
    """An error/default event after normalization, filters, scrubbing and grouping: ready to
    be stored."""

    project_id: int
    event_id: str
    # The normalized, scrubbed event (with `_meta` and `errors`), until it is compressed into
    # `body` (right after processing, so a batch holds a few KB per event instead of its JSON
    # as Python objects); then `{}`.
    event: dict[str, Any]
    timestamp: datetime
    received_at: datetime
    type: str
    title: str
    culprit: str
    metadata: dict[str, Any]
    level: str
    platform: str
    release: str
    environment: str
    dist: str
    transaction: str
    message: str
    trace_id: str
    user_key: str
    sdk_name: str
    sdk_version: str
    logger: str
    tags: list[tuple[str, str]]
    grouping_config: str
    hashes: list[str]
    has_processing_errors: bool = False
    body: bytes = b""  # the stored, compressed form of `event`
    frames: str = ""  # the event's frames text, for stack frame search (`digest.frames`)


@dataclass
class OutcomeCounts:
    """Outcomes of one batch: (project, category, outcome, reason) -> quantity."""

    counts: dict[tuple[int, str, str, str], int] = field(default_factory=dict)

    def add(
        self, project_id: int, category: str, outcome: str, reason: str = "", quantity: int = 1
    ) -> None:
        key = (project_id, category, outcome, reason)
        self.counts[key] = self.counts.get(key, 0) + quantity

    def merge(self, other: OutcomeCounts) -> None:
        for key, quantity in other.counts.items():
            self.counts[key] = self.counts.get(key, 0) + quantity
