"""Attachments: files sent with an event (or after it, with its id), written under
``DATA_DIR/attachments/`` and linked to the event's issue. Those of an event an inbound
filter dropped go with it."""

from __future__ import annotations

from spyglass.attachments.models import AttachmentFile, store_for_event
from spyglass.digest.context import BatchContext, ItemContext
from spyglass.digest.items_common import hex_id, issues_of, text

# The reason of the ``filtered`` outcome of an attachment whose event was filtered.
FILTERED_EVENT = "filtered_event"


def handle_attachments(batch: BatchContext, items: list[ItemContext]) -> None:
    by_event: dict[tuple[int, str], list[AttachmentFile]] = {}
    for ctx in items:
        event_id = hex_id(ctx.event_id, 32)
        if not event_id:  # nothing to attach it to
            batch.outcomes.add(ctx.project_id, "attachment", "invalid", "missing_event_id")
            continue
        if (ctx.project_id, event_id) in batch.filtered_events:
            _count(batch, ctx.project_id, len(ctx.payload), "filtered", FILTERED_EVENT)
            continue  # never written
        headers = ctx.item_headers
        by_event.setdefault((ctx.project_id, event_id), []).append(
            AttachmentFile(
                name=text(headers.get("filename"), 255) or "attachment",
                content_type=text(headers.get("content_type"), 128),
                attachment_type=text(headers.get("attachment_type"), 64) or "event.attachment",
                data=ctx.payload,
            )
        )
    issues = issues_of(batch, by_event)
    for (project_id, event_id), files in by_event.items():
        stored = store_for_event(project_id, event_id, issues.get((project_id, event_id)), files)
        for row in stored:
            _count(batch, project_id, row.size, "accepted")


def _count(batch: BatchContext, project_id: int, size: int, outcome: str, reason: str = "") -> None:
    # Sentry counts attachments in bytes, and items separately.
    if size:
        batch.outcomes.add(project_id, "attachment", outcome, reason, quantity=size)
    batch.outcomes.add(project_id, "attachment_item", outcome, reason)
