"""What a caller asks to be sent: one notification, independent of the channel it goes to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = ("issue_alert", "metric_alert", "workflow", "test")
LEVELS = ("info", "warning", "error", "critical", "resolved")
ACTIONS = ("trigger", "resolve")


@dataclass(frozen=True)
class Notification:
    kind: str  # "issue_alert" | "metric_alert" | "workflow" | "test"
    title: str  # the issue title, or "Critical: p99(transaction.duration) above 3s"
    text: str  # one-paragraph plain text summary
    url: str  # absolute link back into Spyglass (issue page, incident page)
    level: str  # "info" | "warning" | "error" | "critical" | "resolved"
    dedup_key: str  # stable per issue or incident: PagerDuty dedup_key, webhook idempotency
    action: str = "trigger"  # "trigger" | "resolve"
    rule_name: str = ""
    issue_id: int | None = None  # channels load issue and event facts from these at send time
    event_id: str | None = None
    incident_id: int | None = None
    fields: Mapping[str, str] = field(default_factory=dict)  # extra facts shown as fields

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown notification kind {self.kind!r}")
        if self.level not in LEVELS:
            raise ValueError(f"unknown level {self.level!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fields"] = {str(k): str(v) for k, v in self.fields.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["fields"] = dict(known.get("fields") or {})
        return cls(**known)
