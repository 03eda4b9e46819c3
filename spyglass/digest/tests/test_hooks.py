"""The after-commit hooks: registered by name, imported by the first batch that commits, so
that web processes never load what only the digest runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from spyglass.digest import hooks

calls: list[tuple[str, Any]] = []


def first(result: Any) -> None:
    calls.append(("first", result))


def second(result: Any) -> None:
    calls.append(("second", result))


@pytest.fixture
def own_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    registered: list[Any] = []
    monkeypatch.setattr(hooks, "_hooks", registered)
    calls.clear()
    yield registered


def test_a_hook_registered_by_name_is_imported_once_and_runs_in_its_place(
    own_hooks: list[Any],
) -> None:
    hooks.register_lazy(f"{__name__}:first")
    hooks.register(second)
    hooks.register_lazy(f"{__name__}:first")  # once only
    assert own_hooks == [f"{__name__}:first", second]
    hooks.run("batch 1")  # type: ignore[arg-type]
    hooks.run("batch 2")  # type: ignore[arg-type]
    assert own_hooks == [first, second]
    assert calls == [
        ("first", "batch 1"),
        ("second", "batch 1"),
        ("first", "batch 2"),
        ("second", "batch 2"),
    ]


def test_a_failing_hook_does_not_stop_the_others(own_hooks: list[Any]) -> None:
    def broken(result: Any) -> None:
        raise RuntimeError("boom")

    hooks.register(broken)
    hooks.register_lazy(f"{__name__}:second")
    hooks.run("batch")  # type: ignore[arg-type]
    assert calls == [("second", "batch")]


def test_the_web_process_does_not_import_what_only_the_digest_runs() -> None:
    digest_only = [
        "spyglass.alerts.hooks",
        "spyglass.alerts.issue_alerts",
        "spyglass.perfissues.hook",
        "sentry_relay",
    ]
    script = (
        "import json, sys, django; django.setup(); import spyglass.asgi; "
        f"print(json.dumps([m for m in {digest_only!r} if m in sys.modules]))"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="spyglass.settings")
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
    # ... while the apps did register both, performance detection first.
    names = [h if isinstance(h, str) else f"{h.__module__}:{h.__name__}" for h in hooks._hooks]
    assert [n for n in names if n.startswith(("spyglass.alerts", "spyglass.perfissues"))] == [
        "spyglass.perfissues.hook:detect_after_commit",
        "spyglass.alerts.hooks:evaluate_issue_alerts",
    ]
