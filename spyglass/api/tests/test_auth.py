"""/api/0/: bearer tokens, Sentry's error shape, the OpenAPI spec, and the ASGI routing that
sends /api/0/… to Django while /api/<project id>/envelope/ stays with the ingest edge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from spyglass.accounts.models import ApiToken
from spyglass.api.tests.factory import auth, token_for
from spyglass.asgi import SpyglassApp
from spyglass.core.tests.test_static_files import call
from spyglass.ingest.app import IngestApp
from spyglass.test import World

URL = "/api/0/projects/acme/backend/issues/"


@pytest.mark.django_db
def test_a_request_without_a_token_is_a_401_in_sentrys_shape(world: World) -> None:
    response = Client().get(URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header",
    ["Bearer nope", "Bearer sntryu_" + "0" * 64, "Bearer " + "x" * 5000, "Bearer \u00e9\u0000"],
)
def test_an_unknown_token_is_a_401(world: World, header: str) -> None:
    response = Client().get(URL, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token"}


@pytest.mark.django_db
def test_a_session_cookie_is_not_enough(world: World) -> None:
    client = Client()
    client.force_login(world.alice)
    assert client.get(URL).status_code == 401


@pytest.mark.django_db
def test_a_valid_token_is_accepted_and_its_last_use_recorded(world: World) -> None:
    token = token_for(world.bob)
    response = Client().get(URL, headers=auth(token))
    assert response.status_code == 200, response.content
    row = ApiToken.objects.get(user=world.bob)
    assert row.last_used_at is not None


@pytest.mark.django_db
def test_an_expired_token_is_a_401(world: World) -> None:
    token = token_for(world.bob)
    ApiToken.objects.filter(user=world.bob).update(expires_at=timezone.now() - timedelta(1))
    response = Client().get(URL, headers=auth(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "Token expired"}


@pytest.mark.django_db
def test_a_deleted_token_or_inactive_user_is_a_401(world: World) -> None:
    token = token_for(world.bob)
    world.bob.is_active = False
    world.bob.save()
    assert Client().get(URL, headers=auth(token)).status_code == 401
    world.bob.is_active = True
    world.bob.save()
    ApiToken.objects.filter(user=world.bob).delete()
    assert Client().get(URL, headers=auth(token)).status_code == 401


@pytest.mark.django_db
def test_a_token_without_event_read_is_a_403(world: World) -> None:
    token = token_for(world.bob, scopes=("org:read",))
    response = Client().get(URL, headers=auth(token))
    assert response.status_code == 403
    assert response.json() == {"detail": "You do not have permission to perform this action."}


@pytest.mark.django_db
def test_unknown_api_paths_answer_json_404s(world: World) -> None:
    response = Client().get("/api/0/nothing/here/", headers=auth(token_for(world.bob)))
    assert response.status_code == 404


def test_the_openapi_spec_is_served() -> None:
    response = Client().get("/api/0/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/api/0/projects/{org}/{project}/issues/",
        "/api/0/organizations/{org}/issues/",
        "/api/0/issues/{issue_id}/",
        "/api/0/issues/{issue_id}/events/",
        "/api/0/issues/{issue_id}/events/latest/",
    ):
        assert path in paths


def test_the_ingest_edge_matches_only_its_own_routes() -> None:
    assert IngestApp.match("/api/0/envelope/")
    assert IngestApp.match("/api/42/store/")
    assert not IngestApp.match("/api/0/projects/acme/backend/issues/")
    assert not IngestApp.match("/api/0/issues/1/events/latest/")
    assert not IngestApp.match("/api/0/openapi.json")


@pytest.mark.anyio
async def test_through_the_asgi_app_api_0_reaches_django_and_envelopes_the_ingest_edge() -> None:
    app = SpyglassApp()
    answer = await call(app, URL)
    assert answer.status == 401
    assert b"Authentication credentials were not provided." in answer.body
    # The ingest edge answers an envelope without a DSN key itself (Django has no such route).
    answer = await call(app, "/api/0/envelope/", method="POST")
    assert answer.status in (400, 401, 403), answer.body
    assert b"Authentication credentials" not in answer.body
