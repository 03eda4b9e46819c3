"""The management commands, called as `spyglass <command>` would call them."""

from __future__ import annotations

import io
import re

import orjson
import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from spyglass.accounts.models import ALL_SCOPES, ApiToken, User, hash_token
from spyglass.projects.models import Member, Organization, Project, ProjectKey, Role
from spyglass.queue.tests.helpers import enqueue
from spyglass.test import World

pytestmark = pytest.mark.django_db(databases="__all__")


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def field(output: str, name: str) -> str:
    match = re.search(rf"^  {name} +(.*)$", output, re.MULTILINE)
    assert match is not None, output
    return match.group(1)


def counts() -> tuple[int, ...]:
    models = (User, Organization, Member, Project, ProjectKey)
    return tuple(model.objects.count() for model in models)


@override_settings(ADMIN_EMAIL="root@example.com", ADMIN_PASSWORD="from the environment")
def test_bootstrap_sets_up_an_admin_an_organization_and_a_project_and_prints_the_dsn() -> None:
    output = run("bootstrap")

    admin = User.objects.get()
    assert (admin.email, admin.is_superuser, admin.is_staff) == ("root@example.com", True, True)
    assert admin.check_password("from the environment")
    org = Organization.objects.get()
    assert Member.objects.get().role == Role.OWNER
    assert (Member.objects.get().user, Member.objects.get().organization) == (admin, org)
    project = Project.objects.get(organization=org)
    key = ProjectKey.objects.get(project=project)
    assert field(output, "DSN") == key.dsn
    assert field(output, "Login") == "root@example.com"
    assert field(output, "Password") == "(from SPYGLASS_ADMIN_PASSWORD)"
    assert "from the environment" not in output


@override_settings(ADMIN_PASSWORD=None)
def test_bootstrap_generates_a_password_prints_it_once_and_the_same_dsn_every_time() -> None:
    first = run("bootstrap")
    password = field(first, "Password")
    assert User.objects.get().check_password(password)
    before = counts()

    second = run("bootstrap")

    assert counts() == before == (1, 1, 1, 1, 1)
    assert field(second, "DSN") == field(first, "DSN")
    assert password not in second


def test_bootstrap_adopts_an_existing_superuser_and_organization(world: World) -> None:
    output = run("bootstrap")

    assert User.objects.filter(is_superuser=True).get() == world.alice
    assert field(output, "Login") == world.alice.email
    assert field(output, "DSN") == world.key.dsn  # the oldest project of the oldest org
    assert Organization.objects.count() == 1


def test_createuser_creates_a_user_who_signs_in_with_the_email() -> None:
    assert last_line(run("createuser", "--email", " Dana@Example.COM ", "--password", "pw-1")) == (
        "Created user dana@example.com"
    )
    run("createuser", "--email", "root@example.com", "--password", "pw-2", "--superuser")

    dana = User.objects.get(email="dana@example.com")
    assert dana.check_password("pw-1")
    assert not dana.is_superuser
    assert User.objects.get(email="root@example.com").is_superuser


def test_createuser_refuses_an_email_that_is_taken() -> None:
    run("createuser", "--email", "dana@example.com", "--password", "pw")
    with pytest.raises(CommandError, match="already exists"):
        run("createuser", "--email", "DANA@example.com", "--password", "other")
    assert User.objects.count() == 1


def test_project_create_prints_the_dsn_last_and_makes_the_first_superuser_a_member(
    world: World,
) -> None:
    output = run("project", "create", "--org", "acme", "--name", "Billing", "--platform", "go")

    project = Project.objects.get(name="Billing")
    assert (project.organization, project.platform, project.slug) == (world.org, "go", "billing")
    assert last_line(output) == project.keys.get().dsn
    assert Member.objects.get(organization=world.org, user=world.alice).role == Role.OWNER


def test_project_create_creates_the_organization_and_makes_the_owner_a_member(
    world: World,
) -> None:
    output = run(
        "project", "create", "--org", "New Co", "--name", "Web", "--owner", "BOB@example.com"
    )

    org = Organization.objects.get(name="New Co")
    assert org.slug == "new-co"
    project = Project.objects.get(organization=org)
    assert last_line(output) == project.keys.get().dsn
    assert [(m.user, m.role) for m in Member.objects.filter(organization=org)] == [
        (world.bob, Role.OWNER)
    ]


def test_project_create_without_any_user_still_creates_the_project() -> None:
    output = run("project", "create", "--org", "Solo", "--name", "api")
    assert last_line(output) == Project.objects.get().keys.get().dsn
    assert Member.objects.count() == 0


def test_project_create_refuses_an_unknown_owner(world: World) -> None:
    with pytest.raises(CommandError, match="no user"):
        run("project", "create", "--org", "acme", "--name", "x", "--owner", "nobody@example.com")
    assert not Project.objects.filter(name="x").exists()


def test_token_create_prints_a_token_that_hashes_to_the_stored_one_with_every_scope(
    world: World,
) -> None:
    output = run("token", "create", "--email", "Bob@Example.com", "--name", "ci")

    token = last_line(output)
    stored = ApiToken.objects.get()
    assert stored.token_hash == hash_token(token)
    assert (stored.user, stored.name, stored.scopes) == (world.bob, "ci", list(ALL_SCOPES))
    assert stored.token_last_characters == token[-4:]


def test_token_create_refuses_an_unknown_user() -> None:
    with pytest.raises(CommandError, match="no user"):
        run("token", "create", "--email", "nobody@example.com")


def test_queue_stats_prints_depth_and_rates() -> None:
    enqueue(3)
    output = run("queue", "stats")
    assert "depth:              3 (0 claimed)" in output
    assert "failed:             0" in output
    assert re.search(r"^oldest: +\d+\.\ds ago$", output, re.MULTILINE)


def test_queue_stats_as_json() -> None:
    enqueue(2, failed_at=1.0)
    stats = orjson.loads(run("queue", "stats", "--json"))
    assert (stats["depth"], stats["failed"], stats["oldest_age_seconds"]) == (0, 2, None)
    assert set(stats) >= {"claimed", "accepted_per_minute", "done_per_minute"}


@pytest.mark.parametrize("dsn", ["not a dsn", "https://errors.example.com/1", "https://k@host/x"])
def test_send_test_event_refuses_what_is_not_a_dsn(dsn: str) -> None:
    with pytest.raises(CommandError, match="DSN"):
        run("send-test-event", dsn)


@override_settings(ADMIN_EMAIL="dana@example.com", ADMIN_PASSWORD=None)
def test_bootstrap_makes_the_admin_email_an_admin_when_that_user_exists_already() -> None:
    dana = User.objects.create_user("dana@example.com", "her own password")
    output = run("bootstrap")
    dana.refresh_from_db()
    assert dana.is_superuser and dana.is_staff
    assert dana.check_password("her own password")
    assert field(output, "Login") == "dana@example.com"
    assert User.objects.count() == 1
