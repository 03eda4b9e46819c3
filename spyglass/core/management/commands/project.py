"""`spyglass project create --org ORG --name NAME [--platform P] [--owner EMAIL]`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, Role


class Command(BaseCommand):
    help = "Manage projects. `project create` prints the new project's DSN as its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a project (and its organization)")
        create.add_argument("--org", required=True, help="organization slug or name")
        create.add_argument("--name", required=True)
        create.add_argument("--platform", default="")
        create.add_argument("--owner", help="email of the user to make a member")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["owner"]:
            owner = User.objects.filter(email=options["owner"].strip().lower()).first()
            if owner is None:
                raise CommandError(f"no user with the email {options['owner']}")
        else:
            owner = User.objects.filter(is_superuser=True).order_by("id").first()
        with transaction.atomic():
            org = Organization.get_or_create_named(options["org"])
            project = Project.create(org, options["name"], options["platform"])
            if owner is not None:
                Member.objects.get_or_create(
                    organization=org, user=owner, defaults={"role": Role.OWNER}
                )
        key = project.default_key()
        assert key is not None
        self.stdout.write(f"Created project {project} (id {project.id})")
        self.stdout.write(key.dsn)
