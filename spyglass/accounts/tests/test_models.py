"""Users sign in with their email address; API tokens are stored as hashes only."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import aauthenticate, authenticate
from django.db import connections

from spyglass.accounts.models import ALL_SCOPES, ApiToken, User, hash_token
from spyglass.test import PASSWORD, World, make_user

pytestmark = pytest.mark.django_db


def test_a_user_signs_in_with_the_email_address_and_password(world: World) -> None:
    assert authenticate(username="alice@example.com", password=PASSWORD) == world.alice
    assert authenticate(username="alice@example.com", password="wrong") is None


def test_email_addresses_are_stored_in_lower_case() -> None:
    user = User.objects.create_user("Dana.Scully@FBI.gov", "pw")
    assert user.email == "dana.scully@fbi.gov"
    assert str(user) == "dana.scully@fbi.gov"


def test_a_user_needs_an_email_address() -> None:
    with pytest.raises(ValueError, match="email"):
        User.objects.create_user("", "pw")


def test_superusers_are_staff_and_others_are_not(world: World) -> None:
    assert (world.alice.is_superuser, world.alice.is_staff) == (True, True)
    assert (world.bob.is_superuser, world.bob.is_staff) == (False, False)


def test_a_token_is_shown_once_and_only_its_sha256_is_stored(world: World) -> None:
    token, plain = ApiToken.issue(world.bob, name="ci")

    assert plain.startswith("sntryu_")
    assert token.token_hash == hashlib.sha256(plain.encode()).hexdigest() == hash_token(plain)
    assert token.token_last_characters == plain[-4:]
    assert token.scopes == list(ALL_SCOPES)
    stored = ApiToken.objects.values().get()
    assert not any(plain in str(value) for value in stored.values())


def test_each_token_is_different_and_can_have_fewer_scopes(world: World) -> None:
    _, first = ApiToken.issue(world.bob)
    limited, second = ApiToken.issue(world.bob, scopes=("project:read",))

    assert first != second
    assert ApiToken.objects.get(pk=limited.pk).scopes == ["project:read"]


def test_the_email_address_signs_in_however_it_is_capitalised(world: World) -> None:
    # Addresses are stored in lower case; people type them as they please.
    assert authenticate(username="Alice@Example.COM", password=PASSWORD) == world.alice
    assert authenticate(username=" alice@example.com ", password=PASSWORD) == world.alice
    assert authenticate(username="ALICE@example.com", password="wrong") is None


@pytest.mark.django_db(transaction=True)
def test_async_sign_in_matches_the_email_address_the_same_way() -> None:
    alice = make_user("alice@example.com")

    async def sign_in() -> object:
        # The async ORM runs in another thread, with a connection of its own.
        try:
            return await aauthenticate(username="Alice@Example.COM", password=PASSWORD)
        finally:
            await sync_to_async(connections.close_all)()

    assert asyncio.run(sign_in()) == alice
