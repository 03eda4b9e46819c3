"""The documentation tells the truth about the code."""

from __future__ import annotations

import re
from pathlib import Path

import spyglass.settings  # noqa: F401  (fills the registry)
from spyglass.lib.env import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `([A-Z_]+)` \| (.+?) \| (.+?) \|$", re.MULTILINE)


def documented_settings() -> dict[str, str]:
    text = (ROOT / "docs" / "configuration.md").read_text()
    return {name: default for name, default, _ in ROW.findall(text)}


def test_every_setting_is_documented_and_every_documented_setting_exists() -> None:
    documented = documented_settings()
    assert set(REGISTRY) - set(documented) == set(), "settings missing from the docs"
    assert set(documented) - set(REGISTRY) == set(), "docs describe settings the code lacks"


def test_documented_defaults_are_the_defaults() -> None:
    for name, default in documented_settings().items():
        actual = REGISTRY[name].default
        expected = "(none)" if actual is None else f"`{actual}`"
        assert default == expected, name


def test_every_system_check_id_is_documented() -> None:
    code = (ROOT / "spyglass" / "checks.py").read_text()
    docs = (ROOT / "docs" / "configuration.md").read_text()
    ids = set(re.findall(r'id="(spyglass\.[EW]\d+)"', code))
    assert ids
    assert ids == set(re.findall(r"`(spyglass\.[EW]\d+)`", docs))


def test_the_readme_quick_start_commands_are_make_targets() -> None:
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test"):
        assert f"make {target}" in readme
        assert re.search(rf"^{target}:", makefile, re.MULTILINE)
