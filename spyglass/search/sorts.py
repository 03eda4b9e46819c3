"""Issue stream sorts, by Sentry's names (the `sort=` parameter). Every sort is descending."""

from __future__ import annotations

from enum import StrEnum


class Sort(StrEnum):
    DATE = "date"  # last seen, newest first (Sentry's default)
    NEW = "new"  # first seen, newest first
    FREQ = "freq"  # times seen
    USER = "user"  # users affected
    PRIORITY = "priority"  # Sentry's legacy score: log(times seen) * 600 + last seen (epoch s)
    TRENDS = "trends"  # recent volume weighted over older volume

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    Sort.DATE: "Last seen",
    Sort.NEW: "First seen",
    Sort.FREQ: "Events",
    Sort.USER: "Users",
    Sort.PRIORITY: "Priority",
    Sort.TRENDS: "Trends",
}
DEFAULT_SORT = Sort.DATE


class UnknownSortError(ValueError):
    pass


def parse_sort(value: str | None) -> Sort:
    """The sort named by `value`; no value (or an empty one) is the default, `date`."""
    if not value:
        return DEFAULT_SORT
    try:
        return Sort(value)
    except ValueError:
        names = ", ".join(sort.value for sort in Sort)
        shown = value if len(value) <= 40 else value[:40] + "…"
        raise UnknownSortError(f'unknown sort "{shown}": expected one of {names}') from None
