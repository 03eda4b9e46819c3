"""`spyglass token create --email E`: prints an API token with every scope as its last line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from spyglass.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token with every scope")
        create.add_argument("--email", required=True)
        create.add_argument("--name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email=options["email"].strip().lower()).first()
        if user is None:
            raise CommandError(f"no user with the email {options['email']}")
        token, plain = ApiToken.issue(user, name=options["name"])
        self.stdout.write(f"Created token for {user.email} with scopes: {' '.join(token.scopes)}")
        self.stdout.write(plain)
