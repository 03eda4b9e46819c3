"""/api/0/organizations/{org}/channels/: list, create, read, update, delete, test."""

from __future__ import annotations

from typing import Any

import orjson
from django.test import Client, override_settings

from spyglass.api.tests.factory import auth, token_for
from spyglass.notifications import outbox
from spyglass.notifications.models import Channel, Delivery
from spyglass.notifications.tests.factories import make_channel
from spyglass.notifications.tests.receivers import http_receiver
from spyglass.projects.models import Organization
from spyglass.test import World

URL = "/api/0/organizations/acme/channels/"
WRITE = ("alerts:read", "alerts:write")


def call(method: str, url: str, token: str, body: Any = None) -> Any:
    client = Client()
    kwargs: dict[str, Any] = {"headers": auth(token)}
    if body is not None:
        kwargs.update(data=orjson.dumps(body), content_type="application/json")
    return getattr(client, method)(url, **kwargs)


def test_create_list_read_update_delete(world: World) -> None:
    token = token_for(world.alice, WRITE)
    created = call(
        "post",
        URL,
        token,
        {"kind": "webhook", "name": "Ops", "config": {"url": "https://h.org/x", "secret": "k"}},
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slug"] == "ops" and body["kind"] == "webhook" and body["name"] == "Ops"
    assert body["config"] == {"url": "https://h.org/x", "secret": "********"}
    assert body["isBroken"] is False and body["brokenReason"] is None
    assert [c["slug"] for c in call("get", URL, token).json()] == ["ops"]
    assert call("get", URL + "ops/", token).json()["id"] == body["id"]
    updated = call("put", URL + "ops/", token, {"name": "Ops 2", "config": body["config"]})
    assert updated.status_code == 200 and updated.json()["name"] == "Ops 2"
    assert Channel.objects.get().config == {"url": "https://h.org/x", "secret": "k"}
    assert call("delete", URL + "ops/", token).status_code == 204
    assert Channel.objects.count() == 0


def test_bad_input_is_a_400_with_a_detail(world: World) -> None:
    token = token_for(world.alice, WRITE)
    for body, detail in (
        ({"kind": "fax", "name": "x"}, "Invalid kind"),
        ({"kind": "slack", "name": "x", "config": {"url": "nope"}}, "Invalid url"),
        ({"kind": "email", "name": "", "config": {"to": ["a@b.org"]}}, "Invalid name"),
        ({"kind": "email", "name": "x", "config": "a@b.org"}, "Invalid config"),
    ):
        response = call("post", URL, token, body)
        assert response.status_code == 400, body
        assert response.json()["detail"].startswith(detail), response.json()
    make_channel(world.org, "email", "ops", to=["a@b.org"])
    taken = call("post", URL, token, {"kind": "email", "name": "Ops", "config": {"to": "a@b.org"}})
    assert taken.status_code == 400 and "already has" in taken.json()["detail"]


def test_reads_and_writes_need_their_scopes_and_roles(world: World) -> None:
    make_channel(world.org, "webhook", "hook", url="https://h.org/")
    read_only = token_for(world.alice, ("alerts:read",))
    assert call("get", URL, read_only).status_code == 200
    assert call("post", URL + "hook/test/", read_only).status_code == 403
    assert call("get", URL, token_for(world.alice, ("event:read",))).status_code == 403
    member = token_for(world.bob, WRITE)  # bob is a plain member
    assert call("get", URL + "hook/", member).status_code == 200
    assert call("delete", URL + "hook/", member).status_code == 403
    assert Channel.objects.count() == 1


def test_other_organizations_channels_are_404(world: World) -> None:
    other = Organization.objects.create(name="Other", slug="other")
    make_channel(other, "webhook", "theirs", url="https://h.org/")
    token = token_for(world.charlie, WRITE)
    assert call("get", "/api/0/organizations/other/channels/", token).status_code == 404
    assert call("get", "/api/0/organizations/acme/channels/", token).status_code == 404
    alice = token_for(world.alice, WRITE)
    assert call("get", URL + "theirs/", alice).status_code == 404
    assert call("post", URL + "theirs/test/", alice).status_code == 404


@override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
def test_test_queues_a_message_and_the_attempts_show_it(world: World) -> None:
    token = token_for(world.alice, WRITE)
    with http_receiver() as receiver:
        make_channel(world.org, "webhook", "hook", url=receiver.url)
        response = call("post", URL + "hook/test/", token)
        assert response.status_code == 202
        assert response.json()["status"] == "pending"
        outbox.run_once("api-test", 10)
    assert receiver.requests[0].json()["message"] == "Test notification for hook"
    [attempt] = call("get", URL + "hook/attempts/", token).json()
    assert attempt["ok"] is True and attempt["statusCode"] == 200 and attempt["isTest"] is True
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_put_is_broken_false_marks_the_channel_fixed(world: World) -> None:
    channel = make_channel(world.org, "webhook", "hook", url="https://h.org/")
    channel.mark_broken("HTTP 410")
    token = token_for(world.alice, WRITE)
    body = call("get", URL + "hook/", token).json()
    assert body["isBroken"] is True and body["brokenReason"] == "HTTP 410"
    assert call("put", URL + "hook/", token, {"isBroken": False}).json()["isBroken"] is False
