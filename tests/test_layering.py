"""The import rules of CONVENTIONS.md: low layers know no models; ingest stays lean."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "spyglass"

# package -> spyglass packages it may import (besides itself)
RULES = {
    "lib": set(),
    "protocol": {"lib"},
    "grouping": {"lib", "protocol"},
    "search": {"lib", "protocol"},
    "ingest": {"lib", "protocol", "projects", "queue"},
}
NEVER_IMPORTED_BY_DOMAIN = {"digest", "api", "web"}
DOMAIN_APPS = {"accounts", "projects", "queue", "issues", "events", "releases", "performance"}


def spyglass_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "spyglass" and len(parts) > 1:
                found.add(parts[1])
    return found


def sources(package: str) -> list[Path]:
    return [p for p in (PACKAGE / package).rglob("*.py") if "tests" not in p.parts]


@pytest.mark.parametrize("package", sorted(RULES))
def test_low_layers_import_only_what_they_may(package: str) -> None:
    for path in sources(package):
        extra = spyglass_imports(path) - RULES[package] - {package}
        assert not extra, f"{path.relative_to(PACKAGE)} imports spyglass.{extra}"


def test_no_domain_app_imports_digest_api_or_web() -> None:
    for package in DOMAIN_APPS:
        if not (PACKAGE / package).exists():
            continue
        for path in sources(package):
            bad = spyglass_imports(path) & NEVER_IMPORTED_BY_DOMAIN
            assert not bad, f"{path.relative_to(PACKAGE)} imports spyglass.{bad}"


def test_the_ingest_edge_never_imports_django_models_directly() -> None:
    for path in sources("ingest"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.endswith(".models"), path


def test_the_search_language_imports_no_django() -> None:
    """The parser and its AST know no models, no ORM and no settings; compilers live beside
    the models they query."""
    for path in sources("search"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] != "django", f"{path.relative_to(PACKAGE)} imports {name}"
