"""The channel pages and the user's notification settings."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from spyglass.notifications import outbox
from spyglass.notifications.models import (
    Channel,
    Delivery,
    NotificationPreference,
    ProjectAlertEmail,
)
from spyglass.notifications.send import send
from spyglass.notifications.tests.factories import issue_alert, make_channel, make_issue
from spyglass.notifications.tests.receivers import http_receiver
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import PASSWORD, World

BASE = "/acme/settings/channels/"


def signed_in(user_email: str, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=user_email, password=PASSWORD)
    return client


def test_outsiders_get_404_for_every_channel_page(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/")
    client = signed_in("charlie@example.com")
    for path in (BASE, BASE + "new/?kind=webhook", BASE + "hook/", BASE + "hook/delete/"):
        assert client.get(path).status_code == 404, path
    for path in (BASE + "hook/test/", BASE + "hook/fixed/", BASE + "hook/delete/"):
        assert client.post(path).status_code == 404, path
    assert Channel.objects.count() == 1 and Delivery.objects.count() == 0


def test_a_channel_of_another_organization_is_404_by_slug(world: World) -> None:
    other = Organization.objects.create(name="Other", slug="other")
    make_channel(other, "webhook", "theirs", url="https://x.org/")
    client = signed_in("alice@example.com")
    assert client.get(BASE + "theirs/").status_code == 404
    assert client.post(BASE + "theirs/test/").status_code == 404


def test_members_read_but_may_not_write(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/h", secret="s3cret")
    client = signed_in("bob@example.com")
    page = client.get(BASE + "hook/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "https://x.org/h" in html and "s3cret" not in html and "********" in html
    assert "Send test" not in html
    assert client.post(BASE + "hook/test/").status_code == 403
    assert (
        client.post(BASE + "hook/", {"name": "x", "config_url": "https://y.org/"}).status_code
        == 403
    )
    assert client.get(BASE + "new/?kind=webhook").status_code == 403
    assert Delivery.objects.count() == 0


def test_channel_pages_share_the_organization_settings_navigation(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/h")
    client = signed_in("alice@example.com")
    for path in (BASE, BASE + "hook/", BASE + "new/?kind=webhook", BASE + "hook/delete/"):
        html = client.get(path).content.decode()
        nav = html.split('class="settings-nav"')[1].split("</nav>")[0]
        for section in ("members", "teams", "projects"):
            assert f'href="/acme/settings/{section}/"' in nav, path
        assert f'<a href="{BASE}" aria-current="page">Channels</a>' in nav, path
        assert "Acme settings" in html


def test_creating_a_channel_validates_its_config(world: World) -> None:
    client = signed_in("alice@example.com")
    assert "Slack" in client.get(BASE + "new/").content.decode()
    bad = client.post(BASE + "new/?kind=webhook", {"name": "Ops hook", "config_url": "ftp://x"})
    assert bad.status_code == 200
    assert "Enter an http:// or https:// URL." in bad.content.decode()
    good = client.post(
        BASE + "new/?kind=webhook",
        {"name": "Ops hook", "config_url": "https://hooks.example.com/x", "config_secret": "k"},
    )
    assert good.status_code == 302 and good["Location"] == BASE + "ops-hook/"
    channel = Channel.objects.get()
    assert (channel.kind, channel.slug, channel.name) == ("webhook", "ops-hook", "Ops hook")
    assert channel.config == {"url": "https://hooks.example.com/x", "secret": "k"}
    again = client.post(
        BASE + "new/?kind=webhook",
        {"name": "Ops hook", "slug": "ops-hook", "config_url": "https://h.org/"},
    )
    assert "already has a channel" in again.content.decode()


def test_editing_keeps_a_secret_left_empty(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/h", secret="s3cret")
    client = signed_in("alice@example.com")
    response = client.post(
        BASE + "hook/",
        {"name": "Renamed", "slug": "hook", "config_url": "https://y.org/h", "config_secret": ""},
    )
    assert response.status_code == 302
    channel = Channel.objects.get()
    assert channel.name == "Renamed"
    assert channel.config == {"url": "https://y.org/h", "secret": "s3cret"}


def test_forms_need_csrf(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/h")
    client = signed_in("alice@example.com", csrf=True)
    assert client.post(BASE + "hook/test/").status_code == 403
    assert client.post(BASE + "hook/delete/").status_code == 403
    assert Delivery.objects.count() == 0 and Channel.objects.count() == 1


@override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
def test_send_test_then_the_log_shows_the_attempt(world: World) -> None:
    client = signed_in("alice@example.com")
    with http_receiver() as receiver:
        make_channel(world.org, "webhook", "hook", url=receiver.url + "/in")
        response = client.post(BASE + "hook/test/", follow=True)
        assert "Test message queued" in response.content.decode()
        assert 'data-pending="1"' in response.content.decode()
        outbox.run_once("test", 10)
    [request] = receiver.requests
    assert request.json()["message"] == "Test notification for hook"
    html = client.get(BASE + "hook/").content.decode()
    assert "data-pending" not in html
    assert "Test notification for hook" in html and ">delivered<" in html
    assert '<td class="code" data-label="Code">200</td>' in html


@override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
def test_a_broken_channel_shows_why_and_can_be_marked_fixed(world: World) -> None:
    client = signed_in("alice@example.com")
    with http_receiver() as receiver:
        receiver.default_status = 404
        receiver.response_body = b"no such hook <script>"
        channel = make_channel(world.org, "webhook", "hook", url=receiver.url)
        send(channel, issue_alert(make_issue(world.project)))
        outbox.run_once("test", 10)
    html = client.get(BASE + "hook/").content.decode()
    assert "This channel is broken" in html
    assert "HTTP 404: no such hook &lt;script&gt;" in html
    assert "<script>" not in html.split("</head>")[1]
    listing = client.get(BASE).content.decode()
    assert "badge-broken" in listing and "Failed" in listing
    assert "A delivery failed permanently: HTTP 404: no such hook &lt;script&gt;" in listing
    client.post(BASE + "hook/fixed/")
    channel.refresh_from_db()
    assert not channel.is_broken
    assert "This channel is broken" not in client.get(BASE + "hook/").content.decode()


def test_deleting_asks_first(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://x.org/h")
    client = signed_in("alice@example.com")
    assert "Delete the channel" in client.get(BASE + "hook/delete/").content.decode()
    assert Channel.objects.count() == 1
    assert client.post(BASE + "hook/delete/")["Location"] == BASE
    assert Channel.objects.count() == 0


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_write(world: World, role: str) -> None:
    Member.objects.filter(user=world.bob).update(role=role)
    client = signed_in("bob@example.com")
    response = client.post(
        BASE + "new/?kind=email", {"name": "Ops", "config_to": "ops@example.com"}
    )
    assert response.status_code == 302
    assert Channel.objects.get().config == {"to": ["ops@example.com"]}


def test_user_notification_settings(world: World) -> None:
    client = signed_in("bob@example.com")
    page = client.get("/accounts/settings/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "An issue is assigned to me" in html and "Acme / Backend" in html
    response = client.post(
        "/accounts/settings/notifications/",
        {"assigned": "on", "comment": "on", "alert_projects": [str(world.project.pk)]},
    )
    assert response.status_code == 302
    pref = NotificationPreference.objects.get(user=world.bob)
    assert (pref.assigned, pref.regression, pref.comment) == (True, False, True)
    assert set(
        ProjectAlertEmail.objects.filter(user=world.bob).values_list("project__slug", "enabled")
    ) == {("backend", True), ("frontend", False)}


def test_the_outbox_admin_pages_render(world: World) -> None:
    channel = make_channel(world.org, "webhook", "hook", url="https://x.org/h")
    send(channel, issue_alert(make_issue(world.project)))
    client = signed_in("alice@example.com")  # a superuser
    for path in (
        "/admin/notifications/channel/",
        "/admin/notifications/delivery/",
        f"/admin/notifications/delivery/{Delivery.objects.get().pk}/change/",
    ):
        assert client.get(path).status_code == 200, path
