"""Stack frames: what the grouping reads from a frame, and the component it contributes.

A frame contributes its module (or, without one, its file name), its function and, on
platforms whose source we trust, its source line. Line numbers never contribute.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from spyglass.grouping.components import Component
from spyglass.grouping.config import Settings
from spyglass.grouping.native import behavior_family, trim_function_name

_URL_PREFIXES = ("http:", "https:", "applewebdata:", "blob:")
_JS_MODULE_SOURCES = ("http:", "https:", "webpack:", "app:")
_BASENAME = re.compile(r"[/\\]")
_RUBY_ERB_SUFFIX = re.compile(r"__\d{4,}_\d{4,}$")
_JAVASSIST = re.compile(r"(\$\$_javassist)(?:_seam)?(?:_\d+)?")
_JAVA_CODEGEN = [
    re.compile(r"(sun\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+"),
    re.compile(r"(\$\$[\w_]+?CGLIB\$\$)[a-fA-F0-9]+(?:_\d+)?"),
    _JAVASSIST,
    re.compile(r"(\$fn__)\d+"),  # Clojure anonymous functions
    re.compile(r"(\$\$?EnhancerBy[\w_]+?\$?\$)[a-fA-F0-9]+(?:_\d+)?"),
    re.compile(r"(\$\$?FastClassBy[\w_]+?\$?\$)[a-fA-F0-9]+(?:_\d+)?"),
    re.compile(r"(\$\$?HibernateProxy\$?\$)\w+(?:_\d+)?"),
]
_JAVA_REFLECTION_ACCESSORS = (
    "sun.reflect.GeneratedMethodAccessor",
    "jdk.internal.reflect.GeneratedMethodAccessor",
)
# Folders and version/hash path segments that say nothing about which code ran (the module
# name Sentry's JavaScript processing derives from a script URL leaves them out).
_JS_NOISE_PREFIX = re.compile(
    r"^(?:/|(?:(?:java)?scripts?|js|build|static|node_modules|bower_components|[_.~][^/]*"
    r"|v?(?:\d+\.)*\d+|[a-f0-9]{7,8}|[a-f0-9]{32}|[a-f0-9]{40})/)+",
    re.IGNORECASE,
)
_JS_COMMITISH_SUFFIX = re.compile(r"[-.][a-f0-9]{7,}$", re.IGNORECASE)
_HEX_SEGMENT = re.compile(r"[0-9a-fA-F]{40}")
_JS_UNKNOWN_FUNCTIONS = frozenset(
    ("?", "<anonymous function>", "<anonymous>", "Anonymous function")
)
_JS_LOW_QUALITY_PATHS = frozenset(("[native code]", "native code", "eval code", "<anonymous>"))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def has_url_origin(path: str | None, *, files_are_urls: bool) -> bool:
    if not path:
        return False
    if path.startswith(_URL_PREFIXES):
        return True
    return files_are_urls and path.startswith("file:")


@lru_cache(maxsize=4096)
def js_module_from_url(url: str) -> str:
    """`http://cdn.example.com/js/v1.2/app.3f2a1b9c.min.js?x=1` -> `app`."""
    path = url[1:] if url.startswith("~") else url
    if "://" in path:
        rest = path.split("://", 1)[1]
        slash = rest.find("/")
        path = rest[slash:] if slash >= 0 else rest
    path = re.split(r"[#?]", path, maxsplit=1)[0]
    cut = max(path.rfind("."), path.rfind("/"))
    if cut >= 0 and path[cut] == ".":
        path = path[:cut]
    path = path.removesuffix(".min")
    segments = path.split("/")
    for i, segment in enumerate(segments):
        if len(segment) == 32 or _HEX_SEGMENT.fullmatch(segment):
            return "/".join(segments[i + 1 :])
    return _JS_COMMITISH_SUFFIX.sub("", _JS_NOISE_PREFIX.sub("", path))


def _js_module(abs_path: str | None, filename: str | None) -> str | None:
    """The module Sentry's source map processing gives a mapped JavaScript frame."""
    if filename and filename.startswith("webpack:"):
        return js_module_from_url(filename.split("/~/", 1)[-1]) or None
    if abs_path and abs_path.startswith(_JS_MODULE_SOURCES):
        return js_module_from_url(abs_path) or None
    return None


