"""Issue alert filters, by Sentry's ids and parameters. They look at the event that made the
rule run (its columns; the stored body only for attributes the columns lack) and the issue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from spyglass.alerts.facts import Facts
from spyglass.issues.models import IssueAssignee

PREFIX = "sentry.rules.filters."
LEVEL = PREFIX + "level.LevelFilter"
TAGGED = PREFIX + "tagged_event.TaggedEventFilter"
ATTRIBUTE = PREFIX + "event_attribute.EventAttributeFilter"
AGE = PREFIX + "age_comparison.AgeComparisonFilter"
OCCURRENCES = PREFIX + "issue_occurrences.IssueOccurrencesFilter"
ASSIGNED = PREFIX + "assigned_to.AssignedToFilter"
LATEST_RELEASE = PREFIX + "latest_release.LatestReleaseFilter"
CATEGORY = PREFIX + "issue_category.IssueCategoryFilter"

LEVELS = {"fatal": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "sample": 0}
MATCHES = {
    "eq": "equals",
    "ne": "does not equal",
    "sw": "starts with",
    "ew": "ends with",
    "co": "contains",
    "nc": "does not contain",
    "is": "is set",
    "ns": "is not set",
    "in": "is in (comma separated)",
    "nin": "is not in (comma separated)",
}
ATTRIBUTES = (
    "message",
    "platform",
    "environment",
    "type",
    "transaction",
    "release",
    "exception.type",
    "exception.value",
    "error.handled",
    "error.unhandled",
    "user.id",
    "user.email",
    "user.username",
    "user.ip_address",
    "http.method",
    "http.url",
    "http.status_code",
    "sdk.name",
    "stacktrace.module",
    "stacktrace.filename",
    "stacktrace.abs_path",
    "stacktrace.package",
)
AGE_UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}
# Sentry's issue category numbers.
CATEGORIES = {"1": "error", "2": "performance", "4": "cron", "7": "uptime", "6": "feedback"}


@dataclass(frozen=True)
class Filter:
    id: str
    label: str
    test: Callable[[Facts, Mapping[str, Any]], bool]


def match_text(values: list[str], match: str, expected: str) -> bool:
    """Sentry's match operators over an attribute's values (case-insensitive, as Sentry)."""
    wanted = expected.lower()
    found = [v.lower() for v in values]
    if match == "is":
        return bool(found)
    if match == "ns":
        return not found
    if match in ("in", "nin"):
        listed = {w.strip() for w in wanted.split(",")}
        hit = any(v in listed for v in found)
        return hit if match == "in" else not hit
    tests: dict[str, Callable[[str], bool]] = {
        "eq": lambda v: v == wanted,
        "sw": lambda v: v.startswith(wanted),
        "ew": lambda v: v.endswith(wanted),
        "co": lambda v: wanted in v,
    }
    if match in tests:
        return any(tests[match](v) for v in found)
    negated = {"ne": "eq", "nc": "co"}.get(match)
    return negated is not None and not any(tests[negated](v) for v in found)


def _level(facts: Facts, params: Mapping[str, Any]) -> bool:
    ours = LEVELS.get(facts.event.level, 40)
    theirs = int(params.get("level", 40))
    match = params.get("match", "eq")
    if match == "gte":
        return ours >= theirs
    if match == "lte":
        return ours <= theirs
    return ours == theirs


def _tagged(facts: Facts, params: Mapping[str, Any]) -> bool:
    key = str(params.get("key", "")).lower()
    values = [v for k, v in facts.event.tags if k.lower() == key]
    return match_text(values, str(params.get("match", "eq")), str(params.get("value", "")))


def attribute_values(facts: Facts, name: str) -> list[str]:
    event = facts.event
    columns = {
        "message": event.message or event.title,
        "platform": event.platform,
        "environment": event.environment,
        "type": event.type,
        "transaction": event.transaction,
        "release": event.release,
        "sdk.name": event.sdk_name,
        "exception.type": str(event.metadata.get("type", "")),
        "exception.value": str(event.metadata.get("value", "")),
    }
    if name in columns:
        return [columns[name]] if columns[name] else []
    return _body_values(facts.body(), name)


def _body_values(body: Mapping[str, Any], name: str) -> list[str]:
    exceptions = [e for e in _values(body.get("exception")) if isinstance(e, dict)]
    if name.startswith("exception."):
        return [str(e[name[10:]]) for e in exceptions if e.get(name[10:])]
    if name in ("error.handled", "error.unhandled"):
        handled = [
            (e.get("mechanism") or {}).get("handled") is not False
            for e in exceptions
            if isinstance(e.get("mechanism") or {}, dict)
        ]
        unhandled = any(not h for h in handled)
        return [str(unhandled if name == "error.unhandled" else not unhandled).lower()]
    if name.startswith("user."):
        user = body.get("user") or {}
        value = user.get(name[5:]) if isinstance(user, dict) else None
        return [str(value)] if value not in (None, "") else []
    if name.startswith("http."):
        return _http_values(body, name[5:])
    if name.startswith("stacktrace."):
        key = name[11:]
        frames = []
        for e in exceptions:
            stacktrace = e.get("stacktrace") or {}
            if isinstance(stacktrace, dict):
                frames += [f for f in stacktrace.get("frames") or [] if isinstance(f, dict)]
        return [str(f[key]) for f in frames if f.get(key)]
    return []


def _http_values(body: Mapping[str, Any], key: str) -> list[str]:
    request = body.get("request") or {}
    contexts = body.get("contexts") or {}
    response = contexts.get("response") or {} if isinstance(contexts, dict) else {}
    if key == "status_code":
        value = response.get("status_code") if isinstance(response, dict) else None
    elif isinstance(request, dict):
        value = request.get({"method": "method", "url": "url"}.get(key, key))
    else:
        value = None
    return [str(value)] if value not in (None, "") else []


def _values(value: Any) -> list[Any]:
    if isinstance(value, dict):
        value = value.get("values")
    return value if isinstance(value, list) else []


def _attribute(facts: Facts, params: Mapping[str, Any]) -> bool:
    values = attribute_values(facts, str(params.get("attribute", "")))
    return match_text(values, str(params.get("match", "eq")), str(params.get("value", "")))


def _age(facts: Facts, params: Mapping[str, Any]) -> bool:
    seconds = int(params.get("value", 0)) * AGE_UNITS.get(str(params.get("time")), 60)
    cutoff = facts.now - timedelta(seconds=seconds)
    first_seen = facts.issue.first_seen
    # "older": first seen before the cutoff; "newer": after it.
    return first_seen < cutoff if params.get("comparison_type") == "older" else first_seen > cutoff


def _occurrences(facts: Facts, params: Mapping[str, Any]) -> bool:
    return facts.issue.times_seen >= int(params.get("value", 0))


def _assigned(facts: Facts, params: Mapping[str, Any]) -> bool:
    assignee = IssueAssignee.objects.filter(issue_id=facts.issue.pk).first()
    target = params.get("targetType", "Unassigned")
    if target == "Unassigned":
        return assignee is None
    if assignee is None:
        return False
    wanted = str(params.get("targetIdentifier", ""))
    if target == "Team":
        return str(assignee.team_id) == wanted
    return str(assignee.user_id) == wanted


def _latest_release(facts: Facts, params: Mapping[str, Any]) -> bool:
    from spyglass.issues.state import latest_release

    return bool(facts.event.release) and latest_release(facts.issue) == facts.event.release


def _category(facts: Facts, params: Mapping[str, Any]) -> bool:
    return CATEGORIES.get(str(params.get("value"))) == facts.issue.category


FILTERS: dict[str, Filter] = {
    f.id: f
    for f in (
        Filter(LEVEL, "The event's level is {match} {level}", _level),
        Filter(TAGGED, "The event's tag {key} {match} {value}", _tagged),
        Filter(ATTRIBUTE, "The event's {attribute} {match} {value}", _attribute),
        Filter(AGE, "The issue is {comparison_type} than {value} {time}", _age),
        Filter(OCCURRENCES, "The issue has happened at least {value} times", _occurrences),
        Filter(ASSIGNED, "The issue is assigned to {targetType} {targetIdentifier}", _assigned),
        Filter(LATEST_RELEASE, "The event is from the latest release", _latest_release),
        Filter(CATEGORY, "The issue's category is {value}", _category),
    )
}


def label(params: Mapping[str, Any]) -> str:
    found = FILTERS.get(str(params.get("id")))
    if found is None:
        return str(params.get("id"))
    shown = dict(params)
    if found.id == LEVEL:
        names = {str(v): k for k, v in LEVELS.items()}
        shown["level"] = names.get(str(params.get("level")), params.get("level"))
        shown["match"] = {"eq": "equal to", "gte": "at least", "lte": "at most"}.get(
            str(params.get("match")), params.get("match")
        )
    elif "match" in shown:
        shown["match"] = MATCHES.get(str(shown["match"]), shown["match"])
    if found.id == CATEGORY:
        shown["value"] = CATEGORIES.get(str(params.get("value")), params.get("value"))
    return found.label.format_map(_Defaulting(shown)).replace("  ", " ").strip()


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def passes(facts: Facts, params: Mapping[str, Any]) -> bool:
    found = FILTERS.get(str(params.get("id")))
    return found is not None and found.test(facts, params)
