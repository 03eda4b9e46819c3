"""The digest of one batch of queued envelopes.

Everything that costs CPU (decompressing, parsing, normalizing, scrubbing, grouping) runs
before the write transaction; then one short transaction stores the batch: events and their
issues first, then every other item type, then the outcome counts. Hooks run after commit.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from spyglass.core.models import claim
from spyglass.digest import counters, hooks
from spyglass.digest.config import ProjectConfig, project_configs
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.events import (
    category_of,
    normalize_item,
    prepare_transaction,
    process_event,
)
from spyglass.digest.items import HANDLERS, count_only
from spyglass.digest.items_performance import prepare_transactions, store_transactions
from spyglass.digest.normalize import Normalized
from spyglass.digest.security import security_event
from spyglass.digest.store import StoreResult, store_events
from spyglass.digest.types import ProcessedEvent
from spyglass.protocol.envelope import Envelope, parse_envelope
from spyglass.protocol.errors import IngestError
from spyglass.queue.consumer import QueuedItem

log = logging.getLogger(__name__)

EVENT_TYPES = ("event",)
# The ledger's item type for the outcomes of a queue row's filtered and invalid items.
OUTCOMES_LEDGER = "outcomes"
SECURITY_TYPES = ("raw_security", "security")


def process_batch(queued: Sequence[QueuedItem]) -> StoreResult:
    now = timezone.now()
    batch = BatchContext(now, ledger_outcomes=True)
    configs = project_configs(q.project_id for q in queued)
    work: list[_Work] = []
    others: dict[str, list[ItemContext]] = defaultdict(list)
    for entry in queued:
        config = configs.get(entry.project_id)
        if config is None:
            continue  # the project was deleted since: its data goes with it
        envelope = _open(entry, batch)
        if envelope is None:
            continue
        for item in envelope.items:
            ctx = _context(entry, config, envelope, item.headers, item.payload)
            _sort_item(ctx, item.type, config, batch, work, others)
    events: list[ProcessedEvent] = []
    for (ctx, kind, config, _payload), normalized in zip(work, _normalized(work), strict=True):
        if kind == "transaction":
            prepared = prepare_transaction(ctx, config, batch, normalized)
            if prepared is not None:
                others[kind].append(prepared)
            continue
        processed = process_event(ctx, config, batch, normalized)
        if processed is not None:
            events.append(processed)
    # Transactions' rows and spans are built before the writer's turn: they are most of the
    # CPU their handler spends.
    transactions = prepare_transactions(batch, others.pop("transaction", []))
    with _writer_turn(), transaction.atomic():
        result = store_events(events, now)
        for issue_id, event in result.events:
            batch.event_issues[(event.project_id, event.event_id)] = issue_id
            batch.outcomes.add(event.project_id, category_of(event.type), "accepted")
        store_transactions(batch, transactions)
        for item_type, contexts in others.items():
            HANDLERS.get(item_type, count_only)(batch, contexts)
        _count_held_outcomes(batch)
        counters.write_outcomes(batch.outcomes, now)
        result.transactions = batch.transactions
        transaction.on_commit(lambda: hooks.run(result))
    return result


def _count_held_outcomes(batch: BatchContext) -> None:
    """The filtered and invalid items' outcomes, of the queue rows the ledger has not seen
    counted (in the batch's transaction: a redelivered batch finds them recorded)."""
    held = batch.held_outcomes
    if not held:
        return
    fresh = claim((queue_id, OUTCOMES_LEDGER, at) for queue_id, (at, _) in held.items())
    for queue_id, (_at, counts) in held.items():
        if (queue_id, OUTCOMES_LEDGER) in fresh:
            batch.outcomes.merge(counts)
    held.clear()


@contextlib.contextmanager
def _writer_turn() -> Iterator[None]:
    """SQLite: digest workers take turns at the single writer through a file lock, which the
    kernel hands over the moment it is released; waiting in SQLite's busy handler instead
    sleeps in steps of up to 100 ms, most of it after the lock is free."""
    if connection.vendor != "sqlite":
        yield
        return
    with open(settings.DATA_DIR / "digest.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# An item to normalize: (context, "event" or "transaction", its project's config, the payload
# when it is not the item's own: a security report turned into an event).
_Work = tuple[ItemContext, str, ProjectConfig, bytes | None]


def _sort_item(
    ctx: ItemContext,
    item_type: str,
    config: ProjectConfig,
    batch: BatchContext,
    work: list[_Work],
    others: dict[str, list[ItemContext]],
) -> None:
    """Events and transactions go to normalization, every other item to its handler."""
    if item_type in EVENT_TYPES or item_type == "transaction":
        work.append((ctx, item_type, config, None))
    elif item_type in SECURITY_TYPES:
        payload = security_event(ctx.payload, ctx.item_headers, ctx.event_id, ctx.user_agent)
        if payload is None:
            batch.count_item_once(ctx, "security", "invalid", "invalid_report")
        else:
            work.append((ctx, "event", config, payload))
    else:
        others[item_type].append(ctx)


def _normalized(work: list[_Work]) -> Iterator[Normalized]:
    """Relay's normalization of each item, in order. (Running it on threads was measured: the
    binding gains ≈ 7 % wall time with two threads for 50 % more CPU, so it runs here.)"""
    return (normalize_item(ctx, payload) for ctx, _kind, _config, payload in work)


def _open(entry: QueuedItem, batch: BatchContext) -> Envelope | None:
    try:
        return parse_envelope(entry.envelope_bytes())
    except IngestError as exc:
        # The edge checked it, so this is damage at rest or a version skew: count, don't retry.
        log.warning("queued envelope %s is unreadable: %s", entry.id, exc.detail)
        batch.count_once(
            entry.project_id, entry.id, entry.received_at, "default", "invalid", "invalid_envelope"
        )
        return None


def _context(
    entry: QueuedItem,
    config: ProjectConfig,
    envelope: Envelope,
    item_headers: dict[str, object],
    payload: bytes,
) -> ItemContext:
    return ItemContext(
        project_id=entry.project_id,
        organization_id=config.organization_id,
        event_id=envelope.event_id or entry.event_id,
        envelope_headers=envelope.headers,
        item_headers=item_headers,
        payload=payload,
        received_at=datetime.fromtimestamp(entry.received_at, tz=UTC),
        client_ip=entry.client_ip,
        user_agent=entry.user_agent,
        queue_id=entry.id,
    )
