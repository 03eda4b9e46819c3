"""Microsoft Teams through a Workflows (Power Automate) webhook: an Adaptive Card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from spyglass.notifications.base import ConfigField, Kind, post
from spyglass.notifications.facts import Facts

COLORS = {"info": "Accent", "warning": "Warning", "error": "Attention", "critical": "Attention"}


def render(facts: Facts) -> dict[str, Any]:
    n = facts.notification
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": n.level.upper() + (f" · {n.rule_name}" if n.rule_name else ""),
            "size": "Small",
            "weight": "Bolder",
            "color": COLORS.get(n.level, "Good"),
            "wrap": True,
        },
        {"type": "TextBlock", "text": n.title, "size": "Medium", "weight": "Bolder", "wrap": True},
    ]
    if n.text:
        body.append({"type": "TextBlock", "text": n.text, "wrap": True})
    facts_rows = [{"title": label, "value": value} for label, value in facts.field_rows()]
    if facts.top_tags:
        tags = ", ".join(f"{k}: {v} ({c})" for k, v, c in facts.top_tags)
        facts_rows.append({"title": "Top tags", "value": tags})
    if facts_rows:
        body.append({"type": "FactSet", "facts": facts_rows})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Spyglass", "url": n.url}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def deliver(config: Mapping[str, Any], payload: Any) -> int | None:
    return post(str(config["url"]), orjson.dumps(payload))


KIND = Kind(
    name="msteams",
    label="Microsoft Teams",
    description="Posts an Adaptive Card to a Teams Workflows webhook.",
    fields=[
        ConfigField(
            "url",
            "Workflow webhook URL",
            type="url",
            help="The URL of a Teams workflow that posts to a channel on a webhook request.",
        ),
    ],
    render=render,
    deliver=deliver,
    secret_fields=frozenset({"url"}),
)
