"""Factories and probes shared by the queue tests."""

from __future__ import annotations

import time
from typing import Any

from django.db import connections

from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.router import queue_alias
from spyglass.queue.writer import RateLimit, Submission

T0 = 1_700_000_000.0  # a pinned "now" for the tests that care about time


def submission(
    n: int = 0,
    *,
    key_id: int = 7,
    rate_limit: RateLimit | None = None,
    limited_body: bytes | None = None,
) -> Submission:
    return Submission(
        project_id=3,
        key_id=key_id,
        event_id=f"{n:032x}",
        client_ip="203.0.113.9",
        user_agent="sentry.python/2.0",
        content_encoding="gzip",
        body=b"envelope %d" % n,
        rate_limit=rate_limit,
        limited_body=limited_body,
    )


def enqueue(count: int = 1, **fields: Any) -> list[int]:
    """Rows straight into the queue table, oldest first."""
    ids = []
    for n in range(count):
        values: dict[str, Any] = {
            "project_id": 3,
            "key_id": 7,
            "received_at": time.time(),
            "event_id": f"{n:032x}",
            "body": b"envelope %d" % n,
        }
        values.update(fields)
        ids.append(QueuedEnvelope.objects.create(**values).id)
    return ids


def committed_rows(columns: str = "event_id") -> list[tuple[Any, ...]]:
    """What a brand-new connection (another process, say) sees in the queue table."""
    wrapper = connections[queue_alias()]
    raw = wrapper.get_new_connection(wrapper.get_connection_params())
    try:
        cursor = raw.cursor()
        cursor.execute(f"SELECT {columns} FROM spyglass_queue ORDER BY id")
        rows: list[tuple[Any, ...]] = [tuple(row) for row in cursor.fetchall()]
        cursor.close()
        return rows
    finally:
        raw.close()
