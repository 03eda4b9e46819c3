"""A generic webhook: Sentry's legacy webhook payload, optionally signed with HMAC-SHA256.

Receivers written for Sentry's "WebHooks" plugin read the same fields here (``id``,
``project``, ``project_name``, ``project_slug``, ``logger``, ``level``, ``culprit``,
``message``, ``url``, ``triggering_rules``, ``event``). With a secret, the raw body's
HMAC-SHA256 goes in ``Sentry-Hook-Signature`` (hex, as Sentry's integration webhooks sign) and
in ``X-Spyglass-Signature`` as ``sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

import orjson

from spyglass.notifications.base import ConfigField, Kind, post
from spyglass.notifications.facts import Facts

USER_AGENT = "sentry-webhooks/spyglass"


def render(facts: Facts) -> dict[str, Any]:
    n = facts.notification
    issue = facts.issue
    event: dict[str, Any] = dict(facts.event_data)
    if facts.event is not None:
        event["event_id"] = facts.event.event_id
        event["id"] = facts.event.event_id
        event["tags"] = [[k, v] for k, v in facts.tags]
    # A metric alert has no issue: its project comes from the fields the rule gave.
    named = n.fields.get("project") or n.fields.get("projects", "").split(",")[0].strip()
    project = facts.project_slug or named
    body: dict[str, Any] = {
        "id": str(issue.pk) if issue else str(n.incident_id or n.dedup_key),
        "project": project,
        "project_name": facts.project_name or project,
        "project_slug": project,
        "logger": (issue.logger or None) if issue else None,
        "level": issue.level if issue else n.level,
        "culprit": facts.culprit,
        "message": n.title if issue is None else (facts.event.title if facts.event else n.title),
        "url": n.url,
        "triggering_rules": [n.rule_name] if n.rule_name else [],
        "event": event,
    }
    return {"body": body, "dedup_key": n.dedup_key, "action": n.action}


def deliver(config: Mapping[str, Any], payload: Mapping[str, Any]) -> int | None:
    raw = orjson.dumps(payload["body"])
    headers = {
        "User-Agent": USER_AGENT,
        "X-Spyglass-Dedup-Key": " ".join(str(payload.get("dedup_key", "")).split())[:255],
        "X-Spyglass-Action": str(payload.get("action", "trigger")),
    }
    secret = config.get("secret")
    if secret:
        digest = sign(str(secret), raw)
        headers["Sentry-Hook-Signature"] = digest
        headers["Sentry-Hook-Timestamp"] = str(int(time.time()))
        headers["X-Spyglass-Signature"] = f"sha256={digest}"
    return post(str(config["url"]), raw, headers)


def sign(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


KIND = Kind(
    name="webhook",
    label="Webhook",
    description=(
        "POSTs Sentry's legacy webhook payload as JSON, so receivers written for Sentry work."
    ),
    fields=[
        ConfigField("url", "URL", type="url", help="Where to POST the JSON payload."),
        ConfigField(
            "secret",
            "Signing secret",
            type="secret",
            required=False,
            help="Optional: sign each body with HMAC-SHA256 (Sentry-Hook-Signature header).",
        ),
    ],
    render=render,
    deliver=deliver,
    secret_fields=frozenset({"secret"}),
)
