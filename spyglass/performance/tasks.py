"""Retention of performance data, run by the scheduler: raw transactions and spans after
SPYGLASS_RETENTION_TRANSACTIONS_DAYS / _SPANS_DAYS, minute rollups after
SPYGLASS_RETENTION_MINUTE_ROLLUPS_DAYS and hour, day and week rollups after
SPYGLASS_RETENTION_ROLLUPS_DAYS (a week row once its whole week is older).
Performance issues' occurrences go with the transactions (their evidence links to them); the
issues themselves stay, as error issues outlive their events.

Deletes go in small chunks, each its own short transaction, so the digest (SQLite's single
writer) never waits long; a run stops after MAX_CHUNKS chunks and the next run goes on."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from spyglass.perfissues.models import Occurrence
from spyglass.performance.models import Span, Transaction, TransactionRollup
from spyglass.performance.rollup_store import DAY, HOUR, MINUTE, WEEK
from spyglass.projects.models import Project

log = logging.getLogger(__name__)

CHUNK = 1000
MAX_CHUNKS = 200  # per run: at most 200,000 rows of each kind


@dataclass
class Pruned:
    transactions: int = 0
    spans: int = 0
    minute_rollups: int = 0
    hour_rollups: int = 0  # hour, day and week rows
    occurrences: int = 0


def prune_performance(now: datetime | None = None, *, chunk: int = CHUNK) -> Pruned:
    now = now or timezone.now()
    pruned = Pruned()
    budget = [MAX_CHUNKS]
    days = timedelta(days=1)
    for project_id in Project.objects.values_list("id", flat=True).order_by("id"):
        tx_cutoff = now - settings.RETENTION_TRANSACTIONS_DAYS * days
        span_cutoff = now - settings.RETENTION_SPANS_DAYS * days
        minute_cutoff = int((now - settings.RETENTION_MINUTE_ROLLUPS_DAYS * days).timestamp())
        hour_cutoff = int((now - settings.RETENTION_ROLLUPS_DAYS * days).timestamp())
        pruned.transactions += _delete(
            Transaction.objects.filter(project_id=project_id, start__lt=tx_cutoff), chunk, budget
        )
        pruned.occurrences += _delete(
            Occurrence.objects.filter(project_id=project_id, timestamp__lt=tx_cutoff),
            chunk,
            budget,
        )
        pruned.spans += _delete(
            Span.objects.filter(project_id=project_id, start__lt=span_cutoff), chunk, budget
        )
        rollups = TransactionRollup.objects.filter(project_id=project_id)
        pruned.minute_rollups += _delete(
            rollups.filter(resolution=MINUTE, bucket__lt=minute_cutoff), chunk, budget
        )
        for resolution in (HOUR, DAY):
            pruned.hour_rollups += _delete(
                rollups.filter(resolution=resolution, bucket__lt=hour_cutoff), chunk, budget
            )
        pruned.hour_rollups += _delete(
            rollups.filter(resolution=WEEK, bucket__lte=hour_cutoff - WEEK), chunk, budget
        )
    if any(vars(pruned).values()):
        log.info("pruned performance data: %s", pruned)
    return pruned


def _delete(rows: models.QuerySet[Any], chunk: int, budget: list[int]) -> int:
    deleted = 0
    while budget[0] > 0:
        ids = list(rows.values_list("id", flat=True)[:chunk])
        if not ids:
            break
        budget[0] -= 1
        with transaction.atomic():
            # A raw delete: no cascades to collect (nothing points at these rows).
            count = rows.model.objects.filter(id__in=ids)._raw_delete(rows.db)
        deleted += count
    return deleted
