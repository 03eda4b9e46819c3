"""Slack incoming webhook, as Block Kit: title, culprit, level, environment, release, counts,
first seen, top tags and a link back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from django.template.loader import render_to_string

from spyglass.notifications.base import ConfigField, Kind, plain_text, post
from spyglass.notifications.facts import Facts

LEVEL_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "error": ":red_circle:",
    "critical": ":rotating_light:",
    "resolved": ":white_check_mark:",
}


def escape(text: str) -> str:
    """Slack's mrkdwn: these three are control characters, everything else is text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(facts: Facts) -> dict[str, Any]:
    n = facts.notification
    headline = render_to_string(
        "notifications/slack/headline.txt",
        {"n": n, "emoji": LEVEL_EMOJI.get(n.level, ""), "title": escape(n.title)},
    ).strip()
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
    ]
    if n.text:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": escape(n.text)[:3000]}}
        )
    rows = facts.field_rows()
    if rows:
        fields = [
            {"type": "mrkdwn", "text": f"*{escape(label)}*\n{escape(value)}"[:2000]}
            for label, value in rows[:10]  # Slack's limit per section
        ]
        blocks.append({"type": "section", "fields": fields})
    if facts.top_tags:
        tags = "  ".join(f"`{escape(k)}: {escape(v)}` ({c})" for k, v, c in facts.top_tags)
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Top tags: {tags}"}]}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Open in Spyglass"},
                    "url": n.url,
                }
            ],
        }
    )
    # ``text`` is what notifications and screen readers show.
    return {"text": plain_text(facts)[:3000], "blocks": blocks}


def deliver(config: Mapping[str, Any], payload: Any) -> int | None:
    return post(str(config["url"]), orjson.dumps(payload))


KIND = Kind(
    name="slack",
    label="Slack",
    description="Posts a Block Kit message to a Slack incoming webhook.",
    fields=[
        ConfigField(
            "url",
            "Webhook URL",
            type="url",
            help="The incoming webhook's URL (https://hooks.slack.com/services/…).",
        ),
    ],
    render=render,
    deliver=deliver,
    secret_fields=frozenset({"url"}),
)
