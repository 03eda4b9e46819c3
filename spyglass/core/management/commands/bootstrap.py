"""`spyglass bootstrap`: the first-run setup `make run` does, then the login and the DSN.

First run: an admin user (password from SPYGLASS_ADMIN_PASSWORD, or generated and printed
once), an organization and a project. Later runs create nothing and print the same DSN.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, Role


class Command(BaseCommand):
    help = "Create the first user, organization and project if there are none; print the DSN."

    def handle(self, *args: Any, **options: Any) -> None:
        password_note = "(as printed on the first run)"  # noqa: S105
        with transaction.atomic():
            admin = User.objects.filter(is_superuser=True).order_by("id").first()
            existing = User.objects.filter(email=settings.ADMIN_EMAIL.lower()).first()
            if admin is None and existing is not None:
                # The address already signs in: make that person the admin, password unchanged.
                existing.is_superuser = existing.is_staff = True
                existing.save(update_fields=["is_superuser", "is_staff"])
                admin, password_note = existing, "(unchanged: this user existed already)"
            if admin is None:
                password = settings.ADMIN_PASSWORD or secrets.token_urlsafe(12)
                admin = User.objects.create_superuser(settings.ADMIN_EMAIL, password)
                password_note = (
                    "(from SPYGLASS_ADMIN_PASSWORD)" if settings.ADMIN_PASSWORD else password
                )
            org = Organization.objects.order_by("id").first()
            if org is None:
                org = Organization.get_or_create_named("My Organization")
            Member.objects.get_or_create(
                organization=org, user=admin, defaults={"role": Role.OWNER}
            )
            project = Project.objects.filter(organization=org).order_by("id").first()
            if project is None:
                project = Project.create(org, "my-project", "python")
        key = project.default_key()
        dsn = key.dsn if key is not None else "(the project has no active DSN key)"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"  Spyglass     {settings.BASE_URL}/",
                    f"  Login        {admin.email}",
                    f"  Password     {password_note}",
                    f"  Project      {project} (id {project.id})",
                    f"  DSN          {dsn}",
                    "",
                ]
            )
        )
