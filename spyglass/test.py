"""The shared test world: users alice, bob and charlie, an organization, projects and keys."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from spyglass.accounts.models import User
from spyglass.projects.models import Member, Organization, Project, ProjectKey, Role

PASSWORD = "correct horse battery staple"  # noqa: S105


def make_user(email: str, *, superuser: bool = False) -> User:
    if superuser:
        return User.objects.create_superuser(email, PASSWORD)
    return User.objects.create_user(email, PASSWORD)


def make_project(org: Organization, name: str, platform: str = "python") -> Project:
    return Project.create(org, name, platform)


def key_of(project: Project) -> ProjectKey:
    key = project.default_key()
    assert key is not None
    return key


@dataclass
class World:
    alice: User  # owner of the organization
    bob: User  # a member
    charlie: User  # in no organization
    org: Organization
    project: Project
    key: ProjectKey
    other_project: Project
    other_key: ProjectKey


def build_world() -> World:
    alice = make_user("alice@example.com", superuser=True)
    bob = make_user("bob@example.com")
    charlie = make_user("charlie@example.com")
    org = Organization.get_or_create_named("Acme")
    Member.objects.create(organization=org, user=alice, role=Role.OWNER)
    Member.objects.create(organization=org, user=bob, role=Role.MEMBER)
    project = make_project(org, "Backend")
    other = make_project(org, "Frontend", "javascript-browser")
    return World(alice, bob, charlie, org, project, key_of(project), other, key_of(other))


def check_frames_index() -> None:
    """SQLite: the issues' frames texts and their trigram table agree (FTS5's integrity check
    raises otherwise). PostgreSQL's trigram index is kept by the database itself."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO events_issueframes_fts(events_issueframes_fts, rank)"
                " VALUES ('integrity-check', 1)"
            )
