"""The admin: a project's Apdex threshold is set there; rollups are shown read-only."""

from __future__ import annotations

import pytest
from django.test import Client

from spyglass.performance.models import ProjectPerformanceSettings, apdex_thresholds
from spyglass.performance.tests.test_rollups import store, tx
from spyglass.test import PASSWORD, World

pytestmark = pytest.mark.django_db


def test_a_superuser_sets_a_projects_apdex_threshold_and_sees_rollups(world: World) -> None:
    client = Client()
    assert client.login(username=world.alice.email, password=PASSWORD)
    url = "/admin/performance/projectperformancesettings/add/"
    response = client.post(url, {"project": world.project.pk, "apdex_threshold_ms": 500})
    assert response.status_code == 302, response.content[:500]
    assert ProjectPerformanceSettings.objects.get().apdex_threshold_ms == 500
    assert apdex_thresholds([world.project.pk, world.other_project.pk]) == {
        world.project.pk: 500.0,
        world.other_project.pk: 300.0,
    }
    store(tx(world.project.pk, name="GET /rolled-up"))
    response = client.get("/admin/performance/transactionrollup/")
    assert response.status_code == 200
    assert b"GET /rolled-up" in response.content
    assert client.get("/admin/performance/transactionrollup/add/").status_code == 403


def test_members_without_staff_rights_get_no_admin(world: World) -> None:
    client = Client()
    assert client.login(username=world.bob.email, password=PASSWORD)
    response = client.get("/admin/performance/projectperformancesettings/")
    assert response.status_code == 302  # to the admin's login
