"""Signing in and out, the failed sign-in limit, changing and resetting a password."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client

from spyglass.accounts.models import SignInFailure, User
from spyglass.test import PASSWORD, World

pytestmark = pytest.mark.django_db

SIGN_IN = "/accounts/sign-in/"


def sign_in(client: Client, email: str, password: str, ip: str = "10.0.0.1") -> Any:
    return client.post(SIGN_IN, {"username": email, "password": password}, REMOTE_ADDR=ip)


def test_pages_send_the_anonymous_to_sign_in(client: Client, world: World) -> None:
    for path in ("/", f"/{world.org.slug}/", f"/{world.org.slug}/backend/issues/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{SIGN_IN}?next=")


def test_a_user_signs_in_with_any_case_of_their_email_and_lands_on_their_organization(
    client: Client, world: World
) -> None:
    response = sign_in(client, "Bob@Example.com", PASSWORD)
    assert response["Location"] == "/"
    response = client.get("/")
    assert response["Location"] == f"/{world.org.slug}/"


def test_a_wrong_password_says_so_without_telling_which_part_was_wrong(
    client: Client, world: World
) -> None:
    response = client.post(SIGN_IN, {"username": "bob@example.com", "password": "nope"})
    assert response.status_code == 200
    assert b"Please enter a correct email and password" in response.content


def test_sign_in_stops_after_five_failures_for_an_address_from_an_ip_then_allows_again(
    client: Client, world: World
) -> None:
    start = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            sign_in(client, "bob@example.com", "wrong")
        response = client.post(
            SIGN_IN, {"username": "bob@example.com", "password": PASSWORD}, REMOTE_ADDR="10.0.0.1"
        )
        assert response.status_code == 200
        assert b"Too many failed sign-in attempts. Try again in 15 minutes" in response.content
        assert "_auth_user_id" not in client.session
        # Another address from the same IP, and the same address from another IP, still work.
        assert sign_in(Client(), "alice@example.com", PASSWORD).status_code == 302
        assert sign_in(Client(), "bob@example.com", PASSWORD, "10.0.0.2").status_code == 302
    with time_machine.travel(start + timedelta(minutes=15, seconds=1), tick=False):
        assert sign_in(client, "bob@example.com", PASSWORD).status_code == 302
    # A success forgets that address's failures from that IP.
    assert not SignInFailure.objects.filter(created_at__gte=start + timedelta(minutes=1)).exists()


def test_one_ip_failing_for_many_addresses_is_stopped_too(client: Client, world: World) -> None:
    for n in range(50):
        sign_in(client, f"guess{n}@example.com", "wrong", ip="10.9.9.9")
    response = sign_in(client, "bob@example.com", PASSWORD, ip="10.9.9.9")
    assert response.status_code == 200
    assert b"Too many failed sign-in attempts" in response.content
    # No typed address or password is stored, only hashes.
    assert all(len(key) == 64 for key in SignInFailure.objects.values_list("key", flat=True))


def test_signing_out_is_a_post_and_ends_the_session(client: Client, world: World) -> None:
    client.force_login(world.bob)
    assert client.get("/accounts/sign-out/").status_code == 405
    response = client.post("/accounts/sign-out/")
    assert response["Location"] == SIGN_IN
    assert client.get(f"/{world.org.slug}/").status_code == 302


def test_a_user_changes_their_password(client: Client, world: World) -> None:
    client.force_login(world.bob)
    response = client.post(
        "/accounts/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "a new and longer secret",
            "new_password2": "a new and longer secret",
        },
    )
    assert response["Location"] == "/accounts/password/done/"
    assert User.objects.get(pk=world.bob.pk).check_password("a new and longer secret")
    assert client.get(f"/{world.org.slug}/").status_code == 200  # still signed in


def test_a_weak_new_password_is_refused(client: Client, world: World) -> None:
    client.force_login(world.bob)
    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert b"This password is too common" in response.content


def test_a_password_reset_link_is_mailed_and_sets_a_new_password(
    client: Client, world: World
) -> None:
    response = client.post("/accounts/password/reset/", {"email": "bob@example.com"})
    assert response["Location"] == "/accounts/password/reset/sent/"
    [message] = mail.outbox
    assert message.to == ["bob@example.com"]
    assert message.subject == "Reset your Spyglass password"
    match = re.search(r"http://127\.0\.0\.1:8000(/accounts/password/reset/\S+/)", str(message.body))
    assert match, message.body
    form = client.get(match.group(1), follow=True)
    assert b"Choose a new password" in form.content
    response = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand new passphrase", "new_password2": "brand new passphrase"},
    )
    assert response["Location"] == "/accounts/password/reset/complete/"
    assert User.objects.get(pk=world.bob.pk).check_password("brand new passphrase")
    # The link works once.
    assert b"This link no longer works" in client.get(match.group(1), follow=True).content


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(
    client: Client, world: World
) -> None:
    response = client.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_a_user_sets_their_name_and_time_zone_and_pages_show_times_in_it(
    client: Client, world: World
) -> None:
    client.force_login(world.bob)
    page = client.get("/accounts/settings/")
    assert b'<option value="Europe/Berlin">Europe/Berlin</option>' in page.content
    response = client.post(
        "/accounts/settings/",
        {"name": "Bob B.", "email": "bob@example.com", "time_zone": "Asia/Tokyo"},
    )
    assert response["Location"] == "/accounts/settings/"
    bob = User.objects.get(pk=world.bob.pk)
    assert (bob.name, bob.time_zone) == ("Bob B.", "Asia/Tokyo")
    assert b"Your settings are saved." in client.get("/accounts/settings/").content
    refused = client.post("/accounts/settings/", {"name": "", "time_zone": "Mars/Olympus"})
    assert b"Select a valid choice" in refused.content
    assert User.objects.get(pk=world.bob.pk).time_zone == "Asia/Tokyo"


class UnreachableMailServer(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError(111, "Connection refused")


def test_a_reset_with_no_reachable_mail_server_is_logged_not_an_error_page(
    client: Client, world: World, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.UnreachableMailServer"
    response = client.post("/accounts/password/reset/", {"email": "bob@example.com"})
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert "Failed to send password reset email" in caplog.text  # Django logs it
