"""Group commit: many ingest requests, one durable transaction.

Requests hand their envelope to a single writer thread per process and wait. The thread
takes everything that arrived while the previous commit ran (plus a short window), writes it
in one transaction, commits, and only then wakes each request with its outcome.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import math
import queue as stdqueue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.db import connections

from spyglass.queue.router import queue_alias

log = logging.getLogger(__name__)

_INSERT = (
    "INSERT INTO spyglass_queue (project_id, key_id, received_at, event_id, client_ip,"
    " user_agent, content_encoding, body, attempts, claimed_by, last_error)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, '', '')"
)
_COUNT_RATE = (
    "INSERT INTO spyglass_rate_counter (key_id, window_start, count) VALUES (%s, %s, 1)"
    " ON CONFLICT (key_id, window_start) DO UPDATE SET count = spyglass_rate_counter.count + 1"
    " RETURNING count"
)
_COUNT_ACCEPTED = (
    "INSERT INTO spyglass_queue_stat (minute, accepted, done) VALUES (%s, %s, 0)"
    " ON CONFLICT (minute) DO UPDATE SET accepted = spyglass_queue_stat.accepted + %s"
)
# Rows acked out of order leave gaps inside the range, so this overestimates a little while
# workers run; set-aside (failed) rows at the head are skipped by the min().
_DEPTH_ESTIMATE = (
    "SELECT (SELECT max(id) FROM spyglass_queue)"
    " - (SELECT min(id) FROM spyglass_queue WHERE failed_at IS NULL) + 1"
)
# While the queue is full, ingest submits nothing, so no commit would look at the depth again:
# the writer looks on its own this often (seconds) until the workers have made room.
FULL_RECHECK_INTERVAL = 1.0


@dataclass
class RateLimit:
    key_id: int
    count: int
    window: int


@dataclass
class Submission:
    project_id: int
    key_id: int
    event_id: str
    client_ip: str
    user_agent: str
    content_encoding: str
    body: bytes
    received_at: float = field(default_factory=time.time)
    # When set, the envelope counts against this limit. Over the limit, ``limited_body`` (the
    # envelope without its rate-limited items) is queued instead, or nothing when it is None.
    rate_limit: RateLimit | None = None
    limited_body: bytes | None = None


@dataclass(frozen=True)
class Outcome:
    queued: bool
    # Seconds until the key's window ends, when the rate limit applied.
    rate_limited_for: int | None = None


class QueueUnavailable(Exception):
    """The queue could not commit; the request must not be acknowledged."""


class GroupCommitWriter:
    def __init__(self, *, window: float | None = None, max_depth: int | None = None) -> None:
        self.window = settings.QUEUE_COMMIT_WINDOW if window is None else window
        self.max_depth = settings.QUEUE_MAX_DEPTH if max_depth is None else max_depth
        self._inbox: stdqueue.SimpleQueue[
            tuple[Submission, Callable[[Outcome | BaseException], None]] | None
        ] = stdqueue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Requests on several threads may start the writer at once: one thread, one stop.
        self._lifecycle = threading.Lock()
        self.commits = 0
        self.full = False
        self._connection: QueueConnection | None = None
        self._depth_checked_at = 0.0

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        with self._lifecycle:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="queue-writer", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Finish everything submitted so far, then stop the thread."""
        with self._lifecycle:
            if self._thread is not None:
                self._inbox.put(None)
                self._thread.join()
                self._thread = None

    # -- producer side -------------------------------------------------------------------
    async def submit(self, submission: Submission) -> Outcome:
        if self._thread is None:
            self.start()  # servers that skip the ASGI lifespan still get a writer
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()

        def resolve(result: Outcome | BaseException) -> None:
            loop.call_soon_threadsafe(_settle, future, result)

        self._inbox.put((submission, resolve))
        return await future

    def submit_sync(self, submission: Submission) -> Outcome:
        if self._thread is None:
            self.start()
        done = threading.Event()
        box: list[Outcome | BaseException] = []

        def resolve(result: Outcome | BaseException) -> None:
            box.append(result)
            done.set()

        self._inbox.put((submission, resolve))
        done.wait()
        if isinstance(box[0], BaseException):
            raise box[0]
        return box[0]

    # -- the writer thread ---------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._check_depth(force=True)
        except Exception:
            log.exception("queue depth check failed")
        stopping = False
        while not stopping:
            try:
                first = self._inbox.get(timeout=FULL_RECHECK_INTERVAL if self.full else None)
            except stdqueue.Empty:
                try:
                    self._check_depth()
                except Exception:
                    log.exception("queue depth check failed")
                continue
            if first is None:
                break
            batch = [first]
            if self.window:
                time.sleep(self.window)
            while True:
                try:
                    entry = self._inbox.get_nowait()
                except stdqueue.Empty:
                    break
                if entry is None:
                    stopping = True
                    break
                batch.append(entry)
            self._commit(batch)
        self._close_db()
        connections[queue_alias()].close()

    def _commit(
        self, batch: list[tuple[Submission, Callable[[Outcome | BaseException], None]]]
    ) -> None:
        try:
            outcomes = self._write([s for s, _ in batch])
        except Exception as exc:
            log.exception("queue commit failed for %d envelopes", len(batch))
            self._close_db()
            error = QueueUnavailable(str(exc))
            for _, resolve in batch:
                _answer(resolve, error)
            return
        self.commits += 1
        for (_, resolve), outcome in zip(batch, outcomes, strict=True):
            _answer(resolve, outcome)
        try:
            self._check_depth()
        except Exception:
            log.exception("queue depth check failed")

    def _write(self, submissions: list[Submission]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        rows = []
        now = time.time()
        db = self._db()
        with db.transaction() as cursor:
            for sub in submissions:
                body: bytes | None = sub.body
                encoding = sub.content_encoding
                limited_for = None
                if sub.rate_limit is not None:
                    limit = sub.rate_limit
                    window_start = int(now // limit.window) * limit.window
                    cursor.execute(db.sql(_COUNT_RATE), (limit.key_id, window_start))
                    (count,) = cursor.fetchone()
                    if count > limit.count:
                        limited_for = max(1, math.ceil(window_start + limit.window - now))
                        body, encoding = sub.limited_body, ""
                if body is None:
                    outcomes.append(Outcome(queued=False, rate_limited_for=limited_for))
                    continue
                rows.append(
                    (
                        sub.project_id,
                        sub.key_id,
                        sub.received_at,
                        sub.event_id if limited_for is None else "",
                        sub.client_ip,
                        sub.user_agent,
                        encoding,
                        body,
                    )
                )
                outcomes.append(Outcome(queued=True, rate_limited_for=limited_for))
            if rows:
                cursor.executemany(db.sql(_INSERT), rows)
                cursor.execute(db.sql(_COUNT_ACCEPTED), (int(now // 60), len(rows), len(rows)))
        return outcomes

    def _check_depth(self, *, force: bool = False) -> None:
        """Estimate the depth from the id range of waiting rows: two index lookups, where a
        count would scan the queue (100 ms at 100,000 rows, on the path of every answer)."""
        now = time.monotonic()
        if not force and now - self._depth_checked_at < 1.0:
            return
        self._depth_checked_at = now
        cursor = self._db().raw.cursor()
        try:
            cursor.execute(_DEPTH_ESTIMATE)
            (depth,) = cursor.fetchone()
        finally:
            cursor.close()
        self.full = (depth or 0) >= self.max_depth

    def _db(self) -> QueueConnection:
        if self._connection is None or not self._connection.usable():
            self._connection = QueueConnection()
        return self._connection

    def _close_db(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class QueueConnection:
    """The writer thread's raw DB-API connection to the queue database.

    Django's transaction and cursor wrappers cost more than the insert itself at thousands
    of commits a second, so the writer uses the driver directly. On SQLite, writers in
    different processes first take a blocking file lock: the loser sleeps in the kernel and
    wakes the moment the lock is free, instead of polling in SQLite's busy handler (which
    sleeps up to 100 ms between tries).
    """

    def __init__(self) -> None:
        wrapper = connections[queue_alias()]
        wrapper.ensure_connection()
        self.wrapper = wrapper
        self.raw: Any = wrapper.connection
        self.is_sqlite = wrapper.vendor == "sqlite"
        self._lock_file: IO[bytes] | None = None
        if self.is_sqlite:
            path = str(wrapper.settings_dict["NAME"]) + ".writer-lock"
            self._lock_file = open(path, "ab")  # noqa: SIM115  (held for the thread's life)

    def usable(self) -> bool:
        return self.wrapper.connection is self.raw

    def sql(self, text: str) -> str:
        return text.replace("%s", "?") if self.is_sqlite else text

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        if not self.is_sqlite:
            with self.raw.transaction(), self.raw.cursor() as cursor:
                yield cursor
            return
        assert self._lock_file is not None
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            cursor = self.raw.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()
        self.wrapper.close()


def _answer(
    resolve: Callable[[Outcome | BaseException], None], result: Outcome | BaseException
) -> None:
    try:
        resolve(result)
    except Exception:
        # Its event loop is gone (closed before the commit): the answer has nowhere to go,
        # and the writer thread must live on for everyone else.
        log.warning("a queue submission could not be answered", exc_info=True)


def _settle(future: asyncio.Future[Outcome], result: Outcome | BaseException) -> None:
    if future.done():
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
