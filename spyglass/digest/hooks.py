"""The extension point after a batch commits: alert triggers, performance detectors and
release bookkeeping register here. A failing hook is logged and never affects the others
(or the stored data, which is committed before hooks run)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spyglass.digest.store import StoreResult

log = logging.getLogger(__name__)

Hook = Callable[["StoreResult"], None]
_hooks: list[Hook] = []


def register(hook: Hook) -> Hook:
    """Use as a decorator: ``@hooks.register``."""
    if hook not in _hooks:
        _hooks.append(hook)
    return hook


def unregister(hook: Hook) -> None:
    if hook in _hooks:
        _hooks.remove(hook)


def run(result: StoreResult) -> None:
    for hook in list(_hooks):
        try:
            hook(result)
        except Exception:
            log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
