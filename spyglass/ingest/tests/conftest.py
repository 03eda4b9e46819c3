"""An in-process ingest edge with a real queue writer, talked to through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async

from spyglass.ingest.app import IngestApp
from spyglass.projects.keycache import KeyCache
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.writer import GroupCommitWriter
from spyglass.test import World, build_world

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def ingest_world(transactional_db: None, django_db_blocker: Any) -> World:
    return build_world()


@pytest.fixture
def ingest_app(ingest_world: World) -> Iterator[IngestApp]:
    app = IngestApp(writer=GroupCommitWriter(window=0.0), keys=KeyCache(ttl=60))
    app.startup()
    yield app
    app.shutdown()


@pytest.fixture
async def client(ingest_app: IngestApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=ingest_app,  # type: ignore[arg-type]
        client=("203.0.113.7", 1234),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://spyglass.test") as c:
        yield c


async def queued() -> list[QueuedEnvelope]:
    """Everything in the queue, oldest first (read from a thread: tests are async)."""
    return await sync_to_async(lambda: list(QueuedEnvelope.objects.order_by("id")))()


def auth_header(public_key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7"}
