"""Browser, OS and device contexts from a request's User-Agent and client hints, as Relay adds them.

Relay's ``normalize_user_agent`` compiles all of uap-core's regexes in Rust on first use: 38 MB
of RSS in a worker. Here the same uap-core rules (``ua-parser-builtins``) are matched with
Python's ``re`` the way Relay's parser matches them, for about 2 MB (7 MB with a full cache)
and half a millisecond per distinct header set. The contexts are built by Relay's rules:
client hints before the User-Agent, "Other" dropped, versions joined from major.minor.patch,
the frozen Windows 10 and macOS 10.15.7 marked ``>=``, the OS under ``client_os`` unless the
event comes from a browser SDK. ``tests/test_useragent_differential.py`` holds the result to
Relay's own over a corpus and lists every known difference.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sentry_relay.exceptions import RelayError
from sentry_relay.processing import StoreNormalizer

Headers = tuple[str | None, ...]
Fields = tuple[str | None, ...]
_Fill = Callable[[list[str | None], "re.Match[bytes]"], Fields]

# The order of ``Headers``; names as they appear lowercased in the event.
HEADER_NAMES = (
    "user-agent",
    "sec-ch-ua",
    "sec-ch-ua-model",
    "sec-ch-ua-platform",
    "sec-ch-ua-platform-version",
)
# Rust's str::trim (Unicode White_Space); Python's strip() would also strip \x1c-\x1f.
_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# One brand of Sec-CH-UA: "Google Chrome";v="120".
_BRAND = re.compile(r'"([^"]*)";v="([^"]*)"')
# Brands that name no browser: GREASE ("Not_A Brand") and the engines.
_NOT_A_BROWSER = ("Brand", "Chromium", "Gecko", "WebKit")
# User agents freeze the OS version here; the real one may be higher.
_FROZEN_VERSIONS = {"Windows": "10", "Mac OS X": "10.15.7"}
# Real user agents are under 500 characters; Relay reads up to its 8 KB trimming limit.
MAX_HEADER_LENGTH = 1024


def add_user_agent_contexts(event: dict[str, Any]) -> None:
    """Add the contexts the request headers give, where the event has none under that key."""
    headers = user_agent_headers(event)
    if headers is None:
        return
    found = contexts_for_user_agent(headers, event.get("platform") == "javascript")
    if not found:
        return
    contexts = event.get("contexts")
    if not isinstance(contexts, dict):
        contexts = event["contexts"] = {}
    for key, context in found.items():
        # Relay replaces a context of another type under "browser" or "device"; we keep it.
        if contexts.get(key) is None:
            contexts[key] = dict(context)


def user_agent_headers(event: dict[str, Any]) -> Headers | None:
    """The user agent and client hint headers of an event's request (last one wins), if any."""
    request = event.get("request")
    headers = request.get("headers") if isinstance(request, dict) else None
    if not isinstance(headers, list):
        return None
    found: dict[str, str | None] = {}
    for pair in headers:
        if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str):
            name = pair[0].lower()
            if name in HEADER_NAMES:
                # A header without a value unsets an earlier one, as in Relay.
                found[name] = pair[1] if isinstance(pair[1], str) else None
    if not any(value is not None for value in found.values()):
        return None
    return tuple(found.get(name) for name in HEADER_NAMES)


class _ContextsForUserAgent:
    """``contexts_for_user_agent(headers, javascript)``: Relay's browser, device and OS contexts.

    ``headers`` as ``user_agent_headers`` gives them. Each header is read up to
    ``MAX_HEADER_LENGTH`` characters, so that a hostile one costs neither seconds of matching
    nor megabytes of cache. The result is cached and shared: copy a context before changing it.
    """

    def __call__(self, headers: Headers, javascript: bool) -> dict[str, dict[str, Any]]:
        bounded = tuple(None if value is None else value[:MAX_HEADER_LENGTH] for value in headers)
        return _contexts(bounded, javascript)

    def cache_clear(self) -> None:
        _contexts.cache_clear()


contexts_for_user_agent = _ContextsForUserAgent()


@functools.lru_cache(maxsize=4096)
def _contexts(headers: Headers, javascript: bool) -> dict[str, dict[str, Any]]:
    user_agent, sec_ch_ua, model, platform, platform_version = headers
    text = None if user_agent is None else user_agent.encode("utf-8", "surrogatepass")
    found: dict[str, dict[str, Any]] = {}
    browser = _browser_from_hints(sec_ch_ua) or _browser_from_ua(text)
    if browser is not None:
        found["browser"] = browser
    device = _device_from_hints(model) or _device_from_ua(text)
    if device is not None:
        found["device"] = device
    os = _os_from_hints(platform, platform_version) or _os_from_ua(text)
    if os is not None:
        found["os" if javascript else "client_os"] = os
    return found


# --- client hints -------------------------------------------------------------------------


