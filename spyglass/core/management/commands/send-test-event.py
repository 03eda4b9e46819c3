"""`spyglass send-test-event DSN`: send one error with the real sentry-sdk and wait for it."""

from __future__ import annotations

from typing import Any

import sentry_sdk
from django.core.management.base import BaseCommand, CommandError, CommandParser

from spyglass.protocol.dsn import parse_dsn


class Command(BaseCommand):
    help = "Send a test error event to a DSN with the official Python SDK."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("dsn")
        parser.add_argument("--message", default="Spyglass test event")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            parse_dsn(options["dsn"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        sentry_sdk.init(
            options["dsn"], default_integrations=False, auto_enabling_integrations=False
        )
        sentry_sdk.set_tag("spyglass.test", "true")
        try:
            raise RuntimeError(options["message"])
        except RuntimeError as exc:
            event_id = sentry_sdk.capture_exception(exc)
        sentry_sdk.flush(timeout=10)
        if event_id is None:
            raise CommandError("the SDK dropped the event")
        self.stdout.write(f"Sent event {event_id}")
