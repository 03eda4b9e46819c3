"""Globs as Sentry's rules use them (Relay's globber: `*`, `?`, `[...]`, `{a,b}`).

Two flavours: plain globs, where `*` matches anything, and path globs, where `*` and `?` stop
at `/`, `**` crosses directories and backslashes count as slashes.
"""

from __future__ import annotations

import re
from functools import lru_cache

_REGEX_SPECIAL = frozenset("\\.^$|?*+()[]{}")


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the class opened at `start`, or -1."""
    i = start + 1
    if i < len(pattern) and pattern[i] in "!^":
        i += 1
    if i < len(pattern) and pattern[i] == "]":
        i += 1
    end = pattern.find("]", i)
    return end


def _translate_class(body: str) -> str:
    negate = body[:1] in ("!", "^")
    if negate:
        body = body[1:]
    escaped = "".join("\\" + c if c in "\\^[]" else c for c in body)
    return f"[{'^' if negate else ''}{escaped}]"


def _translate_stars(pattern: str, i: int, path: bool, out: list[str]) -> int:
    """Translate the run of `*` starting at `i`; return the index after it."""
    j = i
    while j < len(pattern) and pattern[j] == "*":
        j += 1
    if not path:
        out.append(".*")
        return j
    if j - i == 1:
        out.append("[^/]*")
        return j
    at_start = i == 0 or pattern[i - 1] == "/"
    if at_start and j < len(pattern) and pattern[j] == "/":
        # `**/` also matches no directory at all
        out.append("(?:.*/)?")
        return j + 1
    out.append(".*")
    return j


def translate(pattern: str, *, path: bool) -> str:
    """The regular expression (to be full-matched) equivalent to a glob."""
    out: list[str] = []
    i, depth, n = 0, 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and not path and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "*":
            i = _translate_stars(pattern, i, path, out)
            continue
        if c == "?":
            out.append("[^/]" if path else ".")
        elif c == "[" and (end := _class_end(pattern, i)) > 0:
            out.append(_translate_class(pattern[i + 1 : end]))
            i = end + 1
            continue
        elif c == "{" and pattern.find("}", i) > 0:
            depth += 1
            out.append("(?:")
        elif c == "}" and depth:
            depth -= 1
            out.append(")")
        elif c == "," and depth:
            out.append("|")
        else:
            out.append("\\" + c if c in _REGEX_SPECIAL else c)
        i += 1
    out.extend(")" * depth)
    return "".join(out)


@lru_cache(maxsize=4096)
def compile_glob(pattern: str, *, path: bool = False, ignore_case: bool = False) -> re.Pattern[str]:
    """Compile a glob once; path globs also normalise backslashes in the pattern."""
    if path:
        pattern = pattern.replace("\\", "/")
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    try:
        return re.compile(translate(pattern, path=path), flags)
    except re.error:
        # A glob the translation cannot express never matches (as in Relay).
        return re.compile(r"(?!)")


def glob_match(value: str, pattern: str, *, path: bool = False, ignore_case: bool = False) -> bool:
    if path:
        value = value.replace("\\", "/")
    return compile_glob(pattern, path=path, ignore_case=ignore_case).fullmatch(value) is not None


def path_match(value: str, pattern: str) -> bool:
    """Sentry's path matching: case-insensitive path glob, retried with a leading slash so
    that `**/foo/**` also matches a relative `foo/bar.py`."""
    regex = compile_glob(pattern, path=True, ignore_case=True)
    value = value.replace("\\", "/")
    if regex.fullmatch(value) is not None:
        return True
    return not value.startswith("/") and regex.fullmatch("/" + value) is not None
