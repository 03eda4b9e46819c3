"""`spyglass project rules ORG/PROJECT [--fingerprint FILE|-] [--stacktrace FILE|-]`."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from spyglass.projects.models import Project
from spyglass.test import World

pytestmark = pytest.mark.django_db(databases="__all__")

FINGERPRINT = "error.type:DatabaseUnavailable -> system-down\n"
STACKTRACE = "# vendored\nstack.module:vendor.* -app\n"


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("project", "rules", *args, stdout=out)
    return out.getvalue()


def saved(world: World) -> Project:
    return Project.objects.get(id=world.project.id)


def test_it_validates_and_saves_both_kinds_of_rules_from_files(
    world: World, tmp_path: Path
) -> None:
    (tmp_path / "fp.txt").write_text(FINGERPRINT)
    (tmp_path / "st.txt").write_text(STACKTRACE)
    before = saved(world).settings_updated_at

    output = run(
        "acme/backend",
        "--fingerprint",
        str(tmp_path / "fp.txt"),
        "--stacktrace",
        str(tmp_path / "st.txt"),
    )

    assert output.splitlines() == [
        "Saved the fingerprint rules of acme/backend",
        "Saved the stack trace rules of acme/backend",
    ]
    project = saved(world)
    assert (project.fingerprint_rules, project.stacktrace_rules) == (FINGERPRINT, STACKTRACE)
    assert project.settings_updated_at > before  # workers recompile the project's settings


def test_it_reads_rules_from_stdin_and_leaves_the_other_kind_alone(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    Project.objects.filter(id=world.project.id).update(stacktrace_rules=STACKTRACE)
    monkeypatch.setattr(sys, "stdin", io.StringIO(FINGERPRINT))

    assert run("acme/backend", "--fingerprint", "-").strip() == (
        "Saved the fingerprint rules of acme/backend"
    )
    assert (saved(world).fingerprint_rules, saved(world).stacktrace_rules) == (
        FINGERPRINT,
        STACKTRACE,
    )


def test_bad_rules_are_not_saved_and_the_error_names_the_line(world: World, tmp_path: Path) -> None:
    (tmp_path / "fp.txt").write_text(FINGERPRINT)
    (tmp_path / "st.txt").write_text("stack.module:a -app\n\nstack.function:b +ap\n")

    with pytest.raises(CommandError) as caught:
        run(
            "acme/backend",
            "--fingerprint",
            str(tmp_path / "fp.txt"),
            "--stacktrace",
            str(tmp_path / "st.txt"),
        )

    assert str(caught.value).splitlines() == [
        "rules not saved:",
        "stack trace rules: line 3, column 18: expected an action (+app, -app, +group,"
        ' -group, max-frames=N, ...) near "+ap", in: stack.function:b +ap',
    ]
    # Nothing is saved, not even the good half.
    assert (saved(world).fingerprint_rules, saved(world).stacktrace_rules) == ("", "")


def test_an_empty_file_clears_the_rules(world: World, tmp_path: Path) -> None:
    Project.objects.filter(id=world.project.id).update(fingerprint_rules=FINGERPRINT)
    (tmp_path / "empty.txt").write_text("")
    run("acme/backend", "--fingerprint", str(tmp_path / "empty.txt"))
    assert saved(world).fingerprint_rules == ""


def test_without_options_it_prints_the_rules(world: World) -> None:
    Project.objects.filter(id=world.project.id).update(stacktrace_rules=STACKTRACE)
    assert run("acme/backend") == (
        "# fingerprint rules of acme/backend\n# (none)\n\n"
        "# stack trace rules of acme/backend\n# vendored\nstack.module:vendor.* -app\n"
    )


@pytest.mark.parametrize("ref", ["acme/nope", "nope/backend", "backend", "acme/backend/x"])
def test_an_unknown_project_is_an_error(world: World, ref: str) -> None:
    with pytest.raises(CommandError, match="no project"):
        run(ref, "--fingerprint", "-")


def test_an_unreadable_file_is_an_error(world: World, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read"):
        run("acme/backend", "--stacktrace", str(tmp_path / "missing.txt"))


def test_the_command_exits_non_zero_on_bad_rules(tmp_path: Path) -> None:
    """As a shell sees it: the message on stderr and exit status 1."""
    env = {"SPYGLASS_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    spyglass = [sys.executable, "-m", "spyglass"]
    subprocess.run([*spyglass, "migrate", "-v0"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*spyglass, "project", "create", "--org", "acme", "--name", "web"],
        env=env,
        check=True,
        capture_output=True,
    )

    result = subprocess.run(
        [*spyglass, "project", "rules", "acme/web", "--fingerprint", "-"],
        env=env,
        input="error.type:A\n",
        capture_output=True,
        text=True,
    )

    assert result.returncode == 1
    assert "fingerprint rules: line 1, column 13: expected '->'" in result.stderr
