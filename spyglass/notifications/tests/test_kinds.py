"""Each channel kind's payload, as a real receiver on loopback gets it, field by field."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from spyglass.notifications import outbox, registry
from spyglass.notifications.models import Delivery, DeliveryAttempt
from spyglass.notifications.send import send
from spyglass.notifications.tests.factories import issue_alert, make_channel, make_issue
from spyglass.notifications.tests.receivers import http_receiver
from spyglass.test import World

LOOPBACK = override_settings(OUTBOUND_ALLOWLIST="127.0.0.1")
URL = "http://spyglass.test/acme/shop/issues/7/"


def deliver_one(
    world: World, kind: str, issue_fields: dict[str, Any] | None = None, **config: Any
) -> Any:
    """Send an issue alert through a channel of ``kind`` to a receiver; the requests."""
    issue = make_issue(world.project, **(issue_fields or {}))
    with http_receiver() as receiver:
        receiver.default_status = 202 if kind in ("pagerduty", "msteams") else 200
        if kind == "pagerduty":
            config.setdefault("routing_key", "R" * 32)
        else:
            config.setdefault("url", receiver.url + "/hook")
        channel = make_channel(world.org, kind, kind, **config)
        with override_settings(PAGERDUTY_EVENTS_URL=receiver.url + "/v2/enqueue"):
            send(channel, issue_alert(issue))
            outbox.run_once("test", 100)
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED, (
        DeliveryAttempt.objects.values_list("error", flat=True).first()
    )
    return receiver.requests


@LOOPBACK
def test_slack_gets_block_kit_with_every_fact(world: World) -> None:
    [request] = deliver_one(world, "slack")
    body = request.json()
    assert body["text"].startswith("ValueError: card declined (New issues)")
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["section", "section", "section", "context", "actions"]
    assert (
        blocks[0]["text"]["text"]
        == f":red_circle: *<{URL}|ValueError: card declined>*\nRule: New issues"
    )
    assert blocks[1]["text"]["text"] == "A new issue was first seen in shop."
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in blocks[2]["fields"]}
    assert fields == {
        "*Project*": "backend",
        "*Level*": "error",
        "*Culprit*": "shop.checkout in pay",
        "*Environment*": "production",
        "*Release*": "shop@1.2.0",
        "*Events*": "42",
        "*Users*": "5",
        "*First seen*": "2026-11-18 12:00 UTC",
    }
    assert blocks[3]["elements"][0]["text"] == (
        "Top tags: `environment: production` (42)  `browser: Firefox` (30)"
    )
    assert blocks[4]["elements"][0]["url"] == URL


@LOOPBACK
def test_slack_escapes_its_control_characters(world: World) -> None:
    [request] = deliver_one(world, "slack", {"title": "<!channel> & <http://evil|click>"})
    headline = request.json()["blocks"][0]["text"]["text"]
    assert "&lt;!channel&gt; &amp; &lt;http://evil|click&gt;" in headline
    assert "<!channel>" not in headline


@LOOPBACK
def test_discord_gets_an_embed_and_mentions_are_off(world: World) -> None:
    [request] = deliver_one(world, "discord")
    body = request.json()
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "ValueError: card declined"
    assert embed["url"] == URL
    assert embed["description"] == "A new issue was first seen in shop."
    assert embed["color"] == 0xE11D48
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Culprit"] == "shop.checkout in pay"
    assert fields["Release"] == "shop@1.2.0"
    assert fields["Events"] == "42"
    assert fields["Top tags"] == "environment: production (42)\nbrowser: Firefox (30)"
    assert embed["footer"]["text"] == "Spyglass · New issues"


@LOOPBACK
def test_teams_gets_an_adaptive_card(world: World) -> None:
    [request] = deliver_one(world, "msteams")
    body = request.json()
    assert body["type"] == "message"
    [attachment] = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    texts = [b.get("text") for b in card["body"] if b["type"] == "TextBlock"]
    assert texts == [
        "ERROR · New issues",
        "ValueError: card declined",
        "A new issue was first seen in shop.",
    ]
    [factset] = [b for b in card["body"] if b["type"] == "FactSet"]
    facts = {f["title"]: f["value"] for f in factset["facts"]}
    assert facts["Environment"] == "production" and facts["Users"] == "5"
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Spyglass", "url": URL}]


@LOOPBACK
def test_pagerduty_triggers_then_resolves_with_the_same_dedup_key(world: World) -> None:
    [trigger] = deliver_one(world, "pagerduty")
    assert trigger.path == "/v2/enqueue"
    body = trigger.json()
    issue_key = body["dedup_key"]
    assert issue_key.startswith("issue-")
    assert body["routing_key"] == "R" * 32
    assert body["event_action"] == "trigger"
    payload = body["payload"]
    assert payload["summary"] == "ValueError: card declined"
    assert payload["source"] == "backend"
    assert payload["severity"] == "error"
    assert payload["component"] == "shop.checkout in pay"
    assert payload["class"] == "issue_alert"
    assert payload["custom_details"]["Release"] == "shop@1.2.0"
    assert body["links"] == [{"href": URL, "text": "Open in Spyglass"}]

    Delivery.objects.all().delete()
    from spyglass.issues.models import Issue

    issue = Issue.objects.get()
    [resolve] = deliver_one_more(world, issue_alert(issue, action="resolve", level="resolved"))
    assert resolve.json() == {
        "routing_key": "R" * 32,
        "event_action": "resolve",
        "dedup_key": issue_key,
    }


def deliver_one_more(world: World, notification: Any) -> Any:
    from spyglass.notifications.models import Channel

    channel = Channel.objects.get(kind="pagerduty")
    with http_receiver() as receiver:
        receiver.default_status = 202
        with override_settings(PAGERDUTY_EVENTS_URL=receiver.url + "/v2/enqueue"):
            send(channel, notification)
            outbox.run_once("test", 100)
    return receiver.requests


@LOOPBACK
def test_pagerduty_severity_can_be_fixed_per_channel(world: World) -> None:
    [request] = deliver_one(world, "pagerduty", severity="critical")
    assert request.json()["payload"]["severity"] == "critical"


@LOOPBACK
def test_apprise_json_payload_field_by_field(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver:
        port = receiver.server.server_address[1]
        channel = make_channel(world.org, "apprise", "a", url=f"json://127.0.0.1:{port}/apprise")
        send(channel, issue_alert(issue))
        outbox.run_once("test", 100)
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    [request] = receiver.requests
    assert request.path == "/apprise"
    body = request.json()
    assert body["title"] == "ValueError: card declined"
    assert body["type"] == "failure"
    assert body["message"].startswith("ValueError: card declined (New issues)\n")
    assert "Culprit: shop.checkout in pay" in body["message"]
    assert body["message"].endswith(URL)


def test_apprise_hosts_go_through_the_ssrf_guard(world: World) -> None:
    issue = make_issue(world.project)
    with http_receiver() as receiver, override_settings(OUTBOUND_ALLOWLIST=""):
        port = receiver.server.server_address[1]
        channel = make_channel(world.org, "apprise", "a", url=f"json://127.0.0.1:{port}/x")
        send(channel, issue_alert(issue))
        outbox.run_once("test", 100)
    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.permanent and "loopback" in attempt.error


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("email", {"to": "not-an-address"}, "to"),
        ("email", {}, "to"),
        ("slack", {"url": "ftp://x"}, "url"),
        ("webhook", {"url": ""}, "url"),
        ("pagerduty", {"routing_key": "short"}, "routing_key"),
        ("pagerduty", {"routing_key": "R" * 32, "severity": "loud"}, "severity"),
        ("apprise", {"url": "nosuchscheme://x"}, "url"),
    ],
)
def test_bad_configs_are_refused_by_field(kind: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        registry.get(kind).clean_config(config)
    assert field in info.value.message_dict


def test_good_configs_are_cleaned() -> None:
    assert registry.get("email").clean_config({"to": "a@x.org, b@y.org\nc@z.org"}) == {
        "to": ["a@x.org", "b@y.org", "c@z.org"]
    }
    assert registry.get("webhook").clean_config({"url": " https://x.org/h ", "secret": ""}) == {
        "url": "https://x.org/h"
    }
