"""Every channel kind, by the name stored in ``Channel.kind``."""

from __future__ import annotations

import importlib
import threading

from spyglass.notifications.base import Kind

# Order is the order of the "add a channel" menu.
KIND_MODULES = ("email", "slack", "discord", "msteams", "pagerduty", "webhook", "apprise")

_loaded: dict[str, Kind] | None = None
_lock = threading.Lock()


def kinds() -> dict[str, Kind]:
    """Imported on first use; threads (the outbox, web requests) see all kinds or load them."""
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                found: dict[str, Kind] = {}
                for name in KIND_MODULES:
                    module = importlib.import_module(f"spyglass.notifications.{name}")
                    kind: Kind = module.KIND
                    assert kind.name == name, f"{name} declares itself {kind.name}"
                    found[name] = kind
                _loaded = found
    return _loaded


def get(name: str) -> Kind:
    try:
        return kinds()[name]
    except KeyError:
        raise LookupError(f"unknown channel kind {name!r}") from None


def choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in kinds().values()]