class Frame:
    """The parts of one frame grouping and rules look at, normalised once per event."""

    __slots__ = (
        "abs_path",
        "category",
        "colno",
        "context_line",
        "family",
        "filename",
        "function",
        "in_app",
        "lineno",
        "module",
        "package",
        "platform",
        "raw_function",
        "sourcemap",
    )

    def __init__(self, data: Mapping[str, Any], event_platform: str | None) -> None:
        # `_text` inlined (`x if isinstance(x, str) and x else None`): dozens of frames an event.
        get = data.get
        platform = value if isinstance(value := get("platform"), str) and value else None
        platform = platform or event_platform
        self.platform = platform
        self.family = behavior_family(platform)
        function = value if isinstance(value := get("function"), str) and value else None
        raw_function = value if isinstance(value := get("raw_function"), str) and value else None
        if function and raw_function is None:
            trimmed = trim_function_name(function, platform)
            if trimmed != function:
                raw_function, function = function, trimmed
        self.function = function
        self.raw_function = raw_function
        self.abs_path = value if isinstance(value := get("abs_path"), str) and value else None
        filename = value if isinstance(value := get("filename"), str) and value else None
        if filename and event_platform == "javascript" and "?" in filename:
            filename = filename.split("?", 1)[0]  # cache-busting query strings
        self.filename = filename
        extra = get("data")
        self.sourcemap = (
            extra is not None
            and (type(extra) is dict or isinstance(extra, Mapping))
            and extra.get("sourcemap") is not None
        )
        self.module = value if isinstance(value := get("module"), str) and value else None
        if self.module is None and self.sourcemap and platform == "javascript":
            # A source-mapped frame gets a module from its original path (as Sentry's
            # symbolicator does); unmapped frames keep none and group by function.
            self.module = _js_module(self.abs_path, self.filename)
        self.package = value if isinstance(value := get("package"), str) and value else None
        self.context_line = (
            value if isinstance(value := get("context_line"), str) and value else None
        )
        self.lineno: object = get("lineno")
        self.colno: object = get("colno")
        in_app = get("in_app")
        self.in_app: bool | None = in_app if isinstance(in_app, bool) else None
        self.category: str | None = None

    def component_key(self) -> tuple[object, ...]:
        """Everything a frame's own component depends on."""
        return (
            self.platform,
            self.function,
            self.raw_function,
            self.module,
            self.filename,
            self.abs_path,
            self.context_line,
            self.sourcemap,
        )

    def recursion_key(self) -> tuple[object, ...]:
        """Two consecutive frames with equal keys are one recursive call."""
        return (
            self.abs_path,
            self.package,
            self.module,
            self.filename,
            self.function,
            self.lineno,
            self.colno,
        )


def filename_component(frame: Frame) -> Component:
    if frame.filename is None:
        return Component("filename")
    filename = _BASENAME.split(frame.filename)[-1].lower()
    component = Component("filename", [filename])
    if has_url_origin(frame.abs_path, files_are_urls=False):
        component.update(contributes=False, hint="ignored because frame points to a URL")
    elif filename == "<anonymous>":
        component.update(contributes=False, hint="ignored because filename is anonymous")
    elif filename == "[native code]":
        component.update(contributes=False, hint="ignored because filename suggests native code")
    elif frame.platform == "java":
        cleaned = _JAVASSIST.sub(r"\1<auto>", filename)
        if cleaned != filename:
            component.update(values=[cleaned], hint="cleaned javassist parts")
    return component


def module_component(frame: Frame) -> Component:
    module = frame.module
    if module is None:
        return Component("module")
    component = Component("module", [module])
    if frame.platform == "javascript" and "/" in module and (frame.abs_path or "").endswith(module):
        component.update(contributes=False, hint="ignored bad javascript module")
    elif frame.platform == "java":
        if "$$Lambda$" in module:
            component.update(contributes=False, hint="ignored java lambda")
        for accessor in _JAVA_REFLECTION_ACCESSORS:
            if module.startswith(accessor):
                component.update(values=[accessor], hint="removed reflection marker")
                return component
        cleaned = module
        for pattern in _JAVA_CODEGEN:
            cleaned = pattern.sub(r"\1<auto>", cleaned)
        if cleaned != module:
            component.update(values=[cleaned], hint="removed codegen marker")
    return component


