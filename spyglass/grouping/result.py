"""What grouping produces: variants (each a way to hash the event) and the hashes in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spyglass.grouping.components import Component


@dataclass
class Variant:
    """One way of grouping the event.

    `name`: "app", "system" or "default" (component variants), "custom-fingerprint",
    "built-in-fingerprint", "checksum", "hashed-checksum" or "fallback".
    `type`: "component", "salted-component" (a `{{ default }}` fingerprint with extra values),
    "custom-fingerprint", "built-in-fingerprint", "checksum" or "fallback".
    """

    name: str
    type: str
    contributes: bool
    hash: str | None
    description: str
    component: Component | None = None
    values: list[str] | None = None  # the resolved fingerprint, for fingerprint variants
    client_values: list[str] | None = None  # the SDK's fingerprint, when a rule replaced it
    matched_rule: str | None = None
    hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "description": self.description,
            "contributes": self.contributes,
            "hash": self.hash,
        }
        if self.hint:
            data["hint"] = self.hint
        for key in ("values", "client_values", "matched_rule"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        if self.component is not None:
            data["component"] = self.component.to_dict()
        return data

    def render(self) -> list[str]:
        """A readable multi-line description (used by the snapshot tests)."""
        lines = [f"{self.name}:", f"  type: {self.type}", f"  description: {self.description}"]
        lines.append(f"  contributes: {str(self.contributes).lower()}")
        lines.append(f"  hash: {self.hash or '-'}")
        for label, value in (
            ("hint", self.hint),
            ("values", self.values),
            ("client values", self.client_values),
            ("matched rule", self.matched_rule),
        ):
            if value is not None:
                lines.append(f"  {label}: {value}")
        if self.component is not None:
            lines.append("  component:")
            lines.extend(self.component.render(indent=2))
        return lines


@dataclass
class GroupingResult:
    config_id: str
    # md5 hex digests, the preferred first: the digest looks them up in this order.
    hashes: list[str]
    variants: dict[str, Variant]
    # The fingerprint grouping used (after rules), and a rule's `title="..."`, expanded.
    fingerprint: list[str] = field(default_factory=lambda: ["{{ default }}"])
    title: str | None = None
    matched_rule: str | None = None
    # `mechanism.exception_id` of the exception to title the issue by, when not the last one.
    main_exception_id: int | None = None

    @property
    def primary_hash(self) -> str:
        return self.hashes[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config_id,
            "hashes": self.hashes,
            "fingerprint": self.fingerprint,
            "title": self.title,
            "matched_rule": self.matched_rule,
            "main_exception_id": self.main_exception_id,
            "variants": {name: v.to_dict() for name, v in self.variants.items()},
        }

    def render(self) -> str:
        lines = [f"config: {self.config_id}", f"hashes: {self.hashes}"]
        if self.fingerprint != ["{{ default }}"]:
            lines.append(f"fingerprint: {self.fingerprint}")
        if self.title is not None:
            lines.append(f"title: {self.title}")
        if self.main_exception_id is not None:
            lines.append(f"main exception id: {self.main_exception_id}")
        for variant in self.variants.values():
            lines.append("")
            lines.extend(variant.render())
        return "\n".join(lines) + "\n"
