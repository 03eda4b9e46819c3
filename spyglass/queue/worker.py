"""The worker loop: claim a batch, hand it to the digest, ack it; stop cleanly on request."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Sequence

from django.db import DatabaseError, close_old_connections

from spyglass.queue.consumer import Consumer, QueuedItem

log = logging.getLogger(__name__)

# The digest pipeline's entry point: takes a batch, returns when every item is stored.
DIGEST_ENTRY_POINT = "spyglass.digest.batch:process_batch"
# Envelopes per claim. Much of a batch's work is per issue and per tag value (counts, tag
# rows), so bigger batches share it: in the digest benchmark 200 took ≈ 10 % less CPU per
# envelope than 100, for ≈ 9 MB more at the peak (docs/benchmarks.md).
BATCH_SIZE = 200

Handler = Callable[[Sequence[QueuedItem]], None]


def load_digest_handler() -> Handler | None:
    module_name, _, attr = DIGEST_ENTRY_POINT.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            return None  # an install without the digest: nothing to run
        raise
    handler: Handler = getattr(module, attr)
    return handler


def run_once(consumer: Consumer, handler: Handler, batch_size: int) -> int:
    """Process one batch; return how many envelopes it held."""
    batch = consumer.claim(batch_size)
    if not batch:
        return 0
    try:
        handler(batch)
    except Exception as exc:
        if len(batch) == 1:
            log.exception("digest failed for envelope %d", batch[0].id)
            consumer.release([batch[0].id], error=repr(exc), retry_in=5.0)
            return 1
        # One bad envelope must not hold back (and, after max attempts, set aside) the rest
        # of its batch: digest them one by one, and only the failing ones wait for a retry.
        log.warning("digest failed for a batch of %d envelopes (%r): one by one", len(batch), exc)
        for item in batch:
            _run_alone(consumer, handler, item)
        return len(batch)
    consumer.ack([item.id for item in batch])
    return len(batch)


def _run_alone(consumer: Consumer, handler: Handler, item: QueuedItem) -> None:
    try:
        handler([item])
    except Exception as exc:
        log.exception("digest failed for envelope %d", item.id)
        consumer.release([item.id], error=repr(exc), retry_in=5.0)
    else:
        consumer.ack([item.id])


def run_worker(
    stop: threading.Event,
    handler: Handler | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    idle_sleep: float = 0.2,
    consumer: Consumer | None = None,
) -> None:
    handler = handler or load_digest_handler()
    if handler is None:
        log.warning("the digest is not installed: envelopes stay queued")
        stop.wait()
        return
    consumer = consumer or Consumer()
    log.info("worker %s started", consumer.worker_id)
    while not stop.is_set():
        close_old_connections()
        try:
            done = run_once(consumer, handler, batch_size)
        except DatabaseError as exc:
            # The queue's lock stayed taken past its timeout (on SQLite, ingest at full speed
            # can hold it that long) or the database went away for a moment: the leased rows
            # come back when their lease ends; the worker tries again instead of ending.
            log.warning("worker %s: %s; trying again", consumer.worker_id, exc)
            stop.wait(idle_sleep)
            continue
        if done == 0:
            stop.wait(idle_sleep)
    log.info("worker %s stopped", consumer.worker_id)