def _function_name(frame: Frame) -> str | None:
    if frame.platform == "csharp":
        return frame.raw_function or frame.function
    return frame.function or frame.raw_function


def function_component(frame: Frame, context_line_contributes: bool) -> Component:
    func = _function_name(frame)
    if not func:
        return Component("function")
    component = Component("function", [func])
    platform = frame.platform
    if platform == "ruby":
        if func.startswith("block "):
            component.update(values=["block"], hint="ruby block")
        elif (cleaned := _RUBY_ERB_SUFFIX.sub("", func)) != func:
            component.update(values=[cleaned], hint="removed generated erb template suffix")
    elif platform == "php":
        if func.startswith(("[Anonymous", "class@anonymous\x00")):
            component.update(contributes=False, hint="ignored anonymous function")
        if func.startswith("class@anonymous") and (method := func.rsplit("::", 1)[-1]) != func:
            component.update(values=[method], hint="anonymous class method")
    elif platform == "java":
        if func.startswith("lambda$"):
            component.update(contributes=False, hint="ignored lambda function")
    elif frame.family == "native" and func in ("<redacted>", "<unknown>"):
        component.update(contributes=False, hint="ignored unknown function")
    elif frame.family == "javascript":
        if (short := func.rsplit(".", 1)[-1]) != func:
            component.update(values=[short], hint="trimmed javascript function")
        if frame.sourcemap and context_line_contributes:
            component.update(
                contributes=False,
                hint="ignored because sourcemap used and context line available",
            )
    return component


def context_line_component(frame: Frame) -> Component:
    raw = frame.context_line or ""
    line = " ".join(raw.split())
    if not line:
        return Component("context-line")
    component = Component("context-line", [line])
    if len(raw) > 120:
        component.update(contributes=False, hint="ignored because line is too long")
    elif (
        frame.family == "javascript"
        and not frame.function
        and has_url_origin(frame.abs_path, files_are_urls=True)
    ):
        component.update(
            contributes=False,
            hint="ignored because file path is a URL and function name is missing",
        )
    return component


_FRAME_CACHE: dict[tuple[object, ...], Component] = {}
_FRAME_CACHE_LIMIT = 5000


def frame_component(frame: Frame, settings: Settings) -> Component:
    """The component of one frame, before in-app, recursion and stack trace rules apply.

    Cached: the same frames come in again and again. Callers copy the frame component before
    changing it and never change its children, so cached trees can be shared."""
    key = (settings.id, *frame.component_key())
    component = _FRAME_CACHE.get(key)
    if component is None:
        if len(_FRAME_CACHE) >= _FRAME_CACHE_LIMIT:
            _FRAME_CACHE.clear()
        component = _FRAME_CACHE[key] = _build_frame_component(frame, settings)
        component.freeze_children()
    return component


def _build_frame_component(frame: Frame, settings: Settings) -> Component:
    filename = filename_component(frame)
    module = module_component(frame)
    if module.contributes and filename.contributes:
        filename.update(contributes=False, hint="ignored because module takes precedence")
    context_line = None
    if frame.context_line and frame.platform in settings.contextline_platforms:
        context_line = context_line_component(frame)
    function = function_component(frame, context_line is not None and context_line.contributes)
    values: list[Component | str] = [module, filename, function]
    if context_line is not None:
        values.append(context_line)
    component = Component("frame", values)
    if frame.family == "javascript":
        _ignore_javascript_noise(frame, component, function)
    return component


def _ignore_javascript_noise(frame: Frame, component: Component, function: Component) -> None:
    # Decided after the frame's own `contributes` was computed, as in Sentry.
    func = frame.raw_function or frame.function
    if func:
        func = func.rsplit(".", 1)[-1]
    if not func:
        function.update(contributes=False)
    elif func in _JS_UNKNOWN_FUNCTIONS or func.endswith("/<"):
        function.update(contributes=False, hint="ignored unknown function name")
    if func == "eval" or frame.abs_path in _JS_LOW_QUALITY_PATHS:
        component.update(contributes=False, hint="ignored low quality javascript frame")
