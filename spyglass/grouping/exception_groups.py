"""Exception groups (Python's `ExceptionGroup`, JavaScript's `AggregateError`): which of the
exceptions of a group take part in grouping (Sentry's RFC 79).

The exceptions form a tree through `mechanism.exception_id` / `parent_id`. The "top-level"
exceptions are the nearest descendants of the root that are not groups themselves. If they
are all alike, the event groups like that one exception (and its first-child chain);
otherwise by one of each distinct kind plus the root group. Events whose tree is incomplete
keep all their exceptions, in order.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from spyglass.grouping.components import Component
from spyglass.grouping.event import EventView, as_mapping, text


class _Node:
    __slots__ = ("children", "index")

    def __init__(self) -> None:
        self.index: int | None = None
        self.children: list[int] = []


def _tree(exceptions: list[Mapping[str, Any]]) -> dict[int, _Node] | None:
    tree: dict[int, _Node] = {}
    for index in reversed(range(len(exceptions))):
        mechanism = as_mapping(exceptions[index].get("mechanism"))
        exception_id, parent_id = mechanism.get("exception_id"), mechanism.get("parent_id")
        if not isinstance(exception_id, int) or exception_id == parent_id:
            return None
        node = tree.setdefault(exception_id, _Node())
        if node.index is not None:
            return None  # the same id twice
        node.index = index
        if isinstance(parent_id, int):
            tree.setdefault(parent_id, _Node()).children.append(index)
    return tree


def _is_group(exception: Mapping[str, Any]) -> bool:
    return bool(as_mapping(exception.get("mechanism")).get("is_exception_group"))


def _children(exceptions: list[Mapping[str, Any]], tree: dict[int, _Node], index: int) -> list[int]:
    node = tree.get(as_mapping(exceptions[index].get("mechanism")).get("exception_id"))  # type: ignore[arg-type]
    return node.children if node else []


def _top_level(
    exceptions: list[Mapping[str, Any]], tree: dict[int, _Node], index: int, depth: int = 0
) -> Iterator[int]:
    if depth > len(exceptions):  # a cycle
        return
    if _is_group(exceptions[index]):
        for child in _children(exceptions, tree, index):
            yield from _top_level(exceptions, tree, child, depth + 1)
    else:
        yield index


def _first_path(
    exceptions: list[Mapping[str, Any]], tree: dict[int, _Node], index: int
) -> list[int]:
    path = [index]
    while (children := _children(exceptions, tree, path[-1])) and len(path) <= len(exceptions):
        path.append(children[0])
    return path


def _sdk_version(view: EventView) -> str:
    return text(as_mapping(view.event.get("sdk")).get("version")) or ""


def filter_exception_groups(
    view: EventView, components: list[dict[str, Component]]
) -> tuple[list[int], int | None]:
    """Indexes of the exceptions that group, in grouping order; and the index of the exception
    the issue is about when that is not the last one."""
    exceptions = view.exceptions
    everything = (list(range(len(exceptions))), None)
    # Sentry keeps Python SDK 3.x events unfiltered (for hash stability across the SDK
    # change that started sending exception group data).
    if len(exceptions) <= 1 or (view.platform == "python" and _sdk_version(view).startswith("3")):
        return everything
    tree = _tree(exceptions)
    root = tree.get(0) if tree else None
    if tree is None or root is None or root.index is None:
        return everything
    top = sorted(
        _top_level(exceptions, tree, root.index),
        key=lambda i: str(exceptions[i].get("type")),
        reverse=True,
    )
    if not top:
        return everything
    if len(top) == 1:
        return _first_path(exceptions, tree, top[0]), top[0]
    # Alike exceptions (same components in every variant) next to each other count once.
    distinct = [
        next(group)
        for _, group in itertools.groupby(
            top, key=lambda i: tuple((n, c.structure_key()) for n, c in components[i].items())
        )
    ]
    if len(distinct) == 1:
        return _first_path(exceptions, tree, distinct[0]), distinct[0]
    return [*distinct, root.index], None


_REACT_ERRORS_WITH_CAUSE = frozenset(
    (
        "There was an error during concurrent rendering but React was able to recover by "
        "instead synchronously rendering the entire root.",
        "There was an error while hydrating but React was able to recover by instead client "
        "rendering from the nearest Suspense boundary.",
    )
)
_RXJAVA_WRAPPERS = frozenset(
    ("OnErrorNotImplementedException", "CompositeException", "UndeliverableException")
)


def _mechanism(exception: Mapping[str, Any]) -> Mapping[str, Any]:
    return as_mapping(exception.get("mechanism"))


def main_exception_override(exceptions: list[Mapping[str, Any]]) -> int | None:
    """For a chain, the `exception_id` of the exception an issue should be titled by when it is
    not the last one: React's "recovered from an error" wrappers name their cause, RxJava's
    wrappers the exception they wrap."""
    if len(exceptions) < 2:
        return None
    first, last = exceptions[0], exceptions[-1]
    if (
        first.get("type") == "Error"
        and first.get("value") in _REACT_ERRORS_WITH_CAUSE
        and _mechanism(last).get("source") == "cause"
    ):
        found = _mechanism(last).get("exception_id")
        return found if isinstance(found, int) else None
    wrapper = next(
        (
            _mechanism(e).get("exception_id")
            for e in exceptions
            if e.get("module") == "io.reactivex.rxjava3.exceptions"
            and e.get("type") in _RXJAVA_WRAPPERS
            and _mechanism(e).get("type") == "UncaughtExceptionHandler"
        ),
        None,
    )
    if wrapper is None:
        return None
    for exception in exceptions:
        mechanism = _mechanism(exception)
        if mechanism.get("parent_id") == wrapper and isinstance(mechanism.get("exception_id"), int):
            found = mechanism["exception_id"]
            return found if isinstance(found, int) else None
    return None
