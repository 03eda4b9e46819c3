"""The extension point after a batch commits: alert triggers, performance detectors and
release bookkeeping register here. A failing hook is logged and never affects the others
(or the stored data, which is committed before hooks run)."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spyglass.digest.store import StoreResult

log = logging.getLogger(__name__)

Hook = Callable[["StoreResult"], None]
# Hooks in the order they run; a "module:function" string is a hook not imported yet.
_hooks: list[Hook | str] = []


def register(hook: Hook) -> Hook:
    """Use as a decorator: ``@hooks.register``."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def register_lazy(path: str) -> None:
    """Register the hook ``"module:function"``, imported when a batch first commits: only
    the processes that digest pay for the modules a hook needs (web processes never do)."""
    if path not in _hooks:
        _hooks.append(path)


def _resolved() -> list[Hook]:
    for index, hook in enumerate(_hooks):
        if isinstance(hook, str):
            module, _, name = hook.partition(":")
            _hooks[index] = getattr(importlib.import_module(module), name)
    return [hook for hook in _hooks if not isinstance(hook, str)]


def unregister(hook: Hook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def run(result: StoreResult) -> None:
    for hook in _resolved():
        try:
            hook(result)
        except Exception:
            log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
