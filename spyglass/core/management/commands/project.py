"""`spyglass project create --org ORG --name NAME [--platform P] [--owner EMAIL]`.
`spyglass project rules ORG/PROJECT [--fingerprint FILE|-] [--stacktrace FILE|-]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, Role

# option -> (Project field, what to call it in messages)
RULES = {
    "fingerprint": ("fingerprint_rules", "fingerprint rules"),
    "stacktrace": ("stacktrace_rules", "stack trace rules"),
}


class Command(BaseCommand):
    help = "Manage projects. `project create` prints the new project's DSN as its last line."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a project (and its organization)")
        create.add_argument("--org", required=True, help="organization slug or name")
        create.add_argument("--name", required=True)
        create.add_argument("--platform", default="")
        create.add_argument("--owner", help="email of the user to make a member")
        rules = sub.add_parser(
            "rules",
            help="validate and save a project's fingerprint and stack trace rules"
            " (without options: print them)",
        )
        rules.add_argument("project", metavar="ORG/PROJECT", help="slugs, e.g. acme/backend")
        for option, (_, what) in RULES.items():
            rules.add_argument(f"--{option}", metavar="FILE", help=f"{what} from FILE (- = stdin)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "rules":
            self._rules(options)
        else:
            self._create(options)

    def _create(self, options: dict[str, Any]) -> None:
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

    def _rules(self, options: dict[str, Any]) -> None:
        project = _find_project(options["project"])
        given = {field: _read(options[opt]) for opt, (field, _) in RULES.items() if options[opt]}
        if not given:
            sections = [
                f"# {what} of {project}\n{getattr(project, field).rstrip() or '# (none)'}"
                for field, what in RULES.values()
            ]
            self.stdout.write("\n\n".join(sections))
            return
        for field, text in given.items():
            setattr(project, field, text)
        others = [f.name for f in Project._meta.fields if f.name not in given]
        try:
            project.full_clean(exclude=others, validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            names = {field: what for field, what in RULES.values()}
            problems = [
                f"{names.get(field, field)}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ]
            raise CommandError("\n".join(["rules not saved:", *problems])) from None
        project.save(update_fields=list(given))
        for field, what in RULES.values():
            if field in given:
                self.stdout.write(f"Saved the {what} of {project}")


def _find_project(ref: str) -> Project:
    org_slug, _, project_slug = ref.partition("/")
    project = (
        Project.objects.filter(organization__slug=org_slug, slug=project_slug)
        .select_related("organization")
        .first()
    )
    if project is None:
        raise CommandError(f"no project {ref!r} (give ORG/PROJECT, by their slugs)")
    return project


def _read(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    try:
        return Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {source}: {exc}") from None
