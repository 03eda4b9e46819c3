"""`{{ variables }}` in fingerprints and fingerprint rule titles."""

from __future__ import annotations

import re

from spyglass.grouping.event import EventView, text
from spyglass.grouping.fingerprints import DEFAULT_VARIABLE, variable_name
from spyglass.grouping.parameterize import normalize_message

_VARIABLE_IN_TEXT = re.compile(r"\{\{\s*(\S+?)\s*\}\}")


def _last_exception_field(view: EventView, field: str) -> str | None:
    return text(view.exceptions[-1].get(field)) if view.exceptions else None


def _crash_frame_value(view: EventView, name: str) -> str | None:
    frame = view.crash_frame()
    if frame is None:
        return None
    if name in ("function", "stack.function"):
        return frame.function
    if name in ("path", "stack.abs_path"):
        return frame.abs_path or frame.filename
    if name == "stack.filename":
        return frame.filename or frame.abs_path
    if name in ("module", "stack.module"):
        return frame.module
    package = frame.package
    return package.rsplit("/", 1)[-1].rsplit("\\", 1)[-1] if package else None


_FRAME_VARIABLES = {
    "function": "<no-function>",
    "stack.function": "<no-function>",
    "path": "<no-abs-path>",
    "stack.abs_path": "<no-abs-path>",
    "stack.filename": "<no-filename>",
    "module": "<no-module>",
    "stack.module": "<no-module>",
    "package": "<no-package>",
    "stack.package": "<no-package>",
}


def canonical_message(view: EventView) -> str | None:
    return view.formatted_message() or _last_exception_field(view, "value")


def resolve_variable(name: str, view: EventView, legacy_unknown: bool) -> str | None:
    """The value of `{{ name }}` for this event; None for an unknown name under the legacy
    handling (the entry then stays as written)."""
    event = view.event
    if name == "transaction":
        return text(event.get("transaction")) or "<no-transaction>"
    if name in ("message", "raw_message"):
        return canonical_message(view) or "<no-message>"
    if name in ("type", "error.type"):
        return _last_exception_field(view, "type") or "<no-type>"
    if name in ("value", "error.value", "raw_value", "error.raw_value"):
        return _last_exception_field(view, "value") or "<no-value>"
    if name in _FRAME_VARIABLES:
        return _crash_frame_value(view, name) or _FRAME_VARIABLES[name]
    if name in ("level", "logger"):
        return text(event.get(name)) or f"<no-{name}>"
    if name.startswith("tags."):
        tag = name[5:]
        found = next((v for k, v in view.tags() if k == tag), None)
        return found if found is not None else f"<no-value-for-tag-{tag}>"
    return None if legacy_unknown else f"<unrecognized-variable-{name}>"


def resolve_fingerprint(
    fingerprint: list[str], view: EventView, raw_messages: set[str], legacy_unknown: bool
) -> list[str]:
    """Resolve the variables of a fingerprint. `{{ message }}`, and literal entries that are
    one of the event's own messages, are parameterized like messages are for grouping."""
    resolved: list[str] = []
    for entry in fingerprint:
        name = variable_name(entry)
        if name == "default":
            resolved.append(DEFAULT_VARIABLE)
        elif name is None:
            resolved.append(
                normalize_message(entry, trim=False) if entry in raw_messages else entry
            )
        else:
            value = resolve_variable(name, view, legacy_unknown)
            if value is None:
                resolved.append(entry)
            elif name == "message" and value != "<no-message>":
                resolved.append(normalize_message(value, trim=False))
            else:
                resolved.append(value)
    return resolved


def expand_title(template: str, view: EventView, legacy_unknown: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        name = variable_name(match.group(0))
        value = resolve_variable(name, view, legacy_unknown) if name else None
        return match.group(0) if value is None else value

    return _VARIABLE_IN_TEXT.sub(replace, template)
