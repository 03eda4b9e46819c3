"""`spyglass migrate`: Django's migrate, run on every database alias unless one is named."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections


class Command(DjangoMigrate):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        # None means "not named". Django's test runner names each database it sets up, and
        # must not migrate the real databases behind the other aliases.
        parser.set_defaults(database=None)

    def get_check_kwargs(self, options: Any) -> dict[str | None, Any]:
        kwargs = super().get_check_kwargs(options)
        if options["database"] is None:
            kwargs["databases"] = list(connections)
        return kwargs

    def handle(self, *args: Any, **options: Any) -> None:
        if options.get("database") is not None:
            super().handle(*args, **options)
            return
        # The router decides which app goes where, also for `migrate APP_LABEL`.
        for alias in connections:
            super().handle(*args, **{**options, "database": alias})
