"""The scheduler's dictionary training: when a project gets one, and that old bodies stay
readable."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from spyglass.core.scheduler import JOBS
from spyglass.events import bodies
from spyglass.events.models import CompressionDictionary, Event
from spyglass.events.tests.test_bodies import (
    T0,
    add_events,
    assert_all_readable,
    dict_id_of,
    node_event,
    python_event,
    random_event,
    stored,
)
from spyglass.test import World

pytestmark = pytest.mark.django_db

T1 = T0 + timedelta(hours=1)  # after the first events
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    bodies.forget()
    yield
    bodies.forget()


def test_the_scheduler_runs_the_training() -> None:
    assert "train-compression-dictionaries" in {job.name for job in JOBS}


def test_a_project_gets_its_first_dictionary_once_it_has_enough_events(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS - 1)
    assert bodies.train_dictionaries(T0) == []
    add_events(world.project, python_event, 1, seed=2)
    (made,) = bodies.train_dictionaries(T1)
    assert (made.project_id, made.created_at) == (world.project.id, T1)
    assert made.sample_events == bodies.MIN_EVENTS * 9 // 10  # a tenth held out
    assert made.dict_id == bodies.FIRST_DICT_ID
    assert not CompressionDictionary.objects.filter(project=world.other_project).exists()


def test_no_new_dictionary_before_the_retrain_age_nor_without_new_events(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    assert len(bodies.train_dictionaries(T1)) == 1
    add_events(world.project, node_event, bodies.RETRAIN_EVENTS, seed=2, at=T1 + MINUTE)
    assert bodies.train_dictionaries(T1 + bodies.RETRAIN_AGE - MINUTE) == []
    (second,) = bodies.train_dictionaries(T1 + bodies.RETRAIN_AGE)
    assert bodies.train_dictionaries(second.created_at + bodies.RETRAIN_AGE) == []  # none since


def test_a_retrained_dictionary_serves_new_bodies_and_old_ones_stay_readable(
    world: World,
) -> None:
    plain = add_events(world.project, python_event, bodies.MIN_EVENTS)
    (first,) = bodies.train_dictionaries(T1)
    with_first = add_events(
        world.project, node_event, bodies.RETRAIN_EVENTS, seed=2, at=T1 + MINUTE
    )
    assert {dict_id_of(stored(row_id)) for row_id, _ in with_first} == {first.dict_id}
    # the events changed shape: the new dictionary is worth keeping
    (second,) = bodies.train_dictionaries(T1 + bodies.RETRAIN_AGE)
    assert second.dict_id == first.dict_id + 1
    with_second = add_events(world.project, node_event, 10, seed=3, at=T1 + bodies.RETRAIN_AGE)
    assert {dict_id_of(stored(row_id)) for row_id, _ in with_second} == {second.dict_id}
    bodies.forget()  # a reader that has seen none of them
    assert_all_readable(plain + with_first + with_second)
    assert {dict_id_of(stored(row_id)) for row_id, _ in plain} == {0}


def test_a_dictionary_that_does_not_make_bodies_smaller_is_not_kept(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    (first,) = bodies.train_dictionaries(T1)
    # the same kind of events again: a new dictionary would gain less than 10 %
    add_events(world.project, python_event, bodies.RETRAIN_EVENTS, seed=2, at=T1 + MINUTE)
    assert bodies.train_dictionaries(T1 + bodies.RETRAIN_AGE) == []
    assert list(CompressionDictionary.objects.values_list("dict_id", flat=True)) == [first.dict_id]


def test_events_a_dictionary_cannot_help_get_none_and_no_retry_every_run(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="spyglass.events.bodies")
    add_events(world.other_project, random_event, bodies.MIN_EVENTS)
    assert bodies.train_dictionaries(T1) == []
    assert "held-out bodies" in caplog.text
    caplog.clear()
    assert bodies.train_dictionaries(T1 + timedelta(hours=1)) == []
    assert caplog.text == ""  # not tried again so soon
    assert not CompressionDictionary.objects.exists()
    assert {dict_id_of(b) for b in Event.objects.values_list("body", flat=True)} == {0}


def test_dictionaries_are_read_only_in_the_admin(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    (made,) = bodies.train_dictionaries(T0)
    client = Client()
    client.force_login(world.alice)
    page = client.get("/admin/events/compressiondictionary/")
    assert page.status_code == 200
    assert str(made.dict_id) in page.content.decode()
    url = f"/admin/events/compressiondictionary/{made.id}/delete/"
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert CompressionDictionary.objects.filter(id=made.id).exists()


def test_a_project_whose_training_fails_does_not_stop_the_others(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    add_events(world.other_project, node_event, bodies.MIN_EVENTS, seed=2)
    real = bodies.train

    def train(project_id: int, now: Any = None) -> Any:
        if project_id == world.project.id:
            raise RuntimeError("disk on fire")
        return real(project_id, now)

    monkeypatch.setattr(bodies, "train", train)
    (made,) = bodies.train_dictionaries(T1)
    assert made.project_id == world.other_project.id
    assert "disk on fire" in caplog.text
