"""Email over SMTP (Django's email settings), HTML and plain text, with links back."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string

from spyglass.notifications.base import ConfigField, Kind, TransportError
from spyglass.notifications.facts import Facts


def render(facts: Facts) -> dict[str, str]:
    n = facts.notification
    context = {"n": n, "facts": facts, "rows": facts.field_rows(), "top_tags": facts.top_tags}
    prefix = {"resolved": "Resolved", "critical": "Critical", "warning": "Warning"}.get(n.level)
    subject = f"[{prefix}] {n.title}" if prefix and not n.title.startswith(prefix) else n.title
    if facts.project_slug:
        subject = f"[{facts.project_slug}] {subject}"
    return {
        "subject": " ".join(subject.split())[:250],
        "text": render_to_string("notifications/email/message.txt", context),
        "html": render_to_string("notifications/email/message.html", context),
    }


def deliver(config: Mapping[str, Any], payload: Mapping[str, str]) -> int | None:
    recipients = list(config.get("to") or [])
    if not recipients:
        raise TransportError("no recipients", permanent=True)
    connection = get_connection(timeout=settings.NOTIFY_TIMEOUT)
    message = EmailMultiAlternatives(
        subject=payload["subject"],
        body=payload["text"],
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        connection=connection,
    )
    message.attach_alternative(payload["html"], "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        raise TransportError(f"recipients refused: {exc.recipients}", permanent=True) from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise TransportError(f"SMTP authentication failed: {exc}", permanent=True) from exc
    except smtplib.SMTPResponseException as exc:
        # 5xx replies are final; 4xx ones (greylisting, busy) are worth another try.
        raise TransportError(
            f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
            permanent=exc.smtp_code >= 500,
            status_code=exc.smtp_code,
        ) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise TransportError(f"SMTP: {type(exc).__name__}: {exc}", permanent=False) from exc
    return None


KIND = Kind(
    name="email",
    label="Email",
    description="Sends an email (HTML and plain text) through the server's SMTP settings.",
    fields=[
        ConfigField(
            "to", "Recipients", type="emails", help="Email addresses, separated by commas."
        ),
    ],
    render=render,
    deliver=deliver,
)
