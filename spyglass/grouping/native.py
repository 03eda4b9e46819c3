"""Function names as native (C, C++, Rust, Swift, Objective-C) and C# frames are grouped by.

A demangled native symbol carries return types, argument lists, template arguments, clone
suffixes and hashes that vary between builds; grouping only wants the function's name:
`std::vector<int>::push_back(int const&) const` -> `std::vector<T>::push_back`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

NATIVE_PLATFORMS = frozenset(("objc", "cocoa", "swift", "native", "c"))
JAVASCRIPT_PLATFORMS = frozenset(("javascript", "node"))

_RUST_HASH = re.compile(r"::h[a-z0-9]{16}$")
_GLIBC_VERSION = re.compile(r"@@?GLIBC_[0-9.]+$")
_WINDOWS_DECL = re.compile(r"^@?(.*?)@\d+$")
_CPP_TRAILER = re.compile(r"\s*(?:\bconst\b|&)$")
_LAMBDA = re.compile(r"\{lambda\(.*?\)#\d+\}|\blambda_[a-f0-9]{32}\b|\$_\d+\b")
_ANON_NAMESPACE_HASH = re.compile(r"\?A0x[a-f0-9]{8}::")
# Characters that would upset the bracket matching below, swapped out meanwhile.
_PROTECT = [
    ("operator<<", "operator\u27e8\u27e8"),
    ("operator<", "operator\u27e8"),
    ("operator()", "operator\u25ef"),
    ("operator->", "operator\u27ff"),
    (" -> ", " \u27ff "),
    ("`anonymous namespace'", "\u3014anonymousnamespace\u3015"),
]
_UNPROTECT = [
    ("\u27e8", "<"),
    ("\u25ef", "()"),
    ("\u27ff", "->"),
    ("\u3014anonymousnamespace\u3015", "`anonymous namespace'"),
]


def behavior_family(platform: str | None) -> str:
    if platform in NATIVE_PLATFORMS:
        return "native"
    if platform in JAVASCRIPT_PLATFORMS:
        return "javascript"
    return "other"


@lru_cache(maxsize=8192)
def trim_function_name(function: str, platform: str | None) -> str:
    if platform == "csharp":
        return function.split(" (", 1)[0]
    if behavior_family(platform) == "native":
        return trim_native_function_name(function, platform)
    return function


def _strip_enclosed(text: str, start: str, end: str, keep: Callable[[str], bool]) -> str:
    """Remove every outermost `start...end` group, except those whose content `keep`s it."""
    if start not in text:
        return text
    out: list[str] = []
    depth, opened = 0, 0
    for i, char in enumerate(text):
        if char == start:
            if depth == 0:
                opened = i
            depth += 1
        elif char == end and depth:
            depth -= 1
            if depth == 0 and keep(text[opened + 1 : i]):
                out.append(text[opened : i + 1])
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _not_a_clone(inner: str) -> bool:
    return not inner.startswith("clone .")  # `[clone .cold.1]` marks split functions


def _kept_parenthesis(inner: str) -> bool:
    return inner.strip() in ("anonymous namespace", "operator")


def _generic_arguments(text: str) -> str:
    """`Foo<int>::bar<X>` -> `Foo<T>::bar<T>`; a leading `<A as B>` (Rust) keeps `A`."""
    out: list[str] = []
    depth, opened = 0, 0
    for i, char in enumerate(text):
        if char == "<":
            if depth == 0:
                opened = i
            depth += 1
        elif char == ">" and depth:
            depth -= 1
            if depth == 0:
                out.append(_generic_replacement(text[opened + 1 : i], opened))
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _generic_replacement(inner: str, position: int) -> str:
    if inner == "lambda" or _LAMBDA.match(inner):
        return f"<{inner}>"
    if position > 0:
        return "<T>"
    inner = re.sub(r"^[A-Z] as ", "", inner)
    return _generic_arguments(inner).split(" as ", 1)[0]


def _tokens(text: str) -> list[str]:
    """Split on whitespace outside of brackets."""
    pairs = {"(": ")", "{": "}", "[": "]", "<": ">"}
    tokens: list[str] = []
    current: list[str] = []
    stack: list[str] = []
    for char in text:
        if char in pairs:
            stack.append(pairs[char])
        elif stack and char == stack[-1]:
            stack.pop()
        elif not stack and char.isspace():
            if current:
                tokens.append("".join(current))
            current = []
            continue
        current.append(char)
    if current:
        tokens.append("".join(current))
    return tokens


def _pick_name(tokens: list[str], platform: str | None) -> str | None:
    if not tokens:
        return None
    if len(tokens) > 1 and tokens[-1] == "<T>":
        tokens = [*tokens[:-2], tokens[-2] + " <T>"]
    name = tokens[-1]
    if "\u27ff" in tokens:
        arrow = len(tokens) - 1 - tokens[::-1].index("\u27ff")
        if arrow > 0:
            name = tokens[arrow - 1]
            if name == "throws" and arrow > 1:
                name = tokens[arrow - 2]
    if name.startswith("@") and platform in ("cocoa", "swift"):
        name = "closure"
    elif "closure" in tokens and name != "closure":
        name = "closure in " + name
    return name


def trim_native_function_name(function: str, platform: str | None) -> str:
    if function in ("<redacted>", "<unknown>"):
        return function
    original = function
    function = function.strip()
    if function.startswith(("[", "+[", "-[")):  # Objective-C
        return function
    function = _strip_enclosed(function, "[", "]", _not_a_clone).rstrip()
    while (trailer := _CPP_TRAILER.search(function)) is not None:
        function = function[: trailer.start()].rstrip()
    for plain, protected in _PROTECT:
        function = function.replace(plain, protected)
    function = _LAMBDA.sub("lambda", function)
    function = _ANON_NAMESPACE_HASH.sub("\u3014anonymousnamespace\u3015::", function)
    function = _strip_enclosed(function, "(", ")", _kept_parenthesis)
    function = _generic_arguments(function)
    name = _pick_name(_tokens(function), platform)
    if name is None:
        return original
    for protected, plain in _UNPROTECT:
        name = name.replace(protected, plain)
    name = _RUST_HASH.sub("", name)
    name = _GLIBC_VERSION.sub("", name)
    return _WINDOWS_DECL.sub(r"\1", name) if "@" in name else name