def _browser_from_hints(sec_ch_ua: str | None) -> dict[str, Any] | None:
    """The first brand of Sec-CH-UA that is a browser, if its name and version are not blank."""
    if sec_ch_ua is None:
        return None
    for item in sec_ch_ua.split(","):
        if any(word in item for word in _NOT_A_BROWSER):
            continue
        match = _BRAND.search(item)
        if match is None:
            return None
        name, version = match.groups()
        if not name.strip(_WHITESPACE) or not version.strip(_WHITESPACE):
            return None
        # Relay names Chrome as uap-core does, so that one browser has one name.
        return _browser("Chrome" if name == "Google Chrome" else name, version)
    return None


def _device_from_hints(model: str | None) -> dict[str, Any] | None:
    model = _unquote(model)
    return _device(None, None, model) if model else None


def _os_from_hints(platform: str | None, version: str | None) -> dict[str, Any] | None:
    # An empty version is kept: the browser may not have been asked for it.
    platform = _unquote(platform)
    return _os(platform, _unquote(version)) if platform else None


def _unquote(value: str | None) -> str | None:
    return value.strip(_WHITESPACE).replace('"', "") if value is not None else None


# --- the User-Agent -----------------------------------------------------------------------


def _browser_from_ua(text: bytes | None) -> dict[str, Any] | None:
    found = _first(_rules().agents, text)
    if found is None:
        return None
    family, major, minor, patch = found
    return _browser(str(family), _version(major, minor, patch))


def _os_from_ua(text: bytes | None) -> dict[str, Any] | None:
    found = _first(_rules().systems, text)
    if found is None:
        return None
    family, major, minor, patch = found
    version = _version(major, minor, patch)
    if version is not None and _FROZEN_VERSIONS.get(str(family)) == version:
        version = ">=" + version
    return _os(str(family), version)


def _device_from_ua(text: bytes | None) -> dict[str, Any] | None:
    found = _first(_rules().devices, text)
    if found is None:
        return None
    family, brand, model = found
    return _device(family, brand, model)


def _version(major: str | None, minor: str | None, patch: str | None) -> str | None:
    if major is None:
        return None
    if minor is None:
        return major
    return f"{major}.{minor}" if patch is None else f"{major}.{minor}.{patch}"


# --- the contexts, with the fields Relay's context normalization computes -----------------


def _browser(name: str, version: str | None) -> dict[str, Any]:
    browser = name if version is None else f"{name} {version}"
    context = {"browser": browser, "name": name, "version": version, "type": "browser"}
    return {key: value for key, value in context.items() if value is not None}


def _os(name: str, version: str | None) -> dict[str, Any]:
    os = name if version is None else f"{name} {version}"
    context = {"os": os, "name": name, "version": version, "type": "os"}
    return {key: value for key, value in context.items() if value is not None}


def _device(family: str | None, brand: str | None, model: str | None) -> dict[str, Any]:
    context = {
        "name": _marketing_name(model) if model else None,
        "family": family,
        "model": model,
        "brand": brand,
        "type": "device",
    }
    return {key: value for key, value in context.items() if value is not None}


def _marketing_name(model: str) -> str | None:
    """The product name Relay's context normalization gives an Android model (SM-S918B).

    The table lives in Relay: normalizing a device context loads it (4 MB, as any mobile SDK's
    event does anyway) and costs about 50 us, once per distinct header set.
    """
    probe = {"contexts": {"device": {"model": model}}}
    try:
        normalizer = StoreNormalizer(json_dumps=orjson.dumps)
        out = normalizer.normalize_event(raw_event=orjson.dumps(probe), json_loads=orjson.loads)
    except (RelayError, orjson.JSONEncodeError):
        return None
    device = ((out or {}).get("contexts") or {}).get("device") or {}
    name = device.get("name")
    return name if isinstance(name, str) else None


# --- uap-core's rules, matched the way Relay's Rust parser matches them -------------------


class _Rule:
    """One uap-core rule: its pattern and the templates of its fields ("$1", "Windows", None).

    Relay compiles the patterns for bytes without Unicode (``\\d`` and ``\\w`` are ASCII, ``.``
    is one byte, case folding is ASCII), as Python's bytes patterns are. Compiled on first use.
    """

    __slots__ = ("_pattern", "fill", "flags", "source", "templates")

    def __init__(self, source: str, templates: Fields, fill: _Fill, flags: int = 0) -> None:
        self.source = source
        self.templates = templates
        self.fill = fill
        self.flags = flags
        self._pattern: re.Pattern[bytes] | None = None

    def search(self, text: bytes) -> re.Match[bytes] | None:
        if self._pattern is None:
            self._pattern = re.compile(_rust_end_anchors(self.source).encode(), self.flags)
        return self._pattern.search(text)


