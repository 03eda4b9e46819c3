"""Alert history past its retention: issue alert fires and metric rule values older than
``HISTORY_DAYS`` are deleted by the scheduler, in small chunks.

Each rule's rows are deleted through the (rule, time) indexes, ``CHUNK`` rows a statement,
so no statement holds the database long (SQLite has one writer) and the work scales with
what expires, not with what is kept. Incidents and their timelines are kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from spyglass.alerts.models import MetricRule, MetricValue, Rule, RuleFire

HISTORY_DAYS = 90
CHUNK = 1000


def _delete_in_chunks(rows: QuerySet[Any]) -> int:
    deleted = 0
    while True:
        ids = list(rows.values_list("pk", flat=True)[:CHUNK])
        if not ids:
            return deleted
        # Nothing points at these rows: Django deletes them in one statement, no collecting.
        deleted += int(rows.model._default_manager.filter(pk__in=ids).delete()[0])
        if len(ids) < CHUNK:
            return deleted


def prune_history(now: datetime | None = None) -> tuple[int, int]:
    """Delete fires and metric values older than ``HISTORY_DAYS``: (fires, values)."""
    cutoff = (now or timezone.now()) - timedelta(days=HISTORY_DAYS)
    fires = values = 0
    for rule_id in Rule.objects.values_list("pk", flat=True).iterator():
        fires += _delete_in_chunks(RuleFire.objects.filter(rule_id=rule_id, fired_at__lt=cutoff))
    for rule_id in MetricRule.objects.values_list("pk", flat=True).iterator():
        values += _delete_in_chunks(MetricValue.objects.filter(rule_id=rule_id, at__lt=cutoff))
    return fires, values
