"""Real `sentry-sdk` envelopes for digest tests, captured in-process (no network): the
official client builds them exactly as it would for a server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk
from sentry_sdk.envelope import Envelope as SdkEnvelope
from sentry_sdk.transport import Transport

from spyglass.queue.consumer import QueuedItem


class Capture(Transport):
    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope: SdkEnvelope) -> None:
        self.envelopes.append(envelope.serialize())


@contextmanager
def sdk(**options: Any) -> Iterator[Capture]:
    """A client that captures what it would send; ``options`` go to ``sentry_sdk.init``."""
    capture = Capture()
    options.setdefault("dsn", "http://publickey@spyglass.test/1")
    options.setdefault("default_integrations", False)
    options.setdefault("auto_enabling_integrations", False)
    with sentry_sdk.new_scope():
        client = sentry_sdk.Client(transport=capture, **options)
        sentry_sdk.get_global_scope().set_client(client)
        try:
            yield capture
        finally:
            client.flush(timeout=2)
            sentry_sdk.get_global_scope().set_client(None)


def queued(project_id: int, envelopes: list[bytes], *, key_id: int = 1) -> list[QueuedItem]:
    """The queue's view of these envelopes, as the ingest edge would have stored them."""
    return [
        QueuedItem(
            id=n,
            project_id=project_id,
            key_id=key_id,
            received_at=time.time(),
            event_id="",
            client_ip="203.0.113.9",
            user_agent="sentry.python/2.75.0",
            content_encoding="",
            body=body,
            attempts=1,
        )
        for n, body in enumerate(envelopes, start=1)
    ]


def raise_and_capture(make_error: Callable[[], BaseException]) -> None:
    try:
        raise make_error()
    except BaseException as exc:
        sentry_sdk.capture_exception(exc)
