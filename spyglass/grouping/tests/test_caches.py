"""Grouping caches what the same stack traces give again and again: a cached answer must be
the one computed afresh, whatever was grouped before and whatever later steps did to it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from spyglass.grouping import GroupingConfig, calculate_grouping, stacktraces
from spyglass.grouping.fingerprints import parse_fingerprint_rules
from spyglass.grouping.tests.builders import event, frame
from spyglass.grouping.tests.sdk_events import normalize, sdk_events

# A rule that matches every event: its custom fingerprint switches the component variants
# off after they are built (the roots and the strategies' components are changed).
EVERYTHING = GroupingConfig(fingerprint_rules=parse_fingerprint_rules('message:"*" -> all'))
EVENTS = [e for e in sdk_events() if "exception" in normalize(e.payload)]
WITH_STACKS = [
    e for e in sdk_events() if {"exception", "stacktrace", "threads"} & normalize(e.payload).keys()
]


def fresh(event: dict[str, Any], config: GroupingConfig | None = None) -> str:
    stacktraces._VARIANTS_CACHE.clear()
    return calculate_grouping(copy.deepcopy(event), config).render()


@pytest.mark.parametrize("sdk_event", WITH_STACKS, ids=lambda e: e.name)
def test_a_cached_stack_trace_groups_as_a_fresh_one(sdk_event: Any) -> None:
    data = normalize(sdk_event.payload)
    expected = fresh(data)
    calculate_grouping(copy.deepcopy(data), EVERYTHING)  # fills the cache, then changes
    assert stacktraces._VARIANTS_CACHE
    assert calculate_grouping(copy.deepcopy(data)).render() == expected
    assert calculate_grouping(copy.deepcopy(data)).render() == expected


def frames_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        frame
        for value in event["exception"]["values"]
        for frame in (value.get("stacktrace") or {}).get("frames") or []
    ]


@pytest.mark.parametrize(
    ("field", "value"),
    [("in_app", True), ("in_app", False), ("lineno", 99999), ("function", "elsewhere")],
)
def test_a_stack_trace_that_differs_in_what_grouping_reads_is_not_taken_from_the_cache(
    field: str, value: object
) -> None:
    for sdk_event in EVENTS:
        data = normalize(sdk_event.payload)
        if not frames_of(data):
            continue
        calculate_grouping(copy.deepcopy(data))  # cached
        changed = copy.deepcopy(data)
        for changed_frame in frames_of(changed):
            changed_frame[field] = value
        assert calculate_grouping(copy.deepcopy(changed)).render() == fresh(changed)


def test_a_line_number_that_cannot_be_a_key_is_grouped_without_the_cache() -> None:
    data = next(e for e in (normalize(s.payload) for s in EVENTS) if frames_of(e))
    frames_of(data)[0]["lineno"] = [1, 2]
    first = fresh(data)  # no TypeError from the key
    assert calculate_grouping(copy.deepcopy(data)).render() == first


def test_a_stack_trace_another_strategy_outranked_is_cached_as_computed() -> None:
    # The event's own stack trace is a variant of its own: beside a crashed thread it is
    # switched off ("threads take precedence"); on its own, the same stack trace must count.
    frames = [frame("checkout"), frame("charge", module="app.payments", lineno=20)]
    crashed = {"id": 1, "crashed": True, "stacktrace": {"frames": [frame("run", "app.worker")]}}
    outranked = event(message="x", threads={"values": [crashed]}, stacktrace={"frames": frames})
    alone = event(message="payment failed", stacktrace={"frames": frames})
    expected = fresh(alone)
    assert "stacktrace (threads of app take precedence)" in calculate_grouping(outranked).render()
    assert calculate_grouping(copy.deepcopy(alone)).render() == expected


def test_a_long_stack_trace_is_grouped_without_the_cache_and_never_kept() -> None:
    # The cache keeps at most a thousand stack traces: long ones would make that unbounded.
    limit = stacktraces._VARIANTS_CACHE_FRAMES
    long = [frame(f"f{n}", module=f"app.m{n}", lineno=n) for n in range(limit + 1)]
    short = long[:limit]
    expected = fresh(event(message="deep", stacktrace={"frames": long}))
    assert not stacktraces._VARIANTS_CACHE
    assert calculate_grouping(event(message="deep", stacktrace={"frames": long})).render() == (
        expected
    )
    assert not stacktraces._VARIANTS_CACHE
    calculate_grouping(event(message="deep", stacktrace={"frames": short}))
    assert len(stacktraces._VARIANTS_CACHE) == 1
