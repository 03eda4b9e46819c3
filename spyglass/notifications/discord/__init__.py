"""Discord webhook: one embed with the facts as fields and a link back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from spyglass.notifications.base import ConfigField, Kind, post
from spyglass.notifications.facts import Facts

COLORS = {
    "info": 0x3B82F6,
    "warning": 0xF59E0B,
    "error": 0xE11D48,
    "critical": 0x9F1239,
    "resolved": 0x16A34A,
}


def render(facts: Facts) -> dict[str, Any]:
    n = facts.notification
    fields = [
        {"name": label[:256], "value": (value or "-")[:1024], "inline": True}
        for label, value in facts.field_rows()[:20]
    ]
    if facts.top_tags:
        tags = "\n".join(f"{k}: {v} ({c})" for k, v, c in facts.top_tags)
        fields.append({"name": "Top tags", "value": tags[:1024], "inline": False})
    embed: dict[str, Any] = {
        "title": n.title[:256],
        "url": n.url,
        "description": n.text[:4096],
        "color": COLORS.get(n.level, COLORS["error"]),
        "fields": fields,
        "footer": {"text": f"Spyglass · {n.rule_name}" if n.rule_name else "Spyglass"},
    }
    return {
        "username": "Spyglass",
        "content": "",
        "embeds": [embed],
        # Event data must never ping @everyone or a role.
        "allowed_mentions": {"parse": []},
    }


def deliver(config: Mapping[str, Any], payload: Any) -> int | None:
    return post(str(config["url"]), orjson.dumps(payload))


KIND = Kind(
    name="discord",
    label="Discord",
    description="Posts an embed to a Discord channel webhook.",
    fields=[
        ConfigField(
            "url",
            "Webhook URL",
            type="url",
            help="The channel webhook's URL (https://discord.com/api/webhooks/…).",
        ),
    ],
    render=render,
    deliver=deliver,
    secret_fields=frozenset({"url"}),
)
