"""A transparent TCP proxy in front of Spyglass that keeps the request heads clients send.

The queue doesn't keep request headers, so this is how a test shows which wire shape a client
really used (query-string auth, chunked bodies, the /store/ endpoint, ...). Bytes pass
through unchanged in both directions.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from dataclasses import dataclass
from types import TracebackType

from tests.e2e.harness import SpyglassServer

_HEAD = re.compile(rb"(GET|POST|OPTIONS|PUT) (\S+) HTTP/1\.[01]\r\n(.*?)\r\n\r\n", re.S)


@dataclass(frozen=True)
class RequestHead:
    method: str
    target: str
    headers: dict[str, str]  # lower-case names


class RecordingProxy:
    def __init__(self, server: SpyglassServer) -> None:
        self.upstream = ("127.0.0.1", server.port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.dsn = server.dsn.replace(f":{server.port}/", f":{self.port}/")
        self._streams: list[bytearray] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> RecordingProxy:
        self._accepting.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # shutdown() wakes the accept() blocked in the other thread; close() alone may not.
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in [self._accepting, *self._threads]:
            thread.join(10)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            stream = bytearray()
            with self._lock:
                self._streams.append(stream)
                self._clients.append(client)
            thread = threading.Thread(target=self._connection, args=(client, stream), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _connection(self, client: socket.socket, stream: bytearray) -> None:
        with client, socket.create_connection(self.upstream) as upstream:
            back = threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True)
            back.start()
            self._pump(client, upstream, stream)
            back.join(30)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray | None) -> None:
        try:
            while data := source.recv(65536):
                if record is not None:
                    with self._lock:
                        record.extend(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # Either side hanging up ends the connection for both.
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def requests(self) -> list[RequestHead]:
        heads = []
        with self._lock:
            streams = [bytes(stream) for stream in self._streams]
        for stream in streams:
            for match in _HEAD.finditer(stream):
                headers = {}
                for line in match.group(3).split(b"\r\n"):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                heads.append(RequestHead(match.group(1).decode(), match.group(2).decode(), headers))
        return heads
