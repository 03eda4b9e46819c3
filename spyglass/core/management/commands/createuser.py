"""`spyglass createuser --email E --password P [--superuser]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from spyglass.accounts.models import User


class Command(BaseCommand):
    help = "Create a user who signs in with an email address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--superuser", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        email = options["email"].strip().lower()
        if User.objects.filter(email=email).exists():
            raise CommandError(f"a user with the email {email} already exists")
        if options["superuser"]:
            User.objects.create_superuser(email, options["password"])
        else:
            User.objects.create_user(email, options["password"])
        self.stdout.write(f"Created user {email}")
