"""The staff status page outside the admin (/manage/status/): what it shows, who sees it."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.db import DatabaseError
from django.test import Client

from spyglass.events.models import Outcome
from spyglass.queue import status_views
from spyglass.queue.consumer import Consumer
from spyglass.queue.models import QueueStat
from spyglass.queue.tests.helpers import T0, enqueue
from spyglass.test import World

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/manage/status/"
HOUR = 3600


def text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_staff_see_queue_digest_dead_letters_outcomes_and_disk(
    client: Client, world: World
) -> None:
    enqueue(2, received_at=T0 - 125)
    enqueue(1, received_at=T0 - 5, failed_at=T0 - 1, attempts=6, last_error="boom")
    QueueStat.objects.create(minute=int(T0 // 60) - 1, accepted=50, done=25)
    hour = int(T0 // HOUR * HOUR)
    for outcome, quantity, at in [
        ("accepted", 40, hour),
        ("accepted", 2, hour - 23 * HOUR),
        ("accepted", 1000, hour - 24 * HOUR),  # older than 24 hours: not counted
        ("filtered", 3, hour),
        ("rate_limited", 5, hour - HOUR),
        ("invalid", 1, hour),
    ]:
        Outcome.objects.create(
            project=world.project,
            hour=at,
            category="error",
            outcome=outcome,
            reason=str(at),
            quantity=quantity,
        )
    client.force_login(world.alice)  # staff
    with time_machine.travel(T0, tick=False):
        Consumer("w1").claim(1)
        response = client.get(URL)
    assert response.status_code == 200
    page = text(response.content)
    assert "Waiting 2 " in page  # the set-aside one is not waiting
    assert "Being digested 1 " in page
    assert "Oldest waiting 2 min 5 s" in page
    assert "Digested / min 5.0 " in page
    assert "Envelopes 1 " in page
    assert 'href="/admin/queue/queuedenvelope/status/"' in response.content.decode()
    assert "Accepted 42 Filtered 3 Rate limited 5 Invalid 1 Client discard 0" in page
    assert "Database files" in page or "Database (PostgreSQL" in page
    assert "Attachments (0 files)" in page


def test_people_who_are_not_staff_get_404(client: Client, world: World) -> None:
    client.force_login(world.bob)
    assert client.get(URL).status_code == 404
    client.logout()
    assert client.get(URL)["Location"].startswith("/accounts/sign-in/")


def test_table_sizes_are_listed_or_said_unknown(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    sizes = status_views.table_sizes()
    if sizes is not None:  # SQLite with dbstat, or PostgreSQL
        names = [name for name, _ in sizes]
        assert "projects_project" in names or len(names) == status_views.TABLES_SHOWN
        assert all(size > 0 for _, size in sizes)

    def no_dbstat(limit: int) -> None:
        raise DatabaseError("no such table: dbstat")

    monkeypatch.setattr(status_views, "_table_sizes", no_dbstat)
    client.force_login(world.alice)
    assert "has no dbstat table" in text(client.get(URL).content)


def test_the_admin_index_links_the_status_page(client: Client, world: World) -> None:
    client.force_login(world.alice)
    assert f'href="{URL}"' in client.get("/admin/").content.decode()
