"""The handlers of every envelope item that is not an error event, by item type.

Each handler receives every item of its type in a batch and stores them inside the batch's
open transaction, in bulk where it can (the item types have modules of their own:
``items_performance``, ``items_sessions``, ``items_checkins``, ``items_logs``,
``items_attachments``, ``items_feedback``; what they share is in ``items_common``). Input is
never trusted: an item that is not JSON or not the right shape is counted as an ``invalid``
outcome and skipped, never raised. Item types this server does not store are counted
(``count_only``) and dropped; a few are only counted here.

A batch may come twice (the queue delivers at least once). Transactions, spans and
attachments are stored once by their ids; every other handler is ``ledgered``: the digest
ledger (``core.models.LedgerEntry``) records which queue rows' items of that type it has
stored, in the same transaction, and a second delivery skips them.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from spyglass.core.models import claim
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_attachments import handle_attachments
from spyglass.digest.items_checkins import handle_checkins
from spyglass.digest.items_common import (
    Handler,
    Invalid,
    category,
    dict_of,
    parsed,
    quantity,
    text,
)
from spyglass.digest.items_feedback import handle_feedback, handle_user_reports
from spyglass.digest.items_logs import handle_logs
from spyglass.digest.items_performance import handle_spans, handle_transactions
from spyglass.digest.items_sessions import handle_session, handle_sessions


def ledgered(handler: Handler) -> Handler:
    """``handler`` for the items that the ledger has not seen stored: those of a queue row
    stored by an earlier delivery of its batch are skipped. (Items that come from no queue
    row, ``queue_id`` 0, are always handled.)"""

    @functools.wraps(handler)
    def handle(batch: BatchContext, items: list[ItemContext]) -> None:
        entries = {
            (ctx.queue_id, _item_type(ctx), ctx.received_at.timestamp())
            for ctx in items
            if ctx.queue_id
        }
        fresh = claim(entries) if entries else set()
        kept = [c for c in items if not c.queue_id or (c.queue_id, _item_type(c)) in fresh]
        if kept:
            handler(batch, kept)

    return handle


def _item_type(ctx: ItemContext) -> str:
    return text(ctx.item_headers.get("type"), 32) or "unknown"


# --- counted only -----------------------------------------------------------------------------


# Bounded names: a client report must not mint outcome rows of arbitrary text.
_CATEGORY_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
_REASON_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _discarded(ctx: ItemContext, payload: dict[str, Any]) -> list[tuple[str, str, int]]:
    entries = payload.get("discarded_events")
    if not isinstance(entries, list):
        raise Invalid("invalid_client_report")
    found = []
    for entry in entries[:100]:
        entry = dict_of(entry)
        kind, reason = entry.get("category"), entry.get("reason")
        amount = quantity(entry.get("quantity"))
        if (
            isinstance(kind, str)
            and isinstance(reason, str)
            and _CATEGORY_NAME.fullmatch(kind)
            and _REASON_NAME.fullmatch(reason)
            and amount
        ):
            found.append((kind, reason, amount))
    return found


def handle_client_reports(batch: BatchContext, items: list[ItemContext]) -> None:
    """What SDKs dropped themselves (sampling, before_send, rate-limit backoff, network
    errors): ``client_discard`` outcomes with the SDK's reason and category."""
    for ctx, discarded in parsed(batch, items, "client_report", _discarded):
        for kind, reason, amount in discarded:
            batch.outcomes.add(ctx.project_id, kind, "client_discard", reason, amount)


def _metric_count(ctx: ItemContext, payload: dict[str, Any]) -> int:
    entries = payload.get("items")
    if not isinstance(entries, list):
        raise Invalid("invalid_trace_metric")
    return len(entries)


def handle_trace_metrics(batch: BatchContext, items: list[ItemContext]) -> None:
    # Accepted and counted; nothing reads trace metrics yet, so nothing is stored.
    for ctx, n in parsed(batch, items, "trace_metric", _metric_count):
        if n:
            batch.outcomes.add(ctx.project_id, "trace_metric", "accepted", quantity=n)


_JSON_OBJECT = re.compile(rb"\s*\{")


def handle_profiles(batch: BatchContext, items: list[ItemContext]) -> None:
    # Profiles are out of scope for now: accepted and counted, not stored. Not parsed either
    # (they run to megabytes): only a glance that the payload is a JSON object.
    for ctx in items:
        if _JSON_OBJECT.match(ctx.payload):
            batch.outcomes.add(ctx.project_id, "profile", "accepted")
        else:
            batch.outcomes.add(ctx.project_id, "profile", "invalid", "invalid_json")


def _count_only(batch: BatchContext, items: list[ItemContext]) -> None:
    """Item types we do not store (replays, statsd and metric buckets, profile chunks, OTel
    logs, types we have never heard of): counted under their own name as ``filtered``
    (dropped on purpose, not the client's fault), never an error."""
    for ctx in items:
        item_type = text(ctx.item_headers.get("type"), 32) or "unknown"
        batch.outcomes.add(ctx.project_id, category(item_type), "filtered", "unsupported")


count_only = ledgered(_count_only)

HANDLERS: dict[str, Handler] = {
    "transaction": handle_transactions,
    "span": handle_spans,
    "attachment": handle_attachments,
    "session": ledgered(handle_session),
    "sessions": ledgered(handle_sessions),
    "check_in": ledgered(handle_checkins),
    "log": ledgered(handle_logs),
    "client_report": ledgered(handle_client_reports),
    "user_report": ledgered(handle_user_reports),
    "feedback": ledgered(handle_feedback),
    "profile": ledgered(handle_profiles),
    "trace_metric": ledgered(handle_trace_metrics),
    **{
        name: count_only
        for name in (
            "statsd",
            "metric_buckets",
            "replay_event",
            "replay_recording",
            "replay_video",
            "profile_chunk",
            "otel_log",
        )
    },
}
