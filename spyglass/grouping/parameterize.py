"""Message parameterization: variable parts of a message become placeholders.

`Connection to 10.0.0.1 failed after 3000 tries` -> `Connection to <ip> failed after <int> tries`.

The kinds and their priority follow Sentry's parameterization (`grouping/parameterization.py`):
one alternation, the first kind that matches at a position wins. The expressions are our own.
Not included: Sentry's `git_sha` and `swift_txn_id` kinds (not used by its message grouping)
and its experimental "unique id" heuristics.
"""

from __future__ import annotations

import re
from functools import lru_cache

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}"
_H16 = r"[0-9a-fA-F]{1,4}"
_IPV6 = "|".join(
    [
        rf"(?:{_H16}:){{7}}{_H16}",
        rf"(?:{_H16}:){{1,7}}:",
        rf"(?:{_H16}:){{1,6}}:{_H16}",
        rf"(?:{_H16}:){{1,5}}(?::{_H16}){{1,2}}",
        rf"(?:{_H16}:){{1,4}}(?::{_H16}){{1,3}}",
        rf"(?:{_H16}:){{1,3}}(?::{_H16}){{1,4}}",
        rf"(?:{_H16}:){{1,2}}(?::{_H16}){{1,5}}",
        rf"{_H16}:(?::{_H16}){{1,6}}",
        rf":(?:(?::{_H16}){{1,7}}|:)",
        r"fe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+",
        rf"::(?:ffff(?::0{{1,4}})?:)?{_IPV4}",
        rf"(?:{_H16}:){{1,4}}:{_IPV4}",
    ]
)

# The ~100 most common top-level domains, as Sentry's hostname kind uses.
_TLDS = [
    "com",
    "net",
    "org",
    "edu",
    "gov",
    "info",
    "biz",
    "pro",
    "app",
    "io",
    "co",
    "me",
    "tv",
    "cc",
    "xyz",
    "site",
    "online",
    "club",
    "tips",
    "news",
    "wiki",
    "link",
    "jobs",
    "mobi",
    "cat",
    "xxx",
    "jp",
    "de",
    "uk",
    "fr",
    "br",
    "it",
    "ru",
    "es",
    "pl",
    "ca",
    "au",
    "cn",
    "in",
    "nl",
    "eu",
    "ch",
    "id",
    "at",
    "kr",
    "cz",
    "mx",
    "be",
    "se",
    "tr",
    "tw",
    "al",
    "ua",
    "ir",
    "vn",
    "cl",
    "sk",
    "ly",
    "to",
    "no",
    "fi",
    "us",
    "pt",
    "dk",
    "ar",
    "hu",
    "tk",
    "gr",
    "il",
    "ro",
    "my",
    "ie",
    "za",
    "nz",
    "sg",
    "ee",
    "th",
    "pe",
    "bg",
    "hk",
    "rs",
    "lt",
    "ph",
    "si",
    "by",
    "la",
    "ga",
    "cf",
    "hr",
    "ng",
    "kz",
    "ug",
    "gq",
    "ae",
    "is",
    "lv",
    "fm",
    "ms",
    "sa",
]
_TLD_ALTERNATION = "|".join(sorted(_TLDS + [t.upper() for t in _TLDS], key=len, reverse=True))

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
_LONG_DAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
_ZONE = r"(?:[-+]\d{2}[0-5]\d|UT|GMT|[ECMP][SD]T|[A-IK-Z])"
_TZ_OFFSET = r"(?:[+-][0-2]\d:?[0-5]\d|Z)"
_DATE_FORMS = [
    # RFC 822/1123: "Mon, 02 Jan 2006 15:04:05 MST"
    rf"{_DAY},\s\d{{1,2}}\s{_MONTH}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(?::\d{{1,2}})?\s{_ZONE}",
    # "Mon Jan 02, 2006" and "Jan 02, 2006"
    rf"(?:{_DAY}\s)?{_MONTH}\s[0-3]\d,\s\d{{2,4}}",
    # RFC 850: "Monday, 02-Jan-06 15:04:05 MST"
    rf"(?:{_LONG_DAY}|{_DAY}),\s\d{{2}}-{_MONTH}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{_ZONE}",
    # RFC 3339 / ISO 8601 with a T
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?(?:[+-]?\d{2}:\d{2})?",
    # JavaScript Date.toString(): "Mon Jan 02 2006 15:04:05 GMT+0100 (CET)"
    rf"{_DAY}\s{_MONTH}\s\d{{2}}\s\d{{4}}\s\d{{2}}:\d{{2}}:\d{{2}}\sGMT[+-]\d{{4}}(?:\s\([^)]+\))?",
    # date and time, optional seconds and fraction, then an optional zone
    r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d(?::?[0-5]\d(?:\.\d+)?)?" + rf"{_TZ_OFFSET}?",
    # clock times: 12-hour with optional AM/PM, then 24-hour
    r"(?<!\d)(?:1[0-2]|[1-9]):[0-5]\d(?::[0-5]\d)?(?![\d:])(?:\s?[aApP][mM])?",
    r"(?<!\d)(?:2[0-3]|[01]?\d):[0-5]\d(?::[0-5]\d)?(?![\d:])",
    r"\d{4}-[01]\d-[0-3]\d",
    r"[0-2]\d:[0-5]\d:[0-5]\d",
    # C's asctime(): "Mon Jan  2 15:04:05 2006"
    rf"\b(?:{_DAY}\s+)?{_MONTH}\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}\s+\d{{4}}",
    rf"\b(?:{_DAY},\s+)?(?:0[1-9]|[12]?\d|3[01])\s+{_MONTH}\s+(?:19\d\d|[2-9]\d{{3}})\s+"
    rf"(?:2[0-3]|[01]\d):[0-5]\d(?::(?:60|[0-5]\d))?\s+{_ZONE}",
    # Python's repr of a datetime
    r"datetime\.datetime\(.*?\)",
]

