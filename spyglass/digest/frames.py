"""The frames text of an event for stack frame search (its format: ``spyglass.events.frames``):
the distinct filename, abs_path, function, module and package of every frame of its stack
traces (exceptions', threads' and the event's own; not the raw, unsymbolicated ones), and
whether its exception was raised on the main thread."""

from __future__ import annotations

from itertools import repeat
from typing import Any

from spyglass.events.frames import FIELD_CODES, MAIN_THREAD, MAX_VALUE_LENGTH, MAX_VALUES, SEP

_FIELDS = [(name, SEP + code) for name, code in FIELD_CODES.items()]  # (field, entry head)
_get = dict.get


def _frames_of(container: Any) -> list[Any]:
    if type(container) is not dict:
        return []
    stacktrace = container.get("stacktrace")
    if type(stacktrace) is not dict:
        return []
    frames = stacktrace.get("frames")
    return frames if type(frames) is list else []


def _values(container: Any) -> list[Any]:
    if type(container) is dict:
        values = container.get("values")
        return values if type(values) is list else []
    return container if type(container) is list else []  # sentry-go's bare exception list


def search_frames(event: dict[str, Any]) -> str:
    """The event's frames text ("" when it has no frames and no thread facts). It runs for
    every error event, so the usual case is built with C-level loops (a set and a join per
    field) and checked once on the joined text: no separator or NUL inside a value, no
    overlong value, at most ``MAX_VALUES`` values; anything else takes the slow path."""
    exceptions = _values(event.get("exception"))
    threads = _values(event.get("threads"))
    frames: list[Any] = []
    for container in (*exceptions, *threads, event):
        frames += _frames_of(container)
    parts: list[str] = []
    if threads:
        main = main_thread(exceptions, threads)
        if main is not None:
            parts.append(SEP + MAIN_THREAD + ("true" if main else "false"))
    head_parts, count = parts[:], len(parts)
    try:
        for name, head in _FIELDS:
            values: set[Any] = set(map(_get, frames, repeat(name)))
            values.discard(None)
            values.discard("")
            if values:
                parts.append(head + head.join(sorted(values)))
                count += len(values)
    except TypeError:  # a frame that is no object, or a value that is no string
        return _slowly(frames, head_parts)
    if not parts:
        return ""
    text = "".join(parts)
    if (
        count > MAX_VALUES
        or text.count(SEP) != count
        or "\x00" in text
        or (len(text) > MAX_VALUE_LENGTH and max(map(len, text.split(SEP))) > MAX_VALUE_LENGTH + 1)
    ):
        return _slowly(frames, head_parts)
    return text + SEP


def _slowly(frames: list[Any], head_parts: list[str]) -> str:
    entries = [part[1:] for part in head_parts]
    for frame in frames:
        if type(frame) is dict:
            for name, code in FIELD_CODES.items():
                value = frame.get(name)
                if type(value) is str and value:
                    entries.append(code + value)
    return _capped(entries) if entries else ""


def _capped(entries: list[str]) -> str:
    """The entries with each value cleaned and cut, and at most ``MAX_VALUES`` per field."""
    by_code: dict[str, set[str]] = {}
    for entry in entries:
        value = entry[1 : MAX_VALUE_LENGTH + 1].replace(SEP, " ").replace("\x00", "")
        if value:
            by_code.setdefault(entry[0], set()).add(value)
    kept = [
        code + value for code in sorted(by_code) for value in sorted(by_code[code])[:MAX_VALUES]
    ]
    return SEP + SEP.join(kept) + SEP


def main_thread(exceptions: list[Any], threads: list[Any]) -> bool | None:
    """Whether the exception was raised on the main thread: the thread its ``thread_id``
    names, else the crashed thread, else the current one, says ``main``; None when no such
    thread says."""
    by_id = {
        str(thread.get("id")): thread
        for thread in threads
        if type(thread) is dict and thread.get("id") is not None
    }
    chosen = [
        by_id[str(exception["thread_id"])]
        for exception in exceptions
        if type(exception) is dict and str(exception.get("thread_id")) in by_id
    ]
    for flag in ("crashed", "current"):
        if not chosen:
            chosen = [t for t in threads if type(t) is dict and t.get(flag) is True]
    flags = [thread.get("main") for thread in chosen if type(thread.get("main")) is bool]
    return any(flags) if flags else None
