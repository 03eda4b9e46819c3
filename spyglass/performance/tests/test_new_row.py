"""Rows built without Model.__init__ behave like the ones Django builds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spyglass.performance.models import Span, Transaction, new_row, store_new
from spyglass.test import World

T0 = datetime(2026, 11, 22, 12, tzinfo=UTC)


def test_a_new_row_has_the_given_values_and_every_other_fields_default() -> None:
    fast = new_row(Span, project_id=1, trace_id="a" * 32, span_id="b" * 16, start=T0)
    slow = Span(project_id=1, trace_id="a" * 32, span_id="b" * 16, start=T0)
    for field in Span._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(slow, field.attname), field.name
    assert fast._state.adding and fast.pk is None


def test_a_new_transaction_row_equals_the_one_django_builds() -> None:
    values = {
        "project_id": 1,
        "event_id": "e" * 32,
        "trace_id": "a" * 32,
        "span_id": "b" * 16,
        "name": "/checkout",
        "start": T0,
        "duration_ms": 12.5,
        "measurements": {"lcp": {"value": 1.0, "unit": "millisecond"}},
        "tags": [["k", "v"]],
        "body": b"x",
    }
    fast, slow = new_row(Transaction, **values), Transaction(**values)
    for field in Transaction._meta.concrete_fields:
        assert getattr(fast, field.attname) == getattr(slow, field.attname), field.name
    assert fast._state.adding and fast.pk is None


def test_callable_defaults_are_called_for_each_row() -> None:
    first, second = new_row(Transaction, project_id=1), new_row(Transaction, project_id=1)
    assert first.measurements == {} and first.measurements is not second.measurements
    assert first.tags == [] and first.tags is not second.tags


def test_a_misspelt_field_is_refused() -> None:
    with pytest.raises(TypeError, match="spanid"):
        new_row(Span, project_id=1, spanid="b" * 16)


@pytest.mark.django_db
def test_new_rows_are_stored_like_model_instances(world: World) -> None:
    row = new_row(
        Span,
        project_id=world.project.id,
        trace_id="a" * 32,
        span_id="b" * 16,
        name="SELECT 1",
        op="db",
        start=T0,
        duration_ms=2.5,
    )
    assert store_new([row], "span_id") == [row]
    stored = Span.objects.get()
    assert (stored.name, stored.op, stored.start, stored.duration_ms) == ("SELECT 1", "db", T0, 2.5)


@pytest.mark.django_db
def test_only_rows_not_stored_yet_are_stored_over_projects_and_hundreds_of_ids(
    world: World,
) -> None:
    def span(project_id: int, n: int) -> Span:
        span_id = f"{n:016x}"
        return new_row(
            Span,
            project_id=project_id,
            trace_id="a" * 32,
            span_id=span_id,
            start=T0,
            duration_ms=1.0,
        )

    projects = (world.project.id, world.other_project.id)
    earlier = [span(p, n) for p in projects for n in range(0, 1200, 3)]
    assert len(store_new(earlier, "span_id")) == 800
    batch = [span(p, n) for p in projects for n in range(1200)]
    batch += batch[:10]  # repeated in the batch: stored once
    fresh = store_new(batch, "span_id")
    assert {(r.project_id, r.span_id) for r in fresh} == {
        (p, f"{n:016x}") for p in projects for n in range(1200) if n % 3
    }
    assert len(fresh) == 1600 and Span.objects.count() == 2400
