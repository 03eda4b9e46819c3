"""A project's settings pages: who sees and who changes them, and what each page saves."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from spyglass.accounts.models import User
from spyglass.attachments.models import write_file
from spyglass.digest.filters import FilterSettings
from spyglass.digest.scrubbing import ScrubbingConfig
from spyglass.projects.forms import FILTER_DEFAULTS, SCRUBBING_DEFAULTS
from spyglass.projects.models import Member, Organization, Project, ProjectKey, Role, Team
from spyglass.test import World, make_project, make_user

pytestmark = pytest.mark.django_db

BASE = "/acme/backend/settings/"
PAGES = ["", "keys/", "filters/", "scrubbing/", "rules/", "teams/", "delete/"]


def promote(world: World, user: User, role: Role) -> None:
    Member.objects.filter(organization=world.org, user=user).update(role=role)


@pytest.mark.parametrize("page", PAGES)
def test_a_member_sees_every_settings_page_read_only(
    client: Client, world: World, page: str
) -> None:
    client.force_login(world.bob)
    response = client.get(BASE + page)
    assert response.status_code == 200
    html = response.content.decode()
    assert "owners, managers and admins change them" in html
    main = html[html.index('<div class="settings-main">') :]
    assert 'type="submit"' not in main  # no save, create, disable or delete button
    assert 'aria-current="page"' in html  # the settings nav marks where we are


@pytest.mark.parametrize("page", PAGES)
def test_someone_of_another_organization_gets_404_on_every_page(
    client: Client, world: World, page: str
) -> None:
    other = Organization.get_or_create_named("Globex")
    Member.objects.create(organization=other, user=world.charlie, role=Role.OWNER)
    client.force_login(world.charlie)
    assert client.get(BASE + page).status_code == 404
    assert client.post(BASE + page, {"name": "pwned"}).status_code == 404


def test_guessed_key_ids_of_another_project_are_404_even_for_an_owner(
    client: Client, world: World
) -> None:
    client.force_login(world.alice)
    other_key = world.other_key  # Frontend's key, same organization, other project
    for path in (f"keys/{other_key.pk}/", f"keys/{other_key.pk}/disable/"):
        assert client.post(BASE + path, {}).status_code == 404
    assert ProjectKey.objects.get(pk=other_key.pk).is_active


@pytest.mark.parametrize(
    ("page", "data"),
    [
        ("", {"name": "X", "slug": "x", "resolve_age_hours": 1}),
        ("keys/", {"new-label": "mine"}),
        ("filters/", {"localhost": "on"}),
        ("rules/", {"fingerprint_rules": ""}),
        ("delete/", {"confirm": "backend"}),
    ],
)
def test_a_member_cannot_write(
    client: Client, world: World, page: str, data: dict[str, str]
) -> None:
    client.force_login(world.bob)
    assert client.post(BASE + page, data).status_code == 403
    key = world.key
    assert client.post(f"{BASE}keys/{key.pk}/disable/").status_code == 403
    project = Project.objects.get(pk=world.project.pk)
    assert (project.name, project.inbound_filters, project.keys.count()) == ("Backend", {}, 1)
    assert ProjectKey.objects.get(pk=key.pk).is_active


def test_writes_need_the_csrf_token(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.alice)
    assert client.post(BASE + "filters/", {"localhost": "on"}).status_code == 403
    assert client.post(f"{BASE}keys/{world.key.pk}/disable/").status_code == 403
    assert Project.objects.get(pk=world.project.pk).inbound_filters == {}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.MANAGER])
def test_admins_and_managers_change_settings_and_the_digest_sees_the_change(
    client: Client, world: World, role: Role
) -> None:
    promote(world, world.bob, role)
    client.force_login(world.bob)
    before = Project.objects.get(pk=world.project.pk).settings_updated_at
    response = client.post(
        BASE,
        {
            "name": "Backend API",
            "slug": "backend-api",
            "platform": "python-django",
            "resolve_age_hours": "72",
            "grouping_config": world.project.grouping_config,
        },
    )
    assert response["Location"] == "/acme/backend-api/settings/"
    project = Project.objects.get(pk=world.project.pk)
    assert (project.name, project.slug, project.platform, project.resolve_age_hours) == (
        "Backend API",
        "backend-api",
        "python-django",
        72,
    )
    assert project.settings_updated_at > before


def test_the_slug_stays_unique_and_never_settings(client: Client, world: World) -> None:
    client.force_login(world.alice)
    data = {"name": "B", "resolve_age_hours": "0", "grouping_config": "newstyle:2023-01-11"}
    taken = client.post(BASE, {**data, "slug": "frontend"})
    assert "Another project of this organization has this slug." in taken.content.decode()
    reserved = client.post(BASE, {**data, "slug": "settings"})
    assert "is a path Spyglass uses itself" in reserved.content.decode()
    assert Project.create(world.org, "Settings").slug == "settings-2"


def test_inbound_filters_store_only_what_differs_from_the_defaults(
    client: Client, world: World
) -> None:
    client.force_login(world.alice)
    page = client.get(BASE + "filters/").content.decode()
    assert 'name="health_check" id="id_health_check" checked' in page  # on by default
    response = client.post(
        BASE + "filters/",
        {
            "health_check": "on",
            "localhost": "on",
            "csp_ignored_sources_defaults": "on",
            "error_messages": "*ConnectionResetError*\r\n\r\n  *timeout* \r\n",
            "blacklisted_ips": "10.0.0.0/8",
        },
    )
    assert response.status_code == 302
    project = Project.objects.get(pk=world.project.pk)
    assert project.inbound_filters == {
        "localhost": True,
        "error_messages": ["*ConnectionResetError*", "*timeout*"],
        "blacklisted_ips": ["10.0.0.0/8"],
    }
    bad = client.post(BASE + "filters/", {"blacklisted_ips": "10.0.0.300"})
    assert "is not an IP address or network" in bad.content.decode()
    assert Project.objects.get(pk=world.project.pk).inbound_filters == project.inbound_filters


def test_data_scrubbing_saves_fields_and_checks_the_advanced_rules(
    client: Client, world: World
) -> None:
    client.force_login(world.alice)
    response = client.post(
        BASE + "scrubbing/",
        {
            "scrub_data": "on",
            "scrub_ip_addresses": "on",
            "sensitive_fields": "ssn\nIBAN",
            "safe_fields": "order_id",
        },
    )
    assert response.status_code == 302
    assert Project.objects.get(pk=world.project.pk).data_scrubbing == {
        "scrub_defaults": False,
        "scrub_ip_addresses": True,
        "sensitive_fields": ["ssn", "IBAN"],
        "safe_fields": ["order_id"],
    }
    bad = client.post(BASE + "scrubbing/", {"scrub_data": "on", "advanced_rules": "{nope"})
    assert "is not valid JSON" in bad.content.decode()


def test_the_form_defaults_are_the_digests_defaults() -> None:
    assert {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for f in fields(FilterSettings)
    } == FILTER_DEFAULTS
    assert {
        f.name: list(f.default) if isinstance(f.default, tuple) else f.default
        for f in fields(ScrubbingConfig)
    } == SCRUBBING_DEFAULTS


def test_a_rules_syntax_error_points_at_its_line_and_column_and_nothing_is_saved(
    client: Client, world: World
) -> None:
    client.force_login(world.alice)
    rules = "error.type:DatabaseUnavailable -> system-down\nerror.value:oops system-down\n"
    response = client.post(BASE + "rules/", {"fingerprint_rules": rules, "stacktrace_rules": ""})
    assert response.status_code == 200
    error = response.context["form"].rule_errors["fingerprint_rules"]
    assert error.line == 2
    assert error.text == "error.value:oops system-down"
    html = response.content.decode()
    assert f"Line 2, column {error.column}:" in html
    assert "<mark>" in html and error.caret.endswith("^")
    assert Project.objects.get(pk=world.project.pk).fingerprint_rules == ""

    fixed = rules.replace("oops system-down", "oops -> system-down")
    response = client.post(
        BASE + "rules/",
        {"fingerprint_rules": fixed, "stacktrace_rules": "stack.module:vendor.* -app"},
    )
    assert response.status_code == 302
    project = Project.objects.get(pk=world.project.pk)
    assert project.fingerprint_rules == fixed
    assert project.stacktrace_rules == "stack.module:vendor.* -app"


def test_hostile_rules_text_is_escaped_in_the_error(client: Client, world: World) -> None:
    client.force_login(world.alice)
    response = client.post(
        BASE + "rules/", {"fingerprint_rules": "<script>alert(1)</script>", "stacktrace_rules": ""}
    )
    html = response.content.decode()
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;" in html


def test_keys_are_created_labelled_limited_disabled_enabled_and_rotated(
    client: Client, world: World
) -> None:
    client.force_login(world.alice)
    page = client.get(BASE + "keys/").content.decode()
    assert world.key.dsn in page and 'data-copy-from="dsn-' in page

    client.post(
        BASE + "keys/", {"new-label": "CI", "new-rate_limit_count": "", "new-rate_limit_window": ""}
    )
    ci = ProjectKey.objects.get(project=world.project, label="CI")
    prefix = f"key-{ci.pk}"
    client.post(
        f"{BASE}keys/{ci.pk}/",
        {
            f"{prefix}-label": "CI runner",
            f"{prefix}-rate_limit_count": "100",
            f"{prefix}-rate_limit_window": "60",
        },
    )
    ci.refresh_from_db()
    assert (ci.label, ci.rate_limit_count, ci.rate_limit_window) == ("CI runner", 100, 60)
    half = client.post(
        f"{BASE}keys/{ci.pk}/", {f"{prefix}-label": "x", f"{prefix}-rate_limit_count": "5"}
    )
    assert half.status_code == 302
    ci.refresh_from_db()
    assert ci.rate_limit_count == 100  # both or neither: not saved

    client.post(f"{BASE}keys/{ci.pk}/disable/")
    assert not ProjectKey.objects.get(pk=ci.pk).is_active
    client.post(f"{BASE}keys/{ci.pk}/enable/")
    assert ProjectKey.objects.get(pk=ci.pk).is_active

    client.post(f"{BASE}keys/{ci.pk}/rotate/")
    old, new = ProjectKey.objects.filter(project=world.project, label="CI runner").order_by("id")
    assert (old.is_active, new.is_active) == (False, True)
    assert (new.rate_limit_count, new.rate_limit_window) == (100, 60)
    assert new.public_key != old.public_key
    assert client.post(f"{BASE}keys/{ci.pk}/explode/").status_code == 404
    assert client.get(f"{BASE}keys/{ci.pk}/disable/").status_code == 405


def test_teams_with_access_are_the_organizations_teams_only(client: Client, world: World) -> None:
    mine = Team.objects.create(organization=world.org, name="Payments", slug="payments")
    other_org = Organization.get_or_create_named("Globex")
    theirs = Team.objects.create(organization=other_org, name="Spies", slug="spies")
    client.force_login(world.alice)
    assert client.post(BASE + "teams/", {"teams": [theirs.pk]}).status_code == 200
    assert not world.project.teams.exists()
    assert client.post(BASE + "teams/", {"teams": [mine.pk]}).status_code == 302
    assert list(world.project.teams.all()) == [mine]


def test_deleting_a_project_needs_its_slug_typed_and_takes_its_attachment_files(
    client: Client,
    world: World,
    settings: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.DATA_DIR = tmp_path
    kept = write_file(world.other_project.pk, "b" * 32, 0, "kept.txt", b"other project")
    gone = write_file(world.project.pk, "a" * 32, 0, "crash.txt", b"minidump")
    client.force_login(world.alice)
    wrong = client.post(BASE + "delete/", {"confirm": "Backend"})
    assert "Type “backend” to delete this project." in wrong.content.decode()
    assert Project.objects.filter(pk=world.project.pk).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BASE + "delete/", {"confirm": "backend"})
    assert response["Location"] == "/acme/settings/projects/"
    assert not Project.objects.filter(pk=world.project.pk).exists()
    assert not ProjectKey.objects.filter(pk=world.key.pk).exists()
    assert (
        not (tmp_path / gone).exists()
        and not (tmp_path / "attachments" / str(world.project.pk)).exists()
    )
    assert (tmp_path / kept).read_bytes() == b"other project"


def test_an_unknown_project_of_my_organization_is_404(client: Client, world: World) -> None:
    client.force_login(world.alice)
    assert client.get("/acme/nope/settings/").status_code == 404
    make_project(world.org, "Later")
    assert client.get("/acme/later/settings/").status_code == 200
    stranger = make_user("dave@example.com")
    client.force_login(stranger)
    assert client.get("/acme/later/settings/").status_code == 404
