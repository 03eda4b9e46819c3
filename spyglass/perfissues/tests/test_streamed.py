"""Span v2 segments (what @sentry/node and @sentry/browser 11 send by default): the same
detection and the same waterfall as for classic transactions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from spyglass.digest.tests.test_items import item, run
from spyglass.issues.models import Issue
from spyglass.perfissues.hook import detect_in, is_streamed
from spyglass.perfissues.models import Occurrence
from spyglass.test import World

pytestmark = pytest.mark.django_db

TRACE, SEGMENT = "c" * 32, "d" * 16
QUERY = "SELECT * FROM orders WHERE customer_id = $1"


def attrs(**values: Any) -> dict[str, Any]:
    return {k.replace("__", "."): {"type": "string", "value": v} for k, v in values.items()}


def streamed(repeats: int) -> dict[str, Any]:
    start = time.time() - 60
    spans: list[dict[str, Any]] = [
        {
            "trace_id": TRACE,
            "span_id": SEGMENT,
            "name": "GET /customers",
            "start_timestamp": start,
            "end_timestamp": start + 0.5,
            "is_segment": True,
            "status": "ok",
            "attributes": attrs(sentry__op="http.server", sentry__segment__name="GET /customers"),
        }
    ]
    at = start + 0.01
    for n in range(repeats):
        spans.append(
            {
                "trace_id": TRACE,
                "span_id": f"{n + 1:016x}",
                "parent_span_id": SEGMENT,
                "name": QUERY,
                "start_timestamp": at,
                "end_timestamp": at + 0.02,
                "is_segment": False,
                "status": "ok",
                "attributes": attrs(sentry__op="db", sentry__segment__id=SEGMENT, db__system="pg"),
            }
        )
        at += 0.021
    return {"items": spans}


def test_an_n_plus_one_in_a_streamed_segment_is_found_from_its_span_rows(world: World) -> None:
    batch = run([item(world, "span", streamed(6))])
    [segment] = batch.transactions
    assert is_streamed(segment)
    [issue_id] = detect_in(batch.transactions)
    issue = Issue.objects.get(id=issue_id)
    assert (issue.title, issue.culprit) == ("N+1 Query", "GET /customers")
    evidence = Occurrence.objects.get().evidence
    assert [s["description"] for s in evidence["offenders"]] == [QUERY] * 6
    assert evidence["parent"]["span_id"] == SEGMENT


def test_the_waterfall_of_a_streamed_segment_reads_its_span_rows(
    world: World, client: Client
) -> None:
    batch = run([item(world, "span", streamed(3))])
    [segment] = batch.transactions
    client.force_login(world.bob)
    response = client.get(
        f"/{world.org.slug}/{world.project.slug}/performance/events/{segment.event_id}/"
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="wf-row') == 4
    assert QUERY in page and "pg" in page
    assert detect_in(batch.transactions) == []  # three queries are no N+1
