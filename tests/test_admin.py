"""The admin pages the README points to render for the first user."""

from __future__ import annotations

import pytest
from django.test import Client

from spyglass.test import World

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.mark.parametrize(
    "path",
    [
        "/admin/issues/issue/",
        "/admin/events/event/",
        "/admin/projects/project/",
        "/admin/projects/projectkey/",
        "/admin/queue/queuedenvelope/",
        "/admin/queue/queuedenvelope/?state=failed",
    ],
)
def test_the_admin_pages_render_for_a_superuser(world: World, path: str) -> None:
    client = Client()
    client.force_login(world.alice)
    response = client.get(path)
    assert response.status_code == 200, response.content[:500]


def test_the_admin_refuses_people_who_are_not_staff(world: World) -> None:
    client = Client()
    client.force_login(world.bob)
    assert client.get("/admin/issues/issue/").status_code == 302
