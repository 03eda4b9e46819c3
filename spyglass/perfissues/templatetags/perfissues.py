"""The span evidence of a performance issue, for the issue page (one include there)."""

from __future__ import annotations

from typing import Any

from django import template

from spyglass.issues.models import Category, Issue
from spyglass.perfissues.models import Occurrence
from spyglass.perfissues.occurrences import occurrence_context
from spyglass.performance.models import Transaction
from spyglass.search import Filter, Key, Op, TextValue, render

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
    transaction = shown["transaction"] if shown else None
    return {
        "organization": context.get("organization"),
        "project": context.get("project"),
        "issue": issue,
        "occurrence": occurrence,
        "transaction": transaction,
        "tags": transaction_tags(transaction) if transaction is not None else [],
        "nav": shown["nav"] if shown else {},
        "evidence": evidence,
        "spans": spans,
        "offending_ms": offending,
        "share": share,
    }


# The transaction's own fields shown as tags (as Sentry's event page does), by their search key.
_FIELD_TAGS = (
    ("environment", "environment"),
    ("release", "release"),
    ("transaction", "name"),
    ("transaction.op", "op"),
    ("transaction.status", "status"),
    ("http.method", "http_method"),
    ("http.status_code", "http_status_code"),
)


def transaction_tags(transaction: Transaction) -> list[tuple[str, str, str]]:
    """(key, value, the transaction search for exactly that value) of the transaction's
    fields and the tags it was sent with, for the occurrence's tags."""
    found: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for key, attribute in _FIELD_TAGS:
        value = getattr(transaction, attribute)
        if value not in (None, ""):
            found.append((key, str(value), _search(key, str(value), tag=False)))
            seen.add(key)
    for pair in transaction.tags if isinstance(transaction.tags, list) else ():
        if isinstance(pair, list | tuple) and len(pair) == 2 and str(pair[0]) not in seen:
            key, value = str(pair[0]), str(pair[1])
            found.append((key, value, _search(key, value, tag=True)))
    return found


def _search(key: str, value: str, *, tag: bool) -> str:
    """The search language's own rendering: keys as ``tags[…]`` when they need it, values
    quoted and escaped when they need it."""
    return render(Filter(Key(key, tag=tag), Op.EQ, (TextValue.literal(value),)))
