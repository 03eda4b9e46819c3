"""An in-process ingest edge with a real queue writer, talked to through httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import httpx
import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from spyglass.ingest.app import IngestApp
from spyglass.projects.keycache import KeyCache
from spyglass.projects.models import ProjectKey
from spyglass.protocol.envelope import Envelope, parse_envelope
from spyglass.queue.consumer import QueuedItem
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.writer import GroupCommitWriter
from spyglass.test import World, build_world

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def ingest_world(transactional_db: None, django_db_blocker: Any, settings: Any) -> World:
    # build_world() hashes three passwords: the default hasher makes that most of a test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
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


T = TypeVar("T")


async def in_thread(function: Callable[[], T]) -> T:
    """Run ORM code from an async test, and close the thread's connections after it: an open
    one would keep PostgreSQL from dropping the test database at the end."""

    def run() -> T:
        try:
            return function()
        finally:
            connections.close_all()

    return await sync_to_async(run)()


async def queued() -> list[QueuedEnvelope]:
    """Everything in the queue, oldest first (read from a thread: tests are async)."""
    return await in_thread(lambda: list(QueuedEnvelope.objects.order_by("id")))


def auth_header(public_key: str) -> dict[str, str]:
    return {"X-Sentry-Auth": f"Sentry sentry_key={public_key}, sentry_version=7"}


EVENT_ID = "9ec79c33ec9942ab8353589fcb2e04dc"


def item(kind: str, payload: bytes, *, length: bool = True, **headers: Any) -> bytes:
    """One envelope item: its header line, payload and newline."""
    fields: dict[str, Any] = {"type": kind, **headers}
    if length:
        fields["length"] = len(payload)
    return orjson.dumps(fields) + b"\n" + payload + b"\n"


def event_payload(event_id: str | None = EVENT_ID, **fields: Any) -> bytes:
    body: dict[str, Any] = {"message": "hello", "level": "error", **fields}
    if event_id is not None:
        body["event_id"] = event_id
    return orjson.dumps(body)


def build_envelope(header: dict[str, Any] | None = None, *items: bytes) -> bytes:
    return orjson.dumps(header if header is not None else {}) + b"\n" + b"".join(items)


def event_envelope(event_id: str = EVENT_ID, **fields: Any) -> bytes:
    return build_envelope({"event_id": event_id}, item("event", event_payload(event_id, **fields)))


SESSION = orjson.dumps({"sid": "a" * 32, "status": "ok", "init": True, "errors": 0})


def session_envelope() -> bytes:
    return build_envelope({}, item("session", SESSION, length=False))


async def queued_items() -> list[QueuedItem]:
    """The queue as the digest sees it: rows that can decode their envelope."""
    return [
        QueuedItem(
            id=row.id,
            project_id=row.project_id,
            key_id=row.key_id,
            received_at=row.received_at,
            event_id=row.event_id,
            client_ip=row.client_ip,
            user_agent=row.user_agent,
            content_encoding=row.content_encoding,
            body=bytes(row.body),
            attempts=row.attempts,
        )
        for row in await queued()
    ]


async def queued_envelopes() -> list[Envelope]:
    return [parse_envelope(queued.envelope_bytes()) for queued in await queued_items()]


async def update_key(key: ProjectKey, app: IngestApp, **fields: Any) -> None:
    """Change a DSN key in the database, then make the app see it at once."""

    def save() -> None:
        for name, value in fields.items():
            setattr(key, name, value)
        key.save(update_fields=list(fields))

    await in_thread(save)
    await app.keys.reload()


@pytest.fixture
def make_app(ingest_world: World) -> Iterator[Callable[..., IngestApp]]:
    """Further apps with their own writer or key cache; all stopped after the test."""
    apps: list[IngestApp] = []

    def make(writer: GroupCommitWriter | None = None, keys: KeyCache | None = None) -> IngestApp:
        app = IngestApp(
            writer=writer or GroupCommitWriter(window=0.0), keys=keys or KeyCache(ttl=60)
        )
        app.startup()
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.shutdown()


def client_for(app: IngestApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=app,  # type: ignore[arg-type]
        client=("203.0.113.7", 1234),
    )
    return httpx.AsyncClient(transport=transport, base_url="http://spyglass.test")
