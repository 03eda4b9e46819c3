"""Span v2 children that arrive after their segment: the segment is marked and the detectors
look at it again with every child, without counting what they had found already twice."""

from __future__ import annotations

import time
from typing import Any

import pytest

from spyglass.digest.tests.test_items import item, run
from spyglass.issues.models import Issue
from spyglass.perfissues.hook import detect_in, redetect_pending
from spyglass.perfissues.models import DetectorSettings, Occurrence, PatternCount, Redetection
from spyglass.perfissues.tests.test_streamed import QUERY, SEGMENT, TRACE, attrs, streamed
from spyglass.performance.models import Transaction
from spyglass.test import World

pytestmark = pytest.mark.django_db


def child(n: int, name: str = QUERY, ms: float = 20, at: float | None = None) -> dict[str, Any]:
    start = (time.time() - 60 + 0.01 + n * 0.021) if at is None else at
    return {
        "trace_id": TRACE,
        "span_id": f"{n + 1:016x}",
        "parent_span_id": SEGMENT,
        "name": name,
        "start_timestamp": start,
        "end_timestamp": start + ms / 1000,
        "is_segment": False,
        "status": "ok",
        "attributes": attrs(sentry__op="db", sentry__segment__id=SEGMENT, db__system="pg"),
    }


def test_an_n_plus_one_completed_by_late_children_is_found_once(world: World) -> None:
    first = run([item(world, "span", streamed(2))])  # the segment and two queries
    assert detect_in(first.transactions) == []
    assert not Redetection.objects.exists()
    run([item(world, "span", {"items": [child(n) for n in range(2, 6)]})])
    mark = Redetection.objects.get()
    assert (mark.segment_id, sorted(mark.span_ids)) == (
        SEGMENT,
        [f"{n + 1:016x}" for n in range(2, 6)],
    )
    [issue_id] = redetect_pending()
    issue = Issue.objects.get(id=issue_id)
    assert (issue.title, issue.times_seen) == ("N+1 Query", 1)
    assert len(Occurrence.objects.get().evidence["offenders"]) == 6
    assert Transaction.objects.get().span_count == 6
    assert not Redetection.objects.exists()
    # Another late child: looked at again, still one occurrence.
    run([item(world, "span", {"items": [child(6)]})])
    redetect_pending()
    assert Issue.objects.get().times_seen == 1
    assert Occurrence.objects.count() == 1


def test_a_repeating_pattern_seen_before_is_not_counted_again(world: World) -> None:
    DetectorSettings.objects.create(
        project=world.project, thresholds={"slow_db_query": {"occurrences": 2}}
    )
    start = time.time() - 60
    segment = streamed(0)
    slow = child(0, name="SELECT * FROM big", ms=700, at=start + 0.01)
    segment["items"].append(slow)
    first = run([item(world, "span", segment)])
    assert detect_in(first.transactions) == []
    assert PatternCount.objects.get().count == 1
    run([item(world, "span", {"items": [child(1, name="SELECT 1", ms=1, at=start + 0.2)]})])
    assert redetect_pending() == []
    assert PatternCount.objects.get().count == 1  # the same finding, not a second one
    assert not Issue.objects.exists()


def test_children_before_their_segment_need_no_mark(world: World) -> None:
    run([item(world, "span", {"items": [child(n) for n in range(6)]})])
    assert not Redetection.objects.exists()
