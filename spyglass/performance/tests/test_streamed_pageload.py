"""Page loads as @sentry/browser 11 streams them: named by their URL path rather than the
SDK's low-cardinality "Pageload", and with the web vitals sent as spans of their own (LCP,
CLS, INP) folded into their measurements, whether they come with the page load or later."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from spyglass.api.tests.factory import auth, token_for
from spyglass.digest.tests.test_items import item, run
from spyglass.performance.models import Transaction
from spyglass.test import World

pytestmark = pytest.mark.django_db

TRACE, PAGE = "e" * 32, "f" * 16
NOW = time.time() - 120
EVENTS = "/api/0/organizations/acme/events/"


def attrs(**values: Any) -> dict[str, Any]:
    def typed(v: Any) -> dict[str, Any]:
        if isinstance(v, float):
            return {"type": "double", "value": v}
        return {"type": "string", "value": v}

    return {k.replace("__", "."): typed(v) for k, v in values.items()}


def page_load(name: str = "Pageload", path: str = "/checkout/") -> dict[str, Any]:
    return {
        "trace_id": TRACE,
        "span_id": PAGE,
        "name": name,
        "start_timestamp": NOW,
        "end_timestamp": NOW + 1.2,
        "is_segment": True,
        "status": "ok",
        "attributes": attrs(
            sentry__op="pageload",
            sentry__segment__name=name,
            sentry__segment__name__source="url",
            url__path=path,
            browser__web_vital__fcp__value=420.0,
        ),
    }


def vital(span_id: str, op: str, key: str, value: float) -> dict[str, Any]:
    return {
        "trace_id": TRACE,
        "span_id": span_id,
        "parent_span_id": PAGE,
        "name": "body > h1",
        "start_timestamp": NOW + 0.3,
        "end_timestamp": NOW + 0.3,
        "is_segment": False,
        "status": "ok",
        "attributes": attrs(
            sentry__op=op,
            sentry__segment__id=PAGE,
            sentry__pageload__span_id=PAGE,
            **{f"browser__web_vital__{key}__value": value},
        ),
    }


def test_a_streamed_page_load_is_named_by_its_url_path(world: World) -> None:
    run([item(world, "span", {"items": [page_load()]})])
    assert Transaction.objects.get().name == "/checkout/"


def test_a_page_load_with_a_name_of_its_own_keeps_it(world: World) -> None:
    run([item(world, "span", {"items": [page_load(name="/checkout/:step")]})])
    assert Transaction.objects.get().name == "/checkout/:step"


def test_vitals_in_the_same_batch_become_the_page_loads_measurements(world: World) -> None:
    spans = [page_load(), vital("1" * 16, "ui.webvital.lcp", "lcp", 2600.0)]
    run([item(world, "span", {"items": spans})])
    tx = Transaction.objects.get()
    assert tx.measurements == {
        "fcp": {"value": 420.0, "unit": "millisecond"},
        "lcp": {"value": 2600.0, "unit": "millisecond"},
    }


def test_vitals_arriving_later_update_the_stored_page_load(world: World, client: Client) -> None:
    run([item(world, "span", {"items": [page_load()]})])
    assert set(Transaction.objects.get().measurements) == {"fcp"}
    later = [
        vital("2" * 16, "ui.webvital.lcp", "lcp", 2600.0),
        vital("3" * 16, "ui.webvital.cls", "cls", 0.12),
        vital("4" * 16, "ui.interaction.click", "inp", 180.0),
    ]
    run([item(world, "span", {"items": later})])
    tx = Transaction.objects.get()
    assert tx.measurements["lcp"] == {"value": 2600.0, "unit": "millisecond"}
    assert tx.measurements["cls"] == {"value": 0.12, "unit": "none"}
    assert tx.measurements["inp"] == {"value": 180.0, "unit": "millisecond"}
    assert tx.measurements["fcp"]["value"] == 420.0
    # Discover's search and the vitals page read them.
    params = {
        "dataset": "transactions",
        "field": ["transaction", "count()"],
        "query": "measurements.lcp:>2500",
        "statsPeriod": "1h",
    }
    response = Client().get(EVENTS, params, headers=auth(token_for(world.bob)))
    assert response.status_code == 200, response.content
    [row] = response.json()["data"]
    assert (row["transaction"], row["count()"]) == ("/checkout/", 1)
    params["query"] = "measurements.lcp:>3000"
    response = Client().get(EVENTS, params, headers=auth(token_for(world.bob)))
    assert response.json()["data"] == []
    client.force_login(world.bob)
    page = client.get(f"/{world.org.slug}/{world.project.slug}/performance/vitals/")
    text = page.content.decode()
    assert "/checkout/" in text and "2.60 s" in text


def test_vitals_of_a_page_load_not_stored_are_left_in_their_spans(world: World) -> None:
    run([item(world, "span", {"items": [vital("5" * 16, "ui.webvital.lcp", "lcp", 900.0)]})])
    assert not Transaction.objects.exists()


def test_discover_computes_measurement_functions_per_page(world: World) -> None:
    run([item(world, "span", {"items": [page_load()]})])
    run([item(world, "span", {"items": [vital("2" * 16, "ui.webvital.lcp", "lcp", 2600.0)]})])
    headers = auth(token_for(world.bob))
    params = {
        "field": ["transaction", "count()", "p75(measurements.lcp)", "avg(measurements.fcp)"],
        "statsPeriod": "1h",
        "sort": "-p75(measurements.lcp)",
    }
    response = Client().get(EVENTS, params, headers=headers)  # the data set follows
    assert response.status_code == 200, response.content
    body = response.json()
    [row] = body["data"]
    assert row == {
        "transaction": "/checkout/",
        "count()": 1,
        "p75(measurements.lcp)": 2600.0,
        "avg(measurements.fcp)": 420.0,
    }
    assert body["meta"]["fields"]["p75(measurements.lcp)"] == "duration"
    params["query"] = "measurements.lcp:<2000"
    assert Client().get(EVENTS, params, headers=headers).json()["data"] == []
    stats = "/api/0/organizations/acme/events-stats/"
    answer = Client().get(
        stats, {"yAxis": "p75(measurements.lcp)", "partial": "1"}, headers=headers
    )
    assert answer.status_code == 200, answer.content
    assert [v for _, [point] in answer.json()["data"] if (v := point["count"])] == [2600.0]
