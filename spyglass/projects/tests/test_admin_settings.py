"""The admin's Project change form refuses bad digest settings, with the error on the field."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from spyglass.projects.models import Project
from spyglass.test import World

pytestmark = pytest.mark.django_db(databases="__all__")


def form_data(project: Project, **changes: str) -> dict[str, str]:
    data = {
        "organization": str(project.organization_id),
        "name": project.name,
        "slug": project.slug,
        "platform": project.platform,
        "grouping_config": project.grouping_config,
        "fingerprint_rules": project.fingerprint_rules,
        "stacktrace_rules": project.stacktrace_rules,
        "data_scrubbing": "{}",
        "inbound_filters": "{}",
        "resolve_age_hours": "0",
        "_save": "Save",
    }
    data.update(changes)
    return data


def field_errors(content: bytes, field: str) -> list[str]:
    """The error list Django's admin shows in the row of ``field``."""
    page = content.decode()
    row = re.search(
        rf'<div class="form-row[^"]*field-{field}[^"]*">(.*?)</div>\s*</div>', page, re.S
    )
    assert row is not None, f"no row for {field}"
    return [html.unescape(m) for m in re.findall(r"<li>(.*?)</li>", row.group(1), re.S)]


def change(world: World, **changes: str) -> tuple[int, bytes]:
    client = Client()
    client.force_login(world.alice)
    url = f"/admin/projects/project/{world.project.id}/change/"
    response = client.post(url, form_data(world.project, **changes))
    return response.status_code, response.content


def test_good_rules_are_saved_from_the_admin(world: World) -> None:
    status, _ = change(
        world,
        fingerprint_rules="error.type:DatabaseUnavailable -> system-down\r\n",
        stacktrace_rules="stack.module:vendor.* -app",
        inbound_filters='{"localhost": true}',
    )
    assert status == 302
    project = Project.objects.get(id=world.project.id)
    assert project.fingerprint_rules.startswith("error.type:DatabaseUnavailable -> system-down")
    assert project.inbound_filters == {"localhost": True}


def test_bad_fingerprint_rules_show_the_line_and_column_on_the_field(world: World) -> None:
    status, content = change(
        world, fingerprint_rules="error.type:A -> a\r\n# note\r\nerror.type:<b>B</b> x"
    )

    assert status == 200
    assert field_errors(content, "fingerprint_rules") == [
        "line 3, column 21: expected '->' between the matchers and the fingerprint"
        ' near "x", in: error.type:<b>B</b> x'
    ]
    assert "error.type:<b>B" not in content.decode()  # escaped, in the error and the textarea
    assert Project.objects.get(id=world.project.id).fingerprint_rules == ""


def test_bad_stacktrace_rules_and_settings_show_on_their_fields(world: World) -> None:
    status, content = change(
        world,
        stacktrace_rules="stack.function:a +app\r\nstack.function:b app",
        data_scrubbing='{"scrub_ip_address": true}',
        inbound_filters='{"error_messages": "*"}',
        grouping_config="legacy:2019-03-12",
    )

    assert status == 200
    [stack] = field_errors(content, "stacktrace_rules")
    assert stack.startswith("line 2, column 18: expected an action")
    [scrubbing] = field_errors(content, "data_scrubbing")
    assert scrubbing.startswith("unknown setting 'scrub_ip_address'")
    [filters] = field_errors(content, "inbound_filters")
    assert filters.startswith("'error_messages' must be a list of strings")
    [config] = field_errors(content, "grouping_config")
    assert config.startswith("unknown grouping config 'legacy:2019-03-12'")
    assert Project.objects.get(id=world.project.id).data_scrubbing == {}


def test_the_change_form_renders_with_the_digest_settings(world: World) -> None:
    client = Client()
    client.force_login(world.alice)
    response = client.get(f"/admin/projects/project/{world.project.id}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Digest settings" in page
    assert 'name="fingerprint_rules"' in page and 'spellcheck="false"' in page
