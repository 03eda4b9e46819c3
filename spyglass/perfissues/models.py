"""Performance issues: what each finding left as evidence, the per-project detector
settings, and the counters behind detectors that wait for repeated findings."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from spyglass.issues.models import Issue
from spyglass.perfissues.detectors import DETECTORS, Thresholds
from spyglass.projects.models import Project


class DetectorSettings(models.Model):
    """A project's choices: detectors turned off and thresholds changed from Sentry's
    defaults (whatever is absent is on, at the default)."""

    project = models.OneToOneField(
        Project, on_delete=models.CASCADE, primary_key=True, related_name="detector_settings"
    )
    disabled = models.JSONField(default=list)  # detector keys
    thresholds = models.JSONField(default=dict)  # {detector: {threshold name: value}}
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"detector settings of {self.project_id}"

    def effective(self) -> dict[str, Thresholds | None]:
        """Thresholds per detector, ``None`` for those turned off."""
        return effective_settings(self.disabled, self.thresholds)


def effective_settings(disabled: Any, overrides: Any) -> dict[str, Thresholds | None]:
    off = set(disabled) if isinstance(disabled, list) else set()
    changed = overrides if isinstance(overrides, dict) else {}
    result: dict[str, Thresholds | None] = {}
    for key, detector in DETECTORS.items():
        if key in off:
            result[key] = None
            continue
        values = detector.defaults()
        mine = changed.get(key)
        if isinstance(mine, dict):
            for name in values:
                value = mine.get(name)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values[name] = float(value)
        result[key] = values
    return result


class Occurrence(models.Model):
    """One finding of a performance issue in one transaction, with its evidence: the
    offending spans, their parent and the spans that caused them (an N+1's source query)."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="perf_occurrences")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    detector = models.CharField(max_length=40)
    transaction_event_id = models.CharField(max_length=32)
    transaction_name = models.CharField(max_length=200)
    trace_id = models.CharField(max_length=32, blank=True)
    timestamp = models.DateTimeField()
    duration_ms = models.FloatField()  # the transaction's
    user_key = models.CharField(max_length=200, blank=True)
    # {"value", "offenders": [span], "parent": span | None, "causes": [span]}
    evidence = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issue", "transaction_event_id"], name="perf_occurrence_unique"
            )
        ]
        indexes = [
            models.Index(fields=["issue", "timestamp"], name="perf_occurrence_issue"),
            models.Index(fields=["project", "transaction_event_id"], name="perf_occurrence_tx"),
            # Retention (spyglass.performance.tasks) deletes by project and age.
            models.Index(fields=["project", "timestamp"], name="perf_occurrence_age"),
        ]

    def __str__(self) -> str:
        return f"{self.detector} in {self.transaction_event_id}"

    @property
    def offending_ms(self) -> float:
        return float(sum(s.get("duration_ms", 0) for s in self.evidence.get("offenders", [])))


class PatternCount(models.Model):
    """Findings of one pattern within a day, for detectors that open an issue only once a
    pattern repeats (Sentry: a slow query seen in 100 transactions within 24 hours)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    fingerprint = models.CharField(max_length=64)
    count = models.PositiveIntegerField(default=0)
    window_start = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "fingerprint"], name="perf_pattern_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.fingerprint}: {self.count}"


class Redetection(models.Model):
    """A span v2 segment stored by an earlier batch whose child spans kept arriving: after
    the batch that brought them commits, the detectors look at the segment again with all
    its children (``hook.redetect_pending``). ``span_ids``: the children that batch brought
    (what the earlier detection did not see, so its patterns are not counted twice)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    trace_id = models.CharField(max_length=32)
    segment_id = models.CharField(max_length=16)
    span_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"re-detect {self.segment_id}"
