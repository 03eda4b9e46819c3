"""The span evidence of a performance issue, for the issue page (one include there)."""

from __future__ import annotations

from typing import Any

from django import template

from spyglass.issues.models import Category, Issue
from spyglass.perfissues.models import Occurrence
from spyglass.perfissues.occurrences import occurrence_context

register = template.Library()


@register.inclusion_tag("perfissues/evidence.html", takes_context=True)
def perf_evidence(
    context: template.Context, issue: Issue, shown: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An occurrence's transaction and evidence (its spans drawn to scale, causes first):
    ``shown`` is what ``occurrences.occurrence_context`` chose, else the latest."""
    if issue.category != Category.PERFORMANCE:
        return {"occurrence": None}
    if shown is None:
        shown = occurrence_context(issue, "")
    occurrence: Occurrence | None = shown["occurrence"] if shown else None
    if occurrence is None:
        return {"occurrence": None, "issue": issue}
    evidence = occurrence.evidence
    spans = [{**s, "cause": True} for s in evidence.get("causes", [])] + list(
        evidence.get("offenders", [])
    )
    starts = [float(s.get("start", 0)) for s in spans]
    ends = [float(s.get("start", 0)) + float(s.get("duration_ms", 0)) / 1000 for s in spans]
    begin = min(starts, default=0.0)
    total = max(max(ends, default=0.0) - begin, 1e-9)
    for span, start in zip(spans, starts, strict=True):
        span["left"] = (start - begin) / total * 100
        span["width"] = max(float(span.get("duration_ms", 0)) / 1000 / total * 100, 0.3)
    offending = occurrence.offending_ms
    share = round(offending * 100 / occurrence.duration_ms, 1) if occurrence.duration_ms else None
    return {
        "organization": context.get("organization"),
        "project": context.get("project"),
        "issue": issue,
        "occurrence": occurrence,
        "transaction": shown["transaction"] if shown else None,
        "nav": shown["nav"] if shown else {},
        "evidence": evidence,
        "spans": spans,
        "offending_ms": offending,
        "share": share,
    }
