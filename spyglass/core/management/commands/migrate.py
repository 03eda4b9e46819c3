"""`spyglass migrate`: Django's migrate, run on every database alias unless one is named."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("database") not in (None, "default") or options.get("app_label"):
            super().handle(*args, **options)
            return
        for alias in connections:
            options["database"] = alias
            super().handle(*args, **options)
