"""Raw HTTP load for the crash and shutdown tests: envelopes with unique event ids, and a
record of every one Spyglass acknowledged (200 with its id)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from collections import Counter
from types import TracebackType

from tests.e2e.envelopes import event_envelope
from tests.e2e.harness import START_TIMEOUT, SpyglassServer, wait_for


class LoadGenerator:
    """``threads`` keep-alive connections posting about ``rate`` envelopes a second in all.

    Connection errors are expected (the server gets killed under it): the thread reconnects
    and goes on, and the envelope simply doesn't count as acknowledged.
    """

    def __init__(self, server: SpyglassServer, *, threads: int = 16, rate: float = 600.0) -> None:
        self.server = server
        self.interval = threads / rate
        self.acked: set[str] = set()
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            for n in range(threads)
        ]

    def __enter__(self) -> LoadGenerator:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    @property
    def acked_count(self) -> int:
        with self._lock:
            return len(self.acked)

    def wait_for_acks(self, count: int) -> None:
        wait_for(
            lambda: True if self.acked_count >= count else None,
            f"{count} acknowledged envelopes (have {self.acked_count}, errors {self.errors},"
            f" statuses {dict(self.statuses)})",
            START_TIMEOUT,
        )

    def _post(self, conn: http.client.HTTPConnection, event_id: str) -> tuple[int, bytes]:
        conn.request(
            "POST",
            f"/api/{self.server.project_id}/envelope/",
            body=event_envelope(event_id, f"load {event_id}"),
            headers={**self.server.auth_headers(), "Content-Type": "application/x-sentry-envelope"},
        )
        response = conn.getresponse()
        return response.status, response.read()

    def _run(self) -> None:
        conn: http.client.HTTPConnection | None = None
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at + self.interval, time.monotonic())
            event_id = uuid.uuid4().hex
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
                status, body = self._post(conn, event_id)
            except (OSError, http.client.HTTPException):
                with self._lock:
                    self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(0.05)
                continue
            with self._lock:
                self.statuses[status] += 1
                if status == 200 and json.loads(body).get("id") == event_id:
                    self.acked.add(event_id)
        if conn is not None:
            conn.close()


class SlowRequest:
    """One envelope held in flight on purpose: the server is reading its body, which the test
    sends only when it chooses (``Expect: 100-continue`` shows the app is waiting for it)."""

    def __init__(self, server: SpyglassServer) -> None:
        self.server = server
        self.event_id = uuid.uuid4().hex
        self._body = event_envelope(self.event_id, "sent slowly")
        self._sock: socket.socket | None = None

    @staticmethod
    def _chunk(data: bytes) -> bytes:
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def begin(self) -> None:
        """Send the request head; return once the app has asked for the body."""
        head = [
            f"POST /api/{self.server.project_id}/envelope/ HTTP/1.1",
            f"Host: 127.0.0.1:{self.server.port}",
            *(f"{name}: {value}" for name, value in self.server.auth_headers().items()),
            "Content-Type: application/x-sentry-envelope",
            "Transfer-Encoding: chunked",
            "Expect: 100-continue",
        ]
        self._sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=60)
        self._sock.sendall("\r\n".join(head).encode() + b"\r\n\r\n")
        interim = b""
        while not interim.endswith(b"\r\n\r\n"):
            byte = self._sock.recv(1)
            assert byte, f"connection closed before 100 Continue (got {interim!r})"
            interim += byte
        assert interim.startswith(b"HTTP/1.1 100 "), interim

    def finish(self) -> tuple[int, bytes]:
        """Send the body in two chunks; the response's status and body."""
        assert self._sock is not None
        half = len(self._body) // 2
        with self._sock:
            self._sock.sendall(self._chunk(self._body[:half]))
            self._sock.sendall(self._chunk(self._body[half:]) + b"0\r\n\r\n")
            response = http.client.HTTPResponse(self._sock)
            response.begin()
            return response.status, response.read()
