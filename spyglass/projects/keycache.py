"""An in-process cache of DSN keys, so the ingest hot path makes no database query.

The whole key table is reloaded every ``KEY_CACHE_TTL`` seconds in the background; an
unknown key triggers a reload at most once a second (so a flood of bad keys costs one query
a second, not one per request). Stale entries keep serving while a reload runs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)

MISS_RELOAD_INTERVAL = 1.0


@dataclass(frozen=True)
class KeyInfo:
    key_id: int
    project_id: int
    public_key: str
    is_active: bool
    rate_limit_count: int | None
    rate_limit_window: int | None


def load_keys() -> dict[str, KeyInfo]:
    from spyglass.projects.models import ProjectKey

    try:
        rows = ProjectKey.objects.values_list(
            "id",
            "project_id",
            "public_key",
            "is_active",
            "rate_limit_count",
            "rate_limit_window",
        )
        return {row[2]: KeyInfo(*row) for row in rows}
    finally:
        connection.close()  # runs in a pool thread: don't leave a connection behind


class KeyCache:
    def __init__(
        self, ttl: float | None = None, loader: Callable[[], dict[str, KeyInfo]] = load_keys
    ) -> None:
        self.ttl = settings.KEY_CACHE_TTL if ttl is None else ttl
        self.loader = loader
        self.keys: dict[str, KeyInfo] = {}
        self.loaded_at = -1e9
        self.loads = 0
        self._reloading: asyncio.Task[None] | None = None

    async def reload(self) -> None:
        if self._reloading is None or self._reloading.done():
            self._reloading = asyncio.create_task(self._reload())
        await asyncio.shield(self._reloading)

    async def _reload(self) -> None:
        started = time.monotonic()
        try:
            self.keys = await asyncio.to_thread(self.loader)
            self.loads += 1
        finally:
            # A failed attempt waits like a successful one (the TTL, or a second for a miss):
            # with the database down, a flood of requests must not become a flood of queries.
            self.loaded_at = started

    async def get(self, public_key: str) -> KeyInfo | None:
        now = time.monotonic()
        if now - self.loaded_at > self.ttl:
            if self.keys:
                if self._reloading is None or self._reloading.done():
                    self._reloading = asyncio.create_task(self._reload())
            else:
                await self.reload()
        info = self.keys.get(public_key)
        if info is None and time.monotonic() - self.loaded_at > MISS_RELOAD_INTERVAL:
            try:
                await self.reload()
            except Exception:
                log.exception("reloading DSN keys failed")
            info = self.keys.get(public_key)
        return info
