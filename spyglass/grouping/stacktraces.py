"""Stack trace components, in two variants: `app` (only in-app frames count) and `system`."""

from __future__ import annotations

from dataclasses import dataclass, field

from spyglass.grouping.components import Component
from spyglass.grouping.config import Settings
from spyglass.grouping.enhancers import Enhancements
from spyglass.grouping.event import Stacktrace
from spyglass.grouping.frames import Frame, frame_component, has_url_origin
from spyglass.grouping.matchers import ExceptionData, MatchFrame

NO_FRAMES = "ignored because it contains no frames"
NO_IN_APP_FRAMES = "ignored because it contains no in-app frames"
NO_CONTRIBUTING_FRAMES = "ignored because it contains no contributing frames"


@dataclass
class Context:
    """What the strategies of one event share."""

    settings: Settings
    enhancements: Enhancements
    # The rules' view of each stack trace's frames, after `+app`/`-app` ran.
    match_frames: dict[int, list[MatchFrame]] = field(default_factory=dict)
    # The `mechanism.exception_id` of the exception an issue is about, when it is not the last
    # exception (exception groups, React and RxJava wrappers): for the title.
    main_exception_id: int | None = None

    def classify(self, stacktrace: Stacktrace, exception: ExceptionData) -> None:
        """Run the in-app and category rules over a stack trace (once)."""
        frames = [MatchFrame(f) for f in stacktrace.frames]
        self.enhancements.classify(frames, exception)
        for frame, match_frame in zip(stacktrace.frames, frames, strict=True):
            # Frames no one marked are not in-app.
            match_frame.in_app = frame.in_app = bool(match_frame.in_app)
            frame.category = match_frame.category
        self.match_frames[id(stacktrace)] = frames

    def frames_for(self, stacktrace: Stacktrace) -> list[MatchFrame]:
        if id(stacktrace) not in self.match_frames:
            self.classify(stacktrace, ExceptionData(None))
        return self.match_frames[id(stacktrace)]


def _variant_frames(
    variant: str, frames: list[Frame], base: list[Component], recursive: list[bool]
) -> list[Component]:
    components = []
    for frame, component, is_recursion in zip(frames, base, recursive, strict=True):
        copy = component.shallow_copy()
        if is_recursion:
            copy.update(contributes=False, hint="ignored due to recursion")
        if variant == "app" and not frame.in_app:
            copy.update(contributes=False, hint="non app frame")
        components.append(copy)
    return components


def _ignore_single_javascript_frame(
    frames: list[Frame], components: list[Component], settings: Settings
) -> None:
    if len(frames) != 1 or not components[0].contributes:
        return
    frame = frames[0]
    if frame.family != "javascript" or frame.function:
        return
    is_url = has_url_origin(frame.abs_path, files_are_urls=True)
    if is_url == settings.js_single_frame_url_backwards:
        components[0].update(contributes=False, hint="ignored single non-URL JavaScript frame")


def _single_variant(
    variant: str,
    stacktrace: Stacktrace,
    base: list[Component],
    recursive: list[bool],
    context: Context,
    exception: ExceptionData,
) -> Component:
    frames = stacktrace.frames
    components = _variant_frames(variant, frames, base, recursive)
    _ignore_single_javascript_frame(frames, components, context.settings)
    match_frames = context.frames_for(stacktrace)
    too_short = context.enhancements.contribution_plan(match_frames, exception).apply(components)
    if variant == "app":
        for frame, component in zip(frames, components, strict=True):
            if not frame.in_app:  # whatever the rules said
                component.update(contributes=False, hint="non app frame")
    values: list[Component | str] = list(components)
    if too_short:
        return Component("stacktrace", values, contributes=False, hint=too_short)
    return Component("stacktrace", values)


def _apply_frame_counts(frames: list[Frame], app: Component, system: Component) -> None:
    if not frames:
        system.update(contributes=False, hint=NO_FRAMES)
        app.update(contributes=False, hint=NO_FRAMES)
        return
    contributing = [isinstance(c, Component) and c.contributes for c in system.values]
    if not any(contributing):
        system.update(contributes=False, hint=NO_CONTRIBUTING_FRAMES)
    if not any(f.in_app for f in frames):
        app.update(contributes=False, hint=NO_IN_APP_FRAMES)
    elif not any(f.in_app and c for f, c in zip(frames, contributing, strict=True)):
        app.update(contributes=False, hint=NO_CONTRIBUTING_FRAMES)


def stacktrace_variants(
    stacktrace: Stacktrace, context: Context, exception: ExceptionData
) -> dict[str, Component]:
    """`{"!app": ..., "system": ...}`: the `!` marks the variant preferred when both hash
    the same.

    Cached: the same stack traces arrive again and again. Callers get their own copy of
    each variant's component; the frames' components below are shared, and nothing changes
    them once built."""
    context.frames_for(stacktrace)  # classified (in-app, category), as the key reads them
    key = _variants_key(stacktrace, context, exception)
    cached = _VARIANTS_CACHE.get(key) if key is not None else None
    if cached is None:
        cached = _build_variants(stacktrace, context, exception)
        if key is not None:
            if len(_VARIANTS_CACHE) >= _VARIANTS_CACHE_LIMIT:
                _VARIANTS_CACHE.clear()
            _VARIANTS_CACHE[key] = cached
    app, system = cached
    return {"!app": app.shallow_copy(), "system": system.shallow_copy()}


_VARIANTS_CACHE: dict[tuple[object, ...], tuple[Component, Component]] = {}
_VARIANTS_CACHE_LIMIT = 1024
_VARIANTS_CACHE_FRAMES = 200  # longer stack traces are built each time, never kept


def _variants_key(
    stacktrace: Stacktrace, context: Context, exception: ExceptionData
) -> tuple[object, ...] | None:
    """Everything the variants of a classified stack trace depend on: the settings, the
    rules, what each frame's component, recursion check and the rules read, and the
    exception when a contributing rule looks at it. None when a value can't be a key, or
    the stack trace is too long to keep (``_VARIANTS_CACHE_FRAMES``: the cache's memory stays
    bounded whatever the events hold)."""
    if len(stacktrace.frames) > _VARIANTS_CACHE_FRAMES:
        return None
    enhancements = context.enhancements
    key = (
        context.settings,
        enhancements,
        exception.key() if enhancements.contributes_by_exception else None,
        tuple(
            (*f.component_key(), f.package, f.lineno, f.colno, f.in_app, f.category)
            for f in stacktrace.frames
        ),
    )
    try:
        hash(key)
    except TypeError:  # a line number that is a list, say
        return None
    return key


def _build_variants(
    stacktrace: Stacktrace, context: Context, exception: ExceptionData
) -> tuple[Component, Component]:
    frames = stacktrace.frames
    base = [frame_component(f, context.settings) for f in frames]
    keys = [f.recursion_key() for f in frames]
    recursive = [i > 0 and keys[i] == keys[i - 1] for i in range(len(keys))]
    app = _single_variant("app", stacktrace, base, recursive, context, exception)
    system = _single_variant("system", stacktrace, base, recursive, context, exception)
    _apply_frame_counts(frames, app, system)
    return app, system