class _Rules:
    """uap-core's rules as ``ua-parser-builtins`` lists them, an absent template kept absent.

    ua-parser's own matchers read an absent family as "$1", trim every group, match Unicode
    digits and raise on a rule that captures no family; Relay's parser does none of that (an
    expanded "$1" is trimmed, a bare group is not). So the rules are read from the package's
    generated source, calls of literals only, and matched here.
    """

    def __init__(self) -> None:
        spec = importlib.util.find_spec("ua_parser_builtins.lazy")
        if spec is None or spec.origin is None:
            raise ImportError("ua-parser-builtins is not installed")
        calls: dict[str, list[list[Any]]] = {
            "UserAgentMatcher": [],
            "OSMatcher": [],
            "DeviceMatcher": [],
        }
        # One call per line; parsed line by line, which leaves no syntax tree of 130 KB behind.
        for line in Path(spec.origin).read_text(encoding="utf-8").splitlines():
            found = calls.get(line.strip().split("(", 1)[0])
            if found is None:
                continue
            call = ast.parse(line.strip().rstrip(","), mode="eval").body
            if not isinstance(call, ast.Call) or call.keywords:
                raise ValueError(f"unexpected rule format: {line[:200]}")
            found.append([ast.literal_eval(arg) for arg in call.args])
        if not all(calls.values()):
            raise ValueError(f"no rules found in {spec.origin}")
        self.agents = [
            _Rule(c[0], _pad(c[1:], 4), _agent_versions) for c in calls["UserAgentMatcher"]
        ]
        self.systems = [_Rule(c[0], _pad(c[1:], 4), _os_versions) for c in calls["OSMatcher"]]
        self.devices = [
            _Rule(c[0], _pad(c[2:], 3), _device_fields, re.I if _pad(c[1:], 1)[0] else 0)
            for c in calls["DeviceMatcher"]
        ]


def _pad(values: list[Any], length: int) -> Fields:
    return (*values[:length], *([None] * (length - len(values))))


_lock = threading.Lock()
_loaded: _Rules | None = None


def _rules() -> _Rules:
    global _loaded
    if _loaded is None:
        with _lock:
            if _loaded is None:
                _loaded = _Rules()
    return _loaded


def _first(rules: list[_Rule], text: bytes | None) -> Fields | None:
    """The fields of the first rule that matches and yields a family other than "Other"."""
    if text is None:
        return None
    for rule in rules:
        match = rule.search(text)
        if match is None:
            continue
        family_template, *templates = rule.templates
        family = _group(match, 1) if family_template is None else _expand(family_template, match)
        if family is None:
            continue  # as in Relay's parser: a rule without a family does not match
        if family == "Other":
            return None
        return (family, *rule.fill(templates, match))
    return None


def _agent_versions(templates: list[str | None], match: re.Match[bytes]) -> Fields:
    # A browser's version templates are plain strings, never expanded.
    return tuple(_group(match, n) if t is None else t for n, t in enumerate(templates, 2))


def _os_versions(templates: list[str | None], match: re.Match[bytes]) -> Fields:
    return tuple(
        _group(match, n) if t is None else _nonempty(_expand(t, match))
        for n, t in enumerate(templates, 2)
    )


def _device_fields(templates: list[str | None], match: re.Match[bytes]) -> Fields:
    brand, model = templates
    model_value = _group(match, 1) if model is None else _nonempty(_expand(model, match))
    return _nonempty(_expand(brand, match)), model_value


def _nonempty(value: str | None) -> str | None:
    return value or None


def _group(match: re.Match[bytes], index: int) -> str | None:
    """Group ``index`` as text; None when absent, empty or not valid UTF-8."""
    if index > match.re.groups:
        return None
    value = match.group(index)
    if not value:
        return None
    try:
        return value.decode()
    except UnicodeDecodeError:
        return None


_REFERENCE = re.compile(rb"\$(\$|\{[^}]*\}|[_0-9A-Za-z]+)")


def _expand(template: str | None, match: re.Match[bytes]) -> str | None:
    """A replacement template with its ``$n`` filled in and trimmed, as Rust's regex expands it."""
    if template is None:
        return None
    if "$" not in template:
        return template

    def reference(ref: re.Match[bytes]) -> bytes:
        name = ref.group(1)
        if name == b"$":
            return b"$"
        name = name.strip(b"{}")
        if not name.isdigit() or int(name) > match.re.groups:
            return b""
        return match.group(int(name)) or b""

    expanded = _REFERENCE.sub(reference, template.encode())
    try:
        return expanded.decode().strip(_WHITESPACE)
    except UnicodeDecodeError:
        return template  # Relay keeps the template when a group splits a character


def _rust_end_anchors(source: str) -> str:
    """``$`` as Rust reads it (the very end); Python's also matches before a final newline."""
    out: list[str] = []
    escaped = in_class = False
    for char in source:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "$":
            char = r"\Z"
        out.append(char)
    return "".join(out)
