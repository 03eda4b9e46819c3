"""What every channel kind has: a config schema, ``render`` and ``deliver``.

A kind is a package under ``spyglass/notifications/`` whose module defines ``KIND``. Its
``render(facts)`` turns a notification (with the issue and event facts loaded at send time)
into the kind's payload; ``deliver(config, payload)`` sends it and raises
``TransportError(permanent=...)`` when it does not arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from spyglass.lib import http
from spyglass.notifications.facts import Facts


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code


@dataclass(frozen=True)
class ConfigField:
    name: str
    label: str
    type: str = "text"  # text | url | secret | emails | choice | bool
    required: bool = True
    help: str = ""
    choices: Sequence[tuple[str, str]] = ()
    default: str = ""


@dataclass(frozen=True)
class Kind:
    name: str  # stored in Channel.kind
    label: str
    fields: Sequence[ConfigField]
    render: Callable[[Facts], Any]
    deliver: Callable[[Mapping[str, Any], Any], int | None]  # returns the HTTP status, if any
    extra_validation: Callable[[dict[str, Any]], None] | None = None
    description: str = ""
    secret_fields: frozenset[str] = field(default_factory=frozenset)

    def clean_config(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Validated config from form or API input; raises ``ValidationError`` (by field)."""
        cleaned: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for spec in self.fields:
            try:
                value = _clean_field(spec, data.get(spec.name))
            except ValidationError as exc:
                errors[spec.name] = list(exc.messages)
                continue
            if value not in ("", None, []):
                cleaned[spec.name] = value
        if not errors and self.extra_validation is not None:
            try:
                self.extra_validation(cleaned)
            except ValidationError as exc:
                errors.update(exc.message_dict if hasattr(exc, "error_dict") else {})
                if not hasattr(exc, "error_dict"):
                    errors["__all__"] = list(exc.messages)
        if errors:
            raise ValidationError(errors)
        return cleaned


def validate_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter an http:// or https:// URL.")
    if len(value) > 2000:
        raise ValidationError("This URL is too long.")
    return value


def _clean_field(spec: ConfigField, raw: Any) -> Any:
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() in ("1", "true", "on", "yes") if raw is not None else False
    if spec.type == "emails":
        if isinstance(raw, list | tuple):
            items = [str(x).strip() for x in raw]
        else:
            items = [x.strip() for x in str(raw or "").replace("\n", ",").split(",")]
        items = [x for x in items if x]
        if spec.required and not items:
            raise ValidationError("Enter at least one email address.")
        for item in items:
            validate_email(item)
        return items
    value = "" if raw is None else str(raw).strip()
    if not value:
        if spec.required:
            raise ValidationError("This field is required.")
        return spec.default
    if len(value) > 4000:
        raise ValidationError("This value is too long.")
    if spec.type == "url":
        return validate_http_url(value)
    if spec.type == "choice" and value not in {key for key, _ in spec.choices}:
        raise ValidationError(f"Choose one of: {', '.join(k for k, _ in spec.choices)}.")
    return value


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    ok_statuses: Sequence[int] = (),
) -> int:
    """POST through the guarded client; map what went wrong to a (permanent or not) error."""
    from django.conf import settings

    try:
        response = http.request(
            "POST",
            url,
            body=body,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=settings.NOTIFY_TIMEOUT,
        )
    except http.Refused as exc:
        raise TransportError(str(exc), permanent=True) from exc
    except http.OutboundError as exc:
        raise TransportError(str(exc), permanent=False) from exc
    if response.ok or response.status in ok_statuses:
        return response.status
    snippet = response.text(300).strip()
    message = f"HTTP {response.status}" + (f": {snippet}" if snippet else "")
    # Throttled or a server error: try again later. Anything else the receiver refused.
    temporary = response.status in (408, 425, 429) or response.status >= 500
    raise TransportError(message, permanent=not temporary, status_code=response.status)


def plain_text(facts: Facts) -> str:
    """The message as plain text (the template every chat kind starts from)."""
    from django.template.loader import render_to_string

    context = {"n": facts.notification, "rows": facts.field_rows(), "top_tags": facts.top_tags}
    return render_to_string("notifications/plain.txt", context).strip()
