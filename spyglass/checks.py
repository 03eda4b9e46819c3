"""System checks for combinations of settings (ids are stable: docs/configuration.md)."""

from __future__ import annotations

import os
import sqlite3
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

MIN_SQLITE = (3, 35, 0)  # UPSERT … RETURNING, used by the queue


def _has_valid_port(url: SplitResult) -> bool:
    try:
        url.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return False
    return True


# Long-running processes run only these at start (see core/management/commands/*: Django's
# own checks import every URL module, the API's django-ninja and pydantic included); `spyglass
# migrate` and `spyglass check` run them all.
TAG = "spyglass"


@register(TAG)
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    problems: list[CheckMessage] = []
    if not os.access(settings.DATA_DIR, os.W_OK):
        problems.append(
            Error(
                f"The data directory {settings.DATA_DIR} is not writable.",
                hint="Set SPYGLASS_DATA_DIR to a directory the server can write.",
                id="spyglass.E001",
            )
        )
    base = urlsplit(settings.BASE_URL)
    if (
        base.scheme not in ("http", "https")
        or not base.hostname
        or base.query
        or base.fragment
        or "@" in base.netloc  # a DSN puts its public key there
        or not _has_valid_port(base)
    ):
        problems.append(
            Error(
                f"SPYGLASS_BASE_URL {settings.BASE_URL!r} is not an http(s) URL.",
                hint="Use the address users and SDKs reach, e.g. https://spyglass.example.com",
                id="spyglass.E002",
            )
        )
    if settings.MAX_EVENT_SIZE > settings.MAX_ENVELOPE_SIZE:
        problems.append(
            Error(
                "SPYGLASS_MAX_EVENT_SIZE is larger than SPYGLASS_MAX_ENVELOPE_SIZE.",
                hint="An event travels inside an envelope; raise the envelope limit.",
                id="spyglass.E003",
            )
        )
    if not settings.USING_POSTGRES and sqlite3.sqlite_version_info < MIN_SQLITE:
        problems.append(
            Error(
                f"SQLite {sqlite3.sqlite_version} is too old; Spyglass needs 3.35 or newer.",
                id="spyglass.E004",
            )
        )
    if settings.DEBUG:
        problems.append(
            Warning(
                "SPYGLASS_DEBUG is on: error pages show settings and code.",
                hint="Never enable it on a server others can reach.",
                id="spyglass.W001",
            )
        )
    if base.scheme == "http" and base.hostname not in ("127.0.0.1", "localhost", "::1"):
        problems.append(
            Warning(
                "SPYGLASS_BASE_URL is plain http on a non-loopback host: DSNs and sign-in "
                "cookies travel unencrypted.",
                hint="Put Spyglass behind TLS and use an https base URL.",
                id="spyglass.W002",
            )
        )
    return problems
