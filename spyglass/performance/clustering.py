"""Transaction names from URLs, clustered as Sentry does.

SDKs without a router integration name transactions by the URL path (source ``url``):
``/users/123``, ``/users/456``… Identifier-looking segments are scrubbed at ingest (Relay does
it for classic transactions, ``scrub`` here for span v2 segments, which Relay's normalizer does
not see), and the source becomes ``sanitized``. What remains high-cardinality is found by
``discover``, run hourly by the scheduler: per project, the names seen in the last 24 hours go
into a tree of path segments; a segment with more than 200 distinct children has them merged,
and each merged segment makes a rule (``/users/*/**``). The digest renames matching
transactions with the project's rules (``rename_event``, ``rename_segment``); a rule unused for
90 days is dropped. See docs/performance.md, "Transaction names".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from spyglass.performance.models import TransactionNameRule, TransactionNameSample

# Sentry's clusterer: a path level with more than this many distinct children is merged.
MERGE_THRESHOLD = 200
# Rules expire when unused for this long (Sentry's 90 days).
RULE_TTL = timedelta(days=90)
# Names feed discovery for this long (Sentry keeps its per-project sample set for 24 hours)…
SAMPLE_TTL = timedelta(hours=24)
# …and at most this many per project (Sentry's sample set holds 2000 names).
MAX_SAMPLES = 2000
# Ours: a project keeps at most this many rules, the most recently used.
MAX_RULES = 50
# How long a digest process trusts its copy of a project's rules: the setting
# TRANSACTION_NAME_RULES_REFRESH (SPYGLASS_TRANSACTION_NAME_RULES_REFRESH_SECONDS, 60 s).
# A process writes a sample's last sighting, or a rule's last use, at most this often.
TOUCH_EVERY_SECONDS = 3600.0

# Sources whose names are URLs: Relay turns ``url`` into ``sanitized`` once it has looked.
URL_SOURCES = frozenset({"url", "sanitized"})
SOURCE_ATTRIBUTES = ("sentry.segment.name.source", "sentry.span.source", "sentry.source")

# Relay's scrubbing of identifiers in URL transaction names: a path segment with two digits
# in a row, a UUID, a 32- or 40-digit hex string, or a 0x number becomes ``*``.
_IDENTIFIER = re.compile(
    r"[^/\\]*(?:\d{2,}"
    r"|\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
    r"|\b[0-9a-fA-F]{40}\b|\b[0-9a-fA-F]{32}\b|\b0[xX][0-9a-fA-F]+\b)[^/\\]*",
    re.ASCII,
)


def scrub(name: str) -> str:
    """``name`` with its identifier-looking path segments replaced by ``*``."""
    return _IDENTIFIER.sub("*", name)


# -- rules ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    pattern: str  # "/users/*/**"
    parts: tuple[str, ...]  # ("", "users", "*"): the segments before the final "**"

    @classmethod
    def of(cls, pattern: str) -> Rule:
        head = pattern[:-3] if pattern.endswith("/**") else pattern
        return cls(pattern, tuple(head.split("/")))

    def apply(self, name: str) -> str | None:
        """``name`` with this rule's ``*`` segments replaced (the rest kept), or None when it
        does not match. ``/users/*/**`` matches ``/users/7`` as well as ``/users/7/edit``."""
        return self.apply_to(name.split("/"))

    def apply_to(self, segments: list[str]) -> str | None:
        if len(segments) < len(self.parts):
            return None
        for part, segment in zip(self.parts, segments, strict=False):
            if part != "*" and part != segment:
                return None
        renamed = list(segments)
        for index, part in enumerate(self.parts):
            if part == "*":
                renamed[index] = "*"
        return "/".join(renamed)


def _ordered(patterns: Iterable[str]) -> tuple[Rule, ...]:
    """The first matching rule wins: the most specific (most segments) first."""
    rules = [Rule.of(p) for p in patterns]
    return tuple(sorted(rules, key=lambda r: (-len(r.parts), r.pattern)))


@dataclass(frozen=True)
class RuleSet:
    """A project's rules, by what a name starts with (its prefix and first path segment), so
    a name is tried against the few rules that can match it, most specific first."""

    rules: tuple[Rule, ...] = ()
    by_head: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    by_prefix: dict[str, tuple[Rule, ...]] = field(default_factory=dict)  # first segment *

    @classmethod
    def of(cls, patterns: Iterable[str]) -> RuleSet:
        rules = tuple(r for r in _ordered(patterns) if len(r.parts) > 1)
        heads = {(r.parts[0], r.parts[1]) for r in rules if r.parts[1] != "*"}
        by_head = {
            head: tuple(r for r in rules if r.parts[0] == head[0] and r.parts[1] in (head[1], "*"))
            for head in heads
        }
        by_prefix: dict[str, tuple[Rule, ...]] = {}
        for rule in rules:
            if rule.parts[1] == "*":
                by_prefix[rule.parts[0]] = (*by_prefix.get(rule.parts[0], ()), rule)
        return cls(rules, by_head, by_prefix)

    def rename(self, name: str) -> tuple[str, Rule] | None:
        """``name`` renamed by the first rule that matches, and that rule; None if none does."""
        segments = name.split("/")
        if len(segments) < 2:
            return None
        head = (segments[0], segments[1])
        for rule in self.by_head.get(head) or self.by_prefix.get(head[0], ()):
            renamed = rule.apply_to(segments)
            if renamed is not None:
                return renamed, rule
        return None


_NO_RULES = RuleSet()


# -- discovery --------------------------------------------------------------------------------


@dataclass
class _Node:
    children: dict[str | None, _Node] = field(default_factory=dict)

    def absorb(self, other: _Node) -> None:
        for key, child in other.children.items():
            mine = self.children.get(key)
            if mine is None:
                self.children[key] = child
            else:
                mine.absorb(child)


def cluster(names: Iterable[str], threshold: int = MERGE_THRESHOLD) -> list[str]:
    """The rules for ``names``: a path level whose node has more than ``threshold`` distinct
    children has them merged into one (``*``); every merged node gives the rule of its path
    followed by ``/**``. What precedes the first ``/`` (empty, or a method as in
    ``GET /users/7``) is no path segment and never merged."""
    root = _Node()
    for name in names:
        node = root
        for segment in name.split("/"):
            node = node.children.setdefault(segment, _Node())
    patterns: set[str] = set()
    for prefix in root.children.values():
        _merge(prefix, threshold)
    for key, prefix in root.children.items():
        _collect(prefix, [key or ""], patterns)
    return [r.pattern for r in _ordered(patterns)]


def _merge(node: _Node, threshold: int) -> None:
    if len(node.children) > threshold:
        merged = _Node()
        for child in node.children.values():
            merged.absorb(child)
        node.children = {None: merged}  # None: the merged child
    for child in node.children.values():
        _merge(child, threshold)


def _collect(node: _Node, path: list[str], patterns: set[str]) -> None:
    for key, child in node.children.items():
        here = [*path, "*" if key is None else key]
        if key is None:
            patterns.add("/".join(here) + "/**")
        _collect(child, here, patterns)


def discover(now: datetime | None = None) -> None:
    """Every project's rules from the names it sent lately (the scheduler runs this hourly):
    new rules are added, rediscovered ones count as used, expired ones and old samples go."""
    now = now or timezone.now()
    TransactionNameSample.objects.filter(last_seen__lt=now - SAMPLE_TTL).delete()
    TransactionNameRule.objects.filter(last_used__lt=now - RULE_TTL).delete()
    projects = TransactionNameSample.objects.values_list("project_id", flat=True).distinct()
    for project_id in sorted(set(projects)):
        discover_project(project_id, now)


def discover_project(project_id: int, now: datetime) -> list[str]:
    names = (
        TransactionNameSample.objects.filter(project_id=project_id)
        .order_by("-last_seen")
        .values_list("name", flat=True)[:MAX_SAMPLES]
    )
    patterns = cluster(names)
    if patterns:
        with transaction.atomic():
            known = set(
                TransactionNameRule.objects.filter(
                    project_id=project_id, pattern__in=patterns
                ).values_list("pattern", flat=True)
            )
            TransactionNameRule.objects.filter(project_id=project_id, pattern__in=known).update(
                last_used=now
            )
            TransactionNameRule.objects.bulk_create(
                TransactionNameRule(project_id=project_id, pattern=p, created_at=now, last_used=now)
                for p in patterns
                if p not in known
            )
            _keep_most_recent(project_id)
    forget(project_id)
    return patterns


def _keep_most_recent(project_id: int) -> None:
    rules = TransactionNameRule.objects.filter(project_id=project_id)
    extra = rules.order_by("-last_used", "pattern").values_list("id", flat=True)[MAX_RULES:]
    ids = list(extra)
    if ids:
        TransactionNameRule.objects.filter(id__in=ids).delete()


def rules_of(project_id: int) -> list[TransactionNameRule]:
    """A project's rules as the settings page lists them (expired ones left out)."""
    cutoff = timezone.now() - RULE_TTL
    rules = TransactionNameRule.objects.filter(project_id=project_id, last_used__gte=cutoff)
    return sorted(rules, key=lambda r: (-len(Rule.of(r.pattern).parts), r.pattern))


def delete_rule(project_id: int, rule_id: int) -> bool:
    deleted, _ = TransactionNameRule.objects.filter(project_id=project_id, id=rule_id).delete()
    forget(project_id)
    return deleted > 0


# -- the digest's side ------------------------------------------------------------------------

# Per process: each project's rules (ordered) and when to load them again; the names and rule
# uses seen since the last write, and when each was written last.
_rules: dict[int, tuple[float, RuleSet]] = {}
_seen: dict[int, dict[str, None]] = {}
_used: dict[int, dict[str, None]] = {}
_touched: dict[tuple[int, str, str], float] = {}
_budget: dict[int, tuple[int, int]] = {}  # project -> (hour, samples written in that hour)


def forget(project_id: int | None = None) -> None:
    """Drop this process's copy of a project's rules (of every project: None)."""
    if project_id is None:
        _rules.clear()
        _seen.clear()
        _used.clear()
        _touched.clear()
        _budget.clear()
    else:
        _rules.pop(project_id, None)


def _project_rules(project_id: int) -> RuleSet:
    now = time.monotonic()
    cached = _rules.get(project_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    cutoff = timezone.now() - RULE_TTL
    patterns = list(
        TransactionNameRule.objects.filter(
            project_id=project_id, last_used__gte=cutoff
        ).values_list("pattern", flat=True)
    )
    rules = RuleSet.of(patterns) if patterns else _NO_RULES
    _rules[project_id] = (now + settings.TRANSACTION_NAME_RULES_REFRESH, rules)
    return rules


def _renamed(project_id: int, name: str, sample: bool = True) -> str:
    """``name`` renamed by the first of the project's rules that matches; noted as a sample
    for discovery (and the rule as used)."""
    rules = _project_rules(project_id)
    found = rules.rename(name) if rules.rules else None
    if found is not None:
        name, rule = found
        _used.setdefault(project_id, {})[rule.pattern] = None
    if sample:
        _seen.setdefault(project_id, {})[name] = None
    return name


def rename_event(project_id: int, event: dict[str, Any]) -> bool:
    """A classic transaction named by its URL (Relay scrubbed its identifiers already):
    renamed in place by the project's rules, its source ``sanitized``. True if renamed."""
    info = event.get("transaction_info")
    if not isinstance(info, dict) or info.get("source") not in URL_SOURCES:
        return False
    name = event.get("transaction")
    if not isinstance(name, str) or not name:
        return False
    # Not-found pages are not what the application serves: Sentry leaves them out of discovery.
    renamed = _renamed(project_id, name[:200], sample=not _is_404(event))
    if renamed == name:
        return False
    event["transaction"] = renamed
    event["transaction_info"] = {**info, "source": "sanitized"}
    return True


def _is_404(event: Mapping[str, Any]) -> bool:
    contexts = event.get("contexts")
    response = contexts.get("response") if isinstance(contexts, dict) else None
    if isinstance(response, dict) and response.get("status_code") in (404, "404"):
        return True
    tags = event.get("tags")
    pairs = tags.items() if isinstance(tags, dict) else tags if isinstance(tags, list) else ()
    return any(
        isinstance(p, list | tuple) and len(p) == 2 and tuple(p) == ("http.status_code", "404")
        for p in pairs
    )


def rename_segment(project_id: int, name: str, attrs: Mapping[str, Any]) -> str:
    """A span v2 segment's transaction name: scrubbed and renamed by the project's rules when
    its source attribute says it is a URL."""
    source = next((attrs[k] for k in SOURCE_ATTRIBUTES if k in attrs), None)
    if source not in URL_SOURCES:
        return name
    path = attrs.get("url.path")
    if name == attrs.get("http.request.method") and isinstance(path, str) and path:
        # @sentry/node streams a server span named by its method alone; its static lifecycle
        # (and so Sentry's pages) names the transaction "GET /path".
        name = f"{name} {path}"[:200]
    is_404 = attrs.get("http.response.status_code") in (404, "404")
    return _renamed(project_id, scrub(name), sample=not is_404)


def save_seen(now: datetime | None = None) -> None:
    """Write the names and rule uses noted since the last call (in the digest's write
    transaction): each at most once an hour per process, at most MAX_SAMPLES names per
    project and hour."""
    if not _seen and not _used:
        return
    seen, used = list(_seen.items()), list(_used.items())
    _seen.clear()
    _used.clear()
    now = now or timezone.now()
    clock = time.monotonic()
    samples: list[TransactionNameSample] = []
    for project_id, names in seen:
        fresh = [n for n in names if _due(project_id, "n", n, clock)]
        for name in _within_budget(project_id, fresh, clock):
            _touched[(project_id, "n", name)] = clock
            samples.append(TransactionNameSample(project_id=project_id, name=name, last_seen=now))
    if samples:
        TransactionNameSample.objects.bulk_create(
            samples,
            update_conflicts=True,
            unique_fields=["project", "name"],
            update_fields=["last_seen"],
        )
    for project_id, patterns in used:
        due = [p for p in patterns if _due(project_id, "r", p, clock)]
        for pattern in due:
            _touched[(project_id, "r", pattern)] = clock
        if due:
            TransactionNameRule.objects.filter(project_id=project_id, pattern__in=due).update(
                last_used=now
            )
    if len(_touched) > 100_000:
        _touched.clear()


def _due(project_id: int, kind: str, key: str, clock: float) -> bool:
    last = _touched.get((project_id, kind, key))
    return last is None or clock - last >= TOUCH_EVERY_SECONDS


def _within_budget(project_id: int, names: list[str], clock: float) -> list[str]:
    hour = int(clock // 3600)
    start, used = _budget.get(project_id, (hour, 0))
    if start != hour:
        used = 0
    allowed = names[: max(0, MAX_SAMPLES - used)]
    _budget[project_id] = (hour, used + len(allowed))
    return allowed
