"""The durable queue between the ingest edge and the digest workers.

The hot paths (ingest's group commit, the workers' claims) use plain SQL in
``spyglass.queue.backend``; these models give Django the schema, migrations and admin.
"""

from __future__ import annotations

from django.db import models


class QueuedEnvelope(models.Model):
    """One accepted envelope, waiting for the digest."""

    project_id = models.BigIntegerField()
    key_id = models.BigIntegerField()
    # Unix seconds: plain floats keep the raw SQL identical on SQLite and PostgreSQL.
    received_at = models.FloatField()
    event_id = models.CharField(max_length=32, blank=True)
    client_ip = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    # The body as the client compressed it ("", "gzip", "deflate", "br" or "zstd").
    content_encoding = models.CharField(max_length=16, blank=True)
    body = models.BinaryField()
    claimed_until = models.FloatField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    failed_at = models.FloatField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        db_table = "spyglass_queue"

    def __str__(self) -> str:
        return f"envelope {self.pk} for project {self.project_id}"


class QueueStat(models.Model):
    """Per-minute counts of accepted and digested envelopes, for `queue stats` and metrics."""

    minute = models.BigIntegerField(primary_key=True)  # unix seconds // 60
    accepted = models.BigIntegerField(default=0)
    done = models.BigIntegerField(default=0)

    class Meta:
        db_table = "spyglass_queue_stat"

    def __str__(self) -> str:
        return f"minute {self.minute}: +{self.accepted} -{self.done}"


class RateCounter(models.Model):
    """Events counted per DSN key and window, shared by every ingest process."""

    key_id = models.BigIntegerField()
    window_start = models.BigIntegerField()  # unix seconds
    count = models.BigIntegerField(default=0)

    class Meta:
        db_table = "spyglass_rate_counter"
        constraints = [
            models.UniqueConstraint(fields=["key_id", "window_start"], name="rate_counter_unique")
        ]

    def __str__(self) -> str:
        return f"key {self.key_id} @ {self.window_start}: {self.count}"
