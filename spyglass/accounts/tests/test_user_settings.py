"""The user's settings: profile with email, the settings nav, and personal API tokens."""

from __future__ import annotations

import pytest
from django.test import Client

from spyglass.accounts.models import ApiToken, User, hash_token
from spyglass.accounts.nav import USER_SETTINGS
from spyglass.test import PASSWORD, World

pytestmark = pytest.mark.django_db


def test_the_settings_nav_lists_every_user_settings_page(client: Client, world: World) -> None:
    client.force_login(world.bob)
    html = client.get("/accounts/settings/tokens/").content.decode()
    for _key, label, _name in USER_SETTINGS:
        assert f">{label}</a>" in html
    assert '<a href="/accounts/settings/tokens/" aria-current="page">API tokens</a>' in html
    assert 'aria-current="page">Password</a>' in client.get("/accounts/password/").content.decode()


def test_a_user_changes_their_email_but_not_to_someone_elses(client: Client, world: World) -> None:
    client.force_login(world.bob)
    taken = client.post("/accounts/settings/", {"name": "", "email": "ALICE@example.com"})
    assert "Another account uses this address." in taken.content.decode()
    unconfirmed = client.post("/accounts/settings/", {"name": "Bob", "email": "robert@example.com"})
    assert "Type your password to change your email address." in unconfirmed.content.decode()
    wrong = {"name": "Bob", "email": "robert@example.com", "current_password": "guess"}
    assert client.post("/accounts/settings/", wrong).status_code == 200
    assert User.objects.get(pk=world.bob.pk).email == "bob@example.com"
    confirmed = {"name": "Bob", "email": "Robert@Example.com", "current_password": PASSWORD}
    assert client.post("/accounts/settings/", confirmed)["Location"] == "/accounts/settings/"
    assert User.objects.get(pk=world.bob.pk).email == "robert@example.com"
    # The same address again, typed differently, is no change: no password needed.
    same = {"name": "Robert", "email": "ROBERT@example.com"}
    assert client.post("/accounts/settings/", same).status_code == 302


def test_a_token_is_shown_once_stored_hashed_and_listed_by_its_last_characters(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    response = client.post(
        "/accounts/settings/tokens/", {"name": "CI", "scopes": ["project:read", "event:read"]}
    )
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    plain = response.context["created"]
    assert plain.startswith("sntryu_") and plain in response.content.decode()
    token = ApiToken.objects.get(user=world.bob)
    assert token.token_hash == hash_token(plain)
    assert (token.name, token.scopes) == ("CI", ["project:read", "event:read"])
    listing = client.get("/accounts/settings/tokens/").content.decode()
    assert plain not in listing
    assert f"…{plain[-4:]}" in listing and "never" in listing  # never used yet

    # The token works against /api/0/, which records its use.
    api = Client()
    issues = api.get("/api/0/projects/acme/backend/issues/", HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert issues.status_code == 200 and issues.json() == []
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_scopes_are_sentrys_and_at_least_one(client: Client, world: World) -> None:
    client.force_login(world.bob)
    response = client.post("/accounts/settings/tokens/", {"name": "x", "scopes": ["root"]})
    assert "Select a valid choice" in response.content.decode()
    assert (
        "This field is required" in client.post("/accounts/settings/tokens/", {}).content.decode()
    )
    assert not ApiToken.objects.exists()


def test_a_user_revokes_their_own_token_only(client: Client, world: World) -> None:
    mine, _ = ApiToken.issue(world.bob, name="mine")
    theirs, _ = ApiToken.issue(world.alice, name="theirs")
    client.force_login(world.bob)
    assert client.post(f"/accounts/settings/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client.get(f"/accounts/settings/tokens/{mine.pk}/revoke/").status_code == 405
    response = client.post(f"/accounts/settings/tokens/{mine.pk}/revoke/")
    assert response["Location"] == "/accounts/settings/tokens/"
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["theirs"]


def test_token_writes_need_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.bob)
    assert client.post("/accounts/settings/tokens/", {"scopes": ["org:read"]}).status_code == 403
    assert not ApiToken.objects.exists()


def test_settings_need_a_signed_in_user(client: Client, world: World) -> None:
    for url in ("/accounts/settings/", "/accounts/settings/tokens/"):
        assert client.get(url)["Location"].startswith("/accounts/sign-in/")