# (kind, expression) in priority order
_KINDS: list[tuple[str, str]] = [
    ("email", r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"),
    ("url", r"\b(?:wss?|https?|ftp)://[^\s/$.?#].\S*"),
    ("hostname", rf"\b(?:[A-Za-z0-9-]{{1,63}}\.)+?(?:{_TLD_ALTERNATION})\b"),
    ("ip", rf"(?<![0-9A-Za-z_])(?:{_IPV6})(?![0-9A-Za-z])|\b{_IPV4}\b"),
    ("traceparent", r"\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b|\b1-[0-9a-f]{8}-[0-9a-f]{24}\b"),
    ("uuid", r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b"),
    ("sha1", r"\b[0-9a-fA-F]{40}\b"),
    ("md5", r"\b[0-9a-fA-F]{32}\b"),
    ("date", "|".join(_DATE_FORMS)),
    ("duration", r"\b\d+ms\b|\b\d+(?:\.\d+)?s\b"),
    (
        "hex",
        r"\b0[xX][0-9a-fA-F]+\b|\b(?=[a-f]*\d)[0-9a-f]{8,128}\b|\b(?=[A-F]*\d)[0-9A-F]{8,128}\b",
    ),
    ("float", r"-\d+\.\d+\b|\b\d+\.\d+\b"),
    # up to 7 digits: longer runs are ids, caught as hex above
    ("int", r"(?:\b|(?<!\w)-)\d{1,7}\b"),
    ("quoted_str", r"""(?<==)(?:'[^']+'|"[^"]+")"""),
    ("bool", r"(?<==)(?:[Tt]rue|[Ff]alse)"),
]

# The characters a match of each kind can start with, as the inside of a character class
# (a lookahead there lets a position fail at one class instead of at every alternative).
_FIRST: dict[str, str] = {
    "email": r"A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-",
    "url": "whf",
    "hostname": r"A-Za-z0-9\-",
    "ip": r"\da-fA-F:",
    "traceparent": "01",
    "uuid": "0-9a-fA-F",
    "sha1": "0-9a-fA-F",
    "md5": "0-9a-fA-F",
    "date": r"\dJFMASONDTWd",  # a digit, a day or month name, or datetime.datetime(
    "duration": r"\d",
    "hex": "0-9a-fA-F",
    "float": r"\d\-",
    "int": r"\d\-",
    "quoted_str": "'\"",
    "bool": "TtFf",
}
# The parameterizer of one text only holds the kinds that can match somewhere in it: a kind
# whose every match holds a character (or a digit, or a length) the text lacks is left out,
# which changes no result (the first kind that matches at a position still wins) and spares
# trying it at every position. Bits of the text's features:
_AT, _SCHEME, _DOT, _COLON, _DASH, _EQUALS, _DIGIT, _DATETIME, _32, _40 = (
    1 << i for i in range(10)
)
# kind -> the feature sets, any of which lets it match (each set: all of its bits).
_NEEDS: dict[str, tuple[int, ...]] = {
    "email": (_AT,),
    "url": (_SCHEME,),
    "hostname": (_DOT,),
    "ip": (_DOT, _COLON),
    "traceparent": (_DASH | _DIGIT,),
    "uuid": (_DASH,),
    "sha1": (0,),
    "md5": (0,),
    "date": (_DIGIT, _DATETIME),
    "duration": (_DIGIT,),
    "hex": (_DIGIT,),
    "float": (_DOT | _DIGIT,),
    "int": (_DIGIT,),
    "quoted_str": (_EQUALS,),
    "bool": (_EQUALS,),
}
_ANY_DIGIT = re.compile(r"\d")  # what `\d` in the kinds matches (Unicode digits too)
_PLACEHOLDERS = {kind: f"<{kind}>" for kind, _ in _KINDS}
_PARAMETERIZERS: dict[int, re.Pattern[str] | None] = {}  # by features: at most 256
_BY_KINDS: dict[tuple[str, ...], re.Pattern[str] | None] = {}  # shared: at most 144


def _features(text: str) -> int:
    found = 0
    for bit, literal in (
        (_AT, "@"),
        (_SCHEME, "://"),
        (_DOT, "."),
        (_COLON, ":"),
        (_DASH, "-"),
        (_EQUALS, "="),
        (_DATETIME, "datetime.datetime("),
    ):
        if literal in text:
            found |= bit
    if _ANY_DIGIT.search(text):
        found |= _DIGIT
    return found


def _parameterizer(features: int) -> re.Pattern[str] | None:
    """The alternation of the kinds that can match a text with these features, in priority
    order (None when none can)."""
    if features in _PARAMETERIZERS:
        return _PARAMETERIZERS[features]
    kinds = tuple(
        kind for kind, _ in _KINDS if any(features & needs == needs for needs in _NEEDS[kind])
    )
    if kinds not in _BY_KINDS:
        _BY_KINDS[kinds] = _alternation(kinds) if kinds else None
    pattern = _PARAMETERIZERS[features] = _BY_KINDS[kinds]
    return pattern


def _alternation(kinds: tuple[str, ...]) -> re.Pattern[str]:
    expressions = dict(_KINDS)
    starts = "".join(_FIRST[kind] for kind in kinds)
    alternatives = "|".join(
        f"(?P<{kind}>(?=[{_FIRST[kind]}])(?:{expressions[kind]}))" for kind in kinds
    )
    return re.compile(f"(?=[{starts}])(?:{alternatives})")


def _placeholder(match: re.Match[str]) -> str:
    kind = match.lastgroup
    return _PLACEHOLDERS[kind] if kind else match.group()


def parameterize(text: str) -> str:
    """Replace every variable-looking part of `text` by a `<kind>` placeholder."""
    pattern = _parameterizer(_features(text))
    return pattern.sub(_placeholder, text) if pattern is not None else text


def trim_message(message: str) -> str:
    """The first two non-blank lines; `...` appended when anything was cut."""
    lines = [line for line in message.splitlines() if line.strip()][:2]
    trimmed = "\n".join(lines)
    return trimmed if trimmed == message else trimmed + "..."


@lru_cache(maxsize=8192)
def normalize_message(message: str, *, trim: bool = True) -> str:
    """What a message or exception value contributes to grouping (cached: the same messages
    arrive again and again)."""
    return parameterize(trim_message(message) if trim else message)
