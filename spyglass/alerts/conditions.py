"""Issue alert conditions ("triggers"), by Sentry's ids and parameters.

Frequency conditions read the issue's counters (``events.IssueCount``): the per-minute
buckets for windows up to an hour, the hourly ones beyond. Counts are strictly greater than
``value``; ``comparisonType: percent`` compares with the same window ``comparisonInterval``
earlier, as Sentry does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from spyglass.alerts.facts import Facts

PREFIX = "sentry.rules.conditions."
FIRST_SEEN = PREFIX + "first_seen_event.FirstSeenEventCondition"
REGRESSION = PREFIX + "regression_event.RegressionEventCondition"
REAPPEARED = PREFIX + "reappeared_event.ReappearedEventCondition"
EVERY_EVENT = PREFIX + "every_event.EveryEventCondition"
FREQUENCY = PREFIX + "event_frequency.EventFrequencyCondition"
USER_FREQUENCY = PREFIX + "event_frequency.EventUniqueUserFrequencyCondition"

INTERVALS = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "1w": timedelta(weeks=1),
    "30d": timedelta(days=30),
}
COMPARISON_INTERVALS = {k: v for k, v in INTERVALS.items() if k not in ("1m",)}


@dataclass(frozen=True)
class Condition:
    id: str
    label: str
    test: Callable[[Facts, Mapping[str, Any]], bool]
    params: tuple[str, ...] = ()


def _first_seen(facts: Facts, _: Mapping[str, Any]) -> bool:
    return facts.is_new


def _regression(facts: Facts, _: Mapping[str, Any]) -> bool:
    return "set_regression" in facts.state_changes


def _reappeared(facts: Facts, _: Mapping[str, Any]) -> bool:
    return bool({"set_escalating", "set_unresolved"} & facts.state_changes)


def _every_event(facts: Facts, _: Mapping[str, Any]) -> bool:
    return True


def _frequency(facts: Facts, params: Mapping[str, Any]) -> bool:
    value, window = float(params["value"]), INTERVALS[str(params["interval"])]
    current = facts.events_within(window)
    if params.get("comparisonType") == "percent":
        shift = COMPARISON_INTERVALS[str(params.get("comparisonInterval") or "1d")]
        previous = facts.events_within(window, shift)
        return previous > 0 and max(0.0, (current - previous) / previous * 100) > value
    return current > value


def _user_frequency(facts: Facts, params: Mapping[str, Any]) -> bool:
    return facts.users_within(INTERVALS[str(params["interval"])]) > float(params["value"])


CONDITIONS: dict[str, Condition] = {
    c.id: c
    for c in (
        Condition(FIRST_SEEN, "A new issue is created", _first_seen),
        Condition(REGRESSION, "The issue changes state from resolved to unresolved", _regression),
        Condition(REAPPEARED, "The issue changes state from archived to escalating", _reappeared),
        Condition(EVERY_EVENT, "An event is seen", _every_event),
        Condition(
            FREQUENCY,
            "The issue is seen more than {value} times in {interval}",
            _frequency,
            ("value", "interval", "comparisonType", "comparisonInterval"),
        ),
        Condition(
            USER_FREQUENCY,
            "The issue is seen by more than {value} users in {interval}",
            _user_frequency,
            ("value", "interval"),
        ),
    )
}


def label(params: Mapping[str, Any]) -> str:
    condition = CONDITIONS.get(str(params.get("id")))
    if condition is None:
        return str(params.get("id"))
    text = condition.label.format_map(_Defaulting(params))
    if params.get("comparisonType") == "percent":
        text = (
            f"The issue's events in {params.get('interval')} grow by more than "
            f"{params.get('value')}% compared with {params.get('comparisonInterval')} before"
        )
    return text


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def passes(facts: Facts, params: Mapping[str, Any]) -> bool:
    condition = CONDITIONS.get(str(params.get("id")))
    return condition is not None and condition.test(facts, params)
