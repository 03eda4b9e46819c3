"""A read-only view of a normalized event: its exceptions, stack traces and threads, with each
frame parsed once and shared by the rules and the strategies (the event itself is never
modified)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from spyglass.grouping.frames import Frame

# ``type(x) is dict or isinstance(x, Mapping)``: the same answer, without the ABC machinery for
# the dicts (and Nones) events are made of; these run dozens of times an event.


def as_mapping(value: object) -> Mapping[str, Any]:
    if type(value) is dict:
        return value
    return value if value is not None and isinstance(value, Mapping) else {}


def as_list(value: object) -> list[Any]:
    return [v for v in value if v is not None] if isinstance(value, list) else []


def values_of(container: object) -> list[Any]:
    """`{"values": [...]}` (the normalized form) or a bare list."""
    if type(container) is dict or isinstance(container, Mapping):
        return as_list(container.get("values"))
    return as_list(container)


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


class Stacktrace:
    """A stack trace's frames, outermost first (the crashing frame last)."""

    __slots__ = ("frames",)

    def __init__(self, data: Mapping[str, Any], platform: str | None) -> None:
        self.frames = [
            Frame(f, platform)
            for f in as_list(data.get("frames"))
            if type(f) is dict or isinstance(f, Mapping)
        ]


def _stacktrace(data: Mapping[str, Any], platform: str | None) -> Stacktrace | None:
    stacktrace = data.get("stacktrace")
    if stacktrace is None:
        return None
    is_mapping = type(stacktrace) is dict or isinstance(stacktrace, Mapping)
    return Stacktrace(stacktrace, platform) if is_mapping else None


class EventView:
    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self.platform = text(event.get("platform"))
        self.exceptions: list[Mapping[str, Any]] = [
            e for e in values_of(event.get("exception")) if isinstance(e, Mapping)
        ]
        self.exception_stacktraces = [_stacktrace(e, self.platform) for e in self.exceptions]
        self.stacktrace = _stacktrace(event, self.platform)
        self.threads: list[Mapping[str, Any]] = [
            t for t in values_of(event.get("threads")) if isinstance(t, Mapping)
        ]
        self.thread_stacktraces = [_stacktrace(t, self.platform) for t in self.threads]
        self._tags: list[tuple[str, str]] | None = None

    def all_stacktraces(self) -> list[tuple[Stacktrace, Mapping[str, Any] | None]]:
        """Every stack trace with the exception it belongs to (if any)."""
        found: list[tuple[Stacktrace, Mapping[str, Any] | None]] = []
        for exception, stacktrace in zip(self.exceptions, self.exception_stacktraces, strict=True):
            if stacktrace is not None and stacktrace.frames:
                found.append((stacktrace, exception))
        if self.stacktrace is not None and self.stacktrace.frames:
            found.append((self.stacktrace, None))
        for stacktrace in self.thread_stacktraces:
            if stacktrace is not None and stacktrace.frames:
                found.append((stacktrace, None))
        return found

    def crashing_thread_index(self) -> int | None:
        """The one thread, or the one crashed thread, or the one current thread."""
        if len(self.threads) == 1:
            return 0
        for flag in ("crashed", "current"):
            flagged = [i for i, t in enumerate(self.threads) if t.get(flag)]
            if len(flagged) == 1:
                return flagged[0]
        return None

    def stack_frames(self) -> list[Frame]:
        """The frames fingerprint rules match: the exceptions', else the event's stack trace,
        else the crashing thread's."""
        frames = [f for st in self.exception_stacktraces if st is not None for f in st.frames]
        if frames:
            return frames
        if self.stacktrace is not None and self.stacktrace.frames:
            return self.stacktrace.frames
        index = self.crashing_thread_index()
        if index is not None and (thread := self.thread_stacktraces[index]) is not None:
            return thread.frames
        return []

    def crash_frame(self) -> Frame | None:
        """The innermost in-app frame of the main stack trace (else its innermost frame)."""
        frames: Sequence[Frame] = []
        if self.exception_stacktraces and (last := self.exception_stacktraces[-1]) is not None:
            frames = last.frames
        if not frames and self.stacktrace is not None:
            frames = self.stacktrace.frames
        if not frames and len(self.threads) == 1 and self.thread_stacktraces[0] is not None:
            frames = self.thread_stacktraces[0].frames
        for frame in reversed(frames):
            if frame.in_app:
                return frame
        return frames[-1] if frames else None

    def message(self) -> str | None:
        """The log message: the template when there is one, else the formatted text."""
        logentry = as_mapping(self.event.get("logentry"))
        return text(logentry.get("message")) or text(logentry.get("formatted"))

    def formatted_message(self) -> str | None:
        logentry = as_mapping(self.event.get("logentry"))
        return text(logentry.get("formatted")) or text(logentry.get("message"))

    def tags(self) -> list[tuple[str, str]]:
        """The event's tags as Sentry has them when it groups: the SDK's, with `level`,
        `logger`, `environment` and `transaction` copied from the event (replacing any
        tag of that name)."""
        if self._tags is None:
            found: dict[str, str] = {}
            tags = self.event.get("tags")
            if isinstance(tags, Mapping):
                tags = list(tags.items())
            for item in as_list(tags):
                if isinstance(item, (list, tuple)) and len(item) == 2:
                    key, value = item
                    if isinstance(key, str) and isinstance(value, str):
                        found.setdefault(key, value)
            for key in ("level", "logger", "environment", "transaction"):
                if (value := text(self.event.get(key))) is not None:
                    found.pop(key, None)
                    found[key] = value
            self._tags = list(found.items())
        return self._tags
