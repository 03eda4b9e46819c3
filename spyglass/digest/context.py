"""The context every item handler of a batch receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spyglass.digest.types import OutcomeCounts


@dataclass
class ItemContext:
    """One envelope item on its way through the digest."""

    project_id: int
    organization_id: int
    event_id: str  # the envelope's event id (hex32) or ""
    envelope_headers: dict[str, Any]
    item_headers: dict[str, Any]
    payload: bytes
    received_at: datetime
    client_ip: str
    user_agent: str
    # The queue row the item came from (never reused), for handlers that must be idempotent
    # when a batch is redelivered after a crash between its commit and the queue's ack.
    queue_id: int = 0
    # The payload as a JSON object, when an earlier step parsed it already (a normalized and
    # scrubbed transaction): handlers use it instead of parsing ``payload`` again.
    parsed: dict[str, Any] | None = None


@dataclass
class BatchContext:
    now: datetime
    outcomes: OutcomeCounts = field(default_factory=OutcomeCounts)
    # Attachments wait for their event's issue: (project, event id) -> issue id, filled by the
    # event step before the attachment step runs.
    event_issues: dict[tuple[int, str], int] = field(default_factory=dict)
    # (project, event id) of the events an inbound filter dropped, so their attachments go too.
    filtered_events: set[tuple[int, str]] = field(default_factory=set)
    # Transactions stored by the batch, for the after-commit hooks (StoreResult.transactions).
    transactions: list[Any] = field(default_factory=list)
    # The queue's batch (not a handler's scratch context): outcomes that nothing stored
    # stands for (filtered and invalid items) are held per queue row and counted once
    # through the digest ledger, so a redelivered batch does not count them again.
    ledger_outcomes: bool = False
    # queue id -> (its received time, Unix seconds; the outcomes held for it)
    held_outcomes: dict[int, tuple[float, OutcomeCounts]] = field(default_factory=dict)

    def count_once(
        self,
        project_id: int,
        queue_id: int,
        received_at: float,
        category: str,
        outcome: str,
        reason: str = "",
        quantity: int = 1,
    ) -> None:
        """Count an outcome that no stored row stands for: once per queue row, however
        often the queue delivers it (see ``core.models`` for the ledger)."""
        if not self.ledger_outcomes or not queue_id:
            self.outcomes.add(project_id, category, outcome, reason, quantity)
            return
        held = self.held_outcomes.get(queue_id)
        if held is None:
            held = self.held_outcomes[queue_id] = (received_at, OutcomeCounts())
        held[1].add(project_id, category, outcome, reason, quantity)

    def count_item_once(
        self, ctx: ItemContext, category: str, outcome: str, reason: str = "", quantity: int = 1
    ) -> None:
        self.count_once(
            ctx.project_id,
            ctx.queue_id,
            ctx.received_at.timestamp(),
            category,
            outcome,
            reason,
            quantity,
        )
