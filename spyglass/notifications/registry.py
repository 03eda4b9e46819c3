"""Every channel kind, by the name stored in ``Channel.kind``."""

from __future__ import annotations

import importlib

from spyglass.notifications.base import Kind

# Order is the order of the "add a channel" menu.
KIND_MODULES = ("email", "slack", "discord", "msteams", "pagerduty", "webhook", "apprise")

_loaded: dict[str, Kind] = {}


def kinds() -> dict[str, Kind]:
    if not _loaded:
        for name in KIND_MODULES:
            module = importlib.import_module(f"spyglass.notifications.{name}")
            kind: Kind = module.KIND
            assert kind.name == name, f"{name} declares itself {kind.name}"
            _loaded[name] = kind
    return _loaded


def get(name: str) -> Kind:
    try:
        return kinds()[name]
    except KeyError:
        raise LookupError(f"unknown channel kind {name!r}") from None


def choices() -> list[tuple[str, str]]:
    return [(kind.name, kind.label) for kind in kinds().values()]
