"""Attachments go with their event: those of an event an inbound filter dropped are counted as
filtered and never written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from django.db.models import Sum
from django.utils import timezone

from spyglass.attachments.models import Attachment
from spyglass.digest.batch import process_batch
from spyglass.digest.context import BatchContext
from spyglass.digest.tests.test_items import item, outcomes, run
from spyglass.digest.tests.test_items_ledger import envelope, queued
from spyglass.events.models import Event, Outcome
from spyglass.test import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_the_attachments_of_a_filtered_event_are_counted_as_filtered_and_not_written(
    world: World, data_dir: Path
) -> None:
    batch = BatchContext(timezone.now())
    batch.filtered_events.add((world.project.id, "a" * 32))
    run(
        [
            item(world, "attachment", b"12345", filename="a.log", event_id="a" * 32),
            item(world, "attachment", b"", filename="empty.log", event_id="a" * 32),
            item(world, "attachment", b"kept", filename="b.log", event_id="b" * 32),
        ],
        batch,
    )
    assert list(Attachment.objects.values_list("event_id", flat=True)) == ["b" * 32]
    assert not (data_dir / "attachments" / str(world.project.id) / ("a" * 32)).exists()
    assert outcomes(batch) == {
        ("attachment", "filtered", "filtered_event"): 5,
        ("attachment_item", "filtered", "filtered_event"): 2,
        ("attachment", "accepted", ""): 4,
        ("attachment_item", "accepted", ""): 1,
    }


def test_an_inbound_filter_drops_the_event_and_its_attachments(
    world: World, data_dir: Path
) -> None:
    world.project.inbound_filters = {"error_messages": ["*database is down*"]}
    world.project.save()
    event_id = "d" * 32
    data = envelope(
        ({"type": "event"}, orjson.dumps({"event_id": event_id, "message": "database is down"})),
        ({"type": "attachment", "filename": "dump.txt"}, b"secret state"),
    ).replace(b"{}", orjson.dumps({"event_id": event_id}), 1)
    process_batch([queued(world, 1, data)])
    assert not Event.objects.exists() and not Attachment.objects.exists()
    assert not (data_dir / "attachments").exists()
    filtered = Outcome.objects.filter(outcome="filtered").values("category", "reason")
    assert {(r["category"], r["reason"]) for r in filtered} == {
        ("default", "error-message"),
        ("attachment", "filtered_event"),
        ("attachment_item", "filtered_event"),
    }
    assert Outcome.objects.filter(category="attachment").aggregate(n=Sum("quantity"))["n"] == 12
