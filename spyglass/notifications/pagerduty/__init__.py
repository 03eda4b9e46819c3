"""PagerDuty Events API v2: trigger, and resolve with the same dedup key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from spyglass.notifications.base import ConfigField, Kind, post
from spyglass.notifications.facts import Facts

SEVERITIES = ("critical", "error", "warning", "info")


def severity(level: str, override: str) -> str:
    if override in SEVERITIES:
        return override
    return level if level in SEVERITIES else "info"


def render(facts: Facts) -> dict[str, Any]:
    n = facts.notification
    event: dict[str, Any] = {"event_action": n.action, "dedup_key": n.dedup_key[:255]}
    if n.action == "resolve":
        return event  # PagerDuty takes nothing else with a resolve
    details: dict[str, str] = {"text": n.text}
    details.update({label: value for label, value in facts.field_rows()})
    if n.rule_name:
        details["Rule"] = n.rule_name
    if facts.top_tags:
        details["Top tags"] = ", ".join(f"{k}: {v} ({c})" for k, v, c in facts.top_tags)
    event["payload"] = {
        "summary": n.title[:1024],
        "source": facts.project_slug or "spyglass",
        "severity": n.level,  # replaced by the channel's override in deliver()
        "timestamp": timezone.now().isoformat(),
        "component": facts.culprit[:255] or None,
        "group": facts.project_slug or None,
        "class": n.kind,
        "custom_details": details,
    }
    event["links"] = [{"href": n.url, "text": "Open in Spyglass"}]
    event["client"] = "Spyglass"
    event["client_url"] = n.url
    return event


def deliver(config: Mapping[str, Any], payload: Mapping[str, Any]) -> int | None:
    event = {"routing_key": str(config["routing_key"]), **payload}
    if "payload" in event:
        inner = dict(event["payload"])
        inner["severity"] = severity(str(inner.get("severity", "")), config.get("severity", ""))
        event["payload"] = {k: v for k, v in inner.items() if v is not None}
    return post(str(settings.PAGERDUTY_EVENTS_URL), orjson.dumps(event))


def _validate(config: dict[str, Any]) -> None:
    key = str(config.get("routing_key", ""))
    if len(key) != 32 or not key.isalnum():
        raise ValidationError({"routing_key": ["An integration key is 32 letters and digits."]})


KIND = Kind(
    name="pagerduty",
    label="PagerDuty",
    description="Triggers and resolves PagerDuty incidents (Events API v2), one per issue or "
    "metric alert incident.",
    fields=[
        ConfigField(
            "routing_key",
            "Integration key",
            type="secret",
            help="The Events API v2 integration key of a PagerDuty service.",
        ),
        ConfigField(
            "severity",
            "Severity",
            type="choice",
            required=False,
            choices=[("", "From the alert's level"), *[(s, s.capitalize()) for s in SEVERITIES]],
            help="Leave empty to use the alert's level.",
        ),
    ],
    render=render,
    deliver=deliver,
    extra_validation=_validate,
    secret_fields=frozenset({"routing_key"}),
)
