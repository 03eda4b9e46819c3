"""Inbound filters with Relay's semantics (``relay-filter``), run on a normalized event.

``filter_reason`` answers Relay's reason id for the first filter that drops the event, in
Relay's order, or None. Settings compile once (globs to one regular expression per list) and
are cached by value, so a project's ``FilterSettings`` costs nothing after its first event.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from spyglass.digest.normalize import contexts_for_user_agent

# Sentry's HEALTH_CHECK_GLOBS, sent to Relay as ``ignoreTransactions`` when the filter is on.
HEALTH_CHECK_GLOBS = (
    "*healthcheck*",
    "*heartbeat*",
    "*/health",
    "*/healthy",
    "*/healthz",
    "*/live",
    "*/livez",
    "*/ready",
    "*/readyz",
    "*/ping",
)
# Sentry's DEFAULT_DISALLOWED_SOURCES for CSP reports (``sentry:csp_ignored_sources_defaults``).
CSP_DEFAULT_IGNORED_SOURCES = (
    "about",
    "ms-browser-extension",
    "chrome://*",
    "chrome-extension://*",
    "chromeinvokeimmediate://*",
    "chromenull://*",
    "data:text/html,chromewebdata",
    "safari-extension://*",
    "mxaddon-pkg://*",
    "jar://*",
    "webviewprogressproxy://*",
    "ms-browser-extension://*",
    "tmtbff://*",
    "mbinit://*",
    "symres://*",
    "resource://*",
    "moz-extension://*",
    "*.metrext.com",
    "static.image2play.com",
    "*.tlscdn.com",
    "73a5b0806e464be8bd4e694c744624f0.com",
    "020dfefc4ac745dab7594f2f771c1ded.com",
    "*.superfish.com",
    "addons.mozilla.org",
    "v.zilionfast.in",
    "widgets.amung.us",
    "xls.searchfun.in",
    "istatic.datafastguru.info",
    "localhost",
    "resultshub-a.akamaihd.net",
    "pulseadnetwork.com",
    "gateway.zscalertwo.net",
    "www.passpack.com",
    "middlerush-a.akamaihd.net",
    "www.websmartcenter.com",
    "a.linkluster.com",
    "saveyoutime.ru",
    "cdncache-a.akamaihd.net",
    "x.rafomedia.com",
    "savingsslider-a.akamaihd.net",
    "injections.adguard.com",
    "icontent.us",
    "amiok.org",
    "connectionstrenth.com",
    "siteheart.net",
    "netanalitics.space",
    "printapplink.com",
    "godlinkapp.com",
    "devappstor.com",
    "hoholikik.club",
    "smartlink.cool",
    "promfflinkdev.com",
)

# relay-filter/src/browser_extensions.rs: the first exception's value, and the source of its
# innermost frame with a real path.
_EXTENSION_VALUES = re.compile(
    r"top\.GLOBALS|originalCreateNotification|canvas.contentDocument|MyApp_RemoveAllHighlights"
    r"|http://tt\.epicplay\.com|Can't\sfind\svariable:\sZiteReader|jigsaw\sis\snot\sdefined"
    r"|ComboSearch\sis\snot\sdefined|http://loading\.retry\.widdit\.com/|atomicFindClose"
    r"|fb_xd_fragment|bmi_SafeAddOnload|EBCallBackMessageReceived|_gCrWeb|conduitPage"
    r"|null\sis\snot\san\sobject\s\(evaluating\s'elt.parentNode'\)"
    r"|plugin\.setSuspendState\sis\snot\sa\sfunction|Extension\scontext\sinvalidated"
    r"|webkit-masked-url:|can't\saccess\sdead\sobject"
    r"|Cannot\sredefine\sproperty:\s(?:solana|ethereum)",
    re.IGNORECASE,
)
_EXTENSION_SOURCES = re.compile(
    r"graph\.facebook\.com|connect\.facebook\.net|eatdifferent\.com\.woopra-ns\.com"
    r"|static\.woopra\.com/js/woopra\.js|^chrome(?:-extension)?://|^moz-extension://"
    r"|^safari(?:-web)?-extension://|webkit-masked-url|127\.0\.0\.1:4001/isrunning"
    r"|webappstoolbarba\.texthelp\.com/|metrics\.itunes\.apple\.com\.edgesuite\.net/"
    r"|kaspersky-labs\.com|^@safari-extension|^ms-browser-extension://",
    re.IGNORECASE,
)
_ANONYMOUS_FRAMES = ("<anonymous>", "[native code]")
# relay-filter/src/web_crawlers.rs, with Slack's link expander allowed through.
_WEB_CRAWLERS = re.compile(
    r"Mediapartners-Google|AdsBot-Google|Googlebot|FeedFetcher-Google|BingBot|BingPreview"
    r"|Baiduspider|Slurp|Sogou|facebook|ia_archiver|bots?[/\s\);]|spider[/\s\);]|Slack"
    r"|Calypso\sAppCrawler|pingdom|lyticsbot|AWS\sSecurity\sScanner|HubSpot\sCrawler"
    r"|Bytespider|Better\sUptime|Cloudflare-Healthchecks|GTmetrix|BrightEdgeOnCrawl"
    r"|ELB-HealthChecker|naver\.me/spd|yandex\.com/bots|mj12bot|ahrefs",
    re.IGNORECASE,
)
_ALLOWED_CRAWLERS = re.compile(r"Slackbot\s1\.\d+", re.IGNORECASE)
_LOCAL_IPS = ("127.0.0.1", "::1")
_LOCAL_DOMAINS = ("127.0.0.1", "localhost")
# Relay's minimum versions for the ``default`` legacy-browser set (older ones are filtered).
_DEFAULT_MIN_VERSIONS = {
    "Chrome": 0,
    "IE": 10,
    "Firefox": 0,
    "Safari": 6,
    "Edge": 0,
    "Opera": 15,
    "Android": 4,
    "Opera Mini": 8,
}
# Named options: browser family and whether a major version is filtered.
_LEGACY_OPTIONS: dict[str, tuple[str, Any]] = {
    "ie": ("IE", lambda v: v <= 11),
    "edge": ("Edge", lambda v: v <= 18),
    "safari": ("Safari", lambda v: v <= 11),
    "firefox": ("Firefox", lambda v: v <= 66),
    "chrome": ("Chrome", lambda v: v <= 62),
    "opera": ("Opera", lambda v: v <= 50),
    "android": ("Android", lambda v: v <= 3),
    "opera_mini": ("Opera Mini", lambda v: v <= 34),
    # Deprecated options, still honoured.
    "ie_pre_9": ("IE", lambda v: v <= 8),
    "ie9": ("IE", lambda v: v == 9),
    "ie10": ("IE", lambda v: v == 10),
    "ie11": ("IE", lambda v: v == 11),
    "opera_pre_15": ("Opera", lambda v: v < 15),
    "opera_mini_pre_8": ("Opera Mini", lambda v: v < 8),
    "android_pre_4": ("Android", lambda v: v < 4),
    "safari_pre_6": ("Safari", lambda v: v < 6),
    "edge_pre_79": ("Edge", lambda v: v < 79),
}


@dataclass(frozen=True)
class FilterSettings:
    error_messages: tuple[str, ...] = ()
    releases: tuple[str, ...] = ()
    health_check: bool = True
    localhost: bool = False
    browser_extensions: bool = False
    web_crawlers: bool = False
    legacy_browsers: bool = False
    # Empty with the filter on means Relay's ``default`` set.
    legacy_browser_options: tuple[str, ...] = ()
    # IPs or CIDR networks, matched against the client IP of the request.
    blacklisted_ips: tuple[str, ...] = ()
    csp_ignored_sources: tuple[str, ...] = ()
    csp_ignored_sources_defaults: bool = True
    # Sentry's generic filters (``filters:react-hydration-errors``, ``filters:chunk-load-error``).
    react_hydration_errors: bool = False
    chunk_load_errors: bool = False


@dataclass(frozen=True)
class _Compiled:
    error_messages: re.Pattern[str] | None
    releases: re.Pattern[str] | None
    transactions: re.Pattern[str] | None
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    csp_sources: tuple[tuple[str | None, str | None, str | None], ...]


def filter_reason(
    event: dict[str, Any], settings: FilterSettings, *, client_ip: str | None = None
) -> str | None:
    """Relay's reason id when an inbound filter drops ``event``, else None.

    ``client_ip`` is the sender's address for the IP filter; without it the event's user IP
    (where normalization put the sender's address) stands in.
    """
    compiled = _compile(settings)
    kind = event.get("type")
    exceptions = _exceptions(event)
    if settings.react_hydration_errors and _any_exception(exceptions, _HYDRATION):
        return "react-hydration-errors"
    if settings.chunk_load_errors and _any_exception(exceptions, _CHUNK_LOAD):
        return "chunk-load-error"
    if kind == "csp" and compiled.csp_sources and _csp_blocked(event, compiled.csp_sources):
        return "invalid-csp"
    if compiled.networks and _ip_blocked(client_ip or _user_ip(event), compiled.networks):
        return "ip-address"
    release = event.get("release")
    if compiled.releases and isinstance(release, str) and _match(compiled.releases, release):
        return "release-version"
    if compiled.error_messages and _error_message_matches(event, compiled.error_messages):
        return "error-message"
    if settings.localhost and _is_localhost(event):
        return "localhost"
    if settings.browser_extensions and _is_browser_extension(exceptions):
        return "browser-extensions"
    user_agent = _user_agent(event)
    if settings.legacy_browsers and user_agent and _is_legacy(user_agent, settings):
        return "legacy-browsers"
    if settings.web_crawlers and user_agent and _is_crawler(user_agent):
        return "web-crawlers"
    transaction = event.get("transaction") if kind == "transaction" else None
    if compiled.transactions and _match(compiled.transactions, _text(transaction)):
        return "filtered-transaction"
    return None


@functools.lru_cache(maxsize=1024)
def _compile(settings: FilterSettings) -> _Compiled:
    networks = []
    for entry in settings.blacklisted_ips:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # Relay skips entries it cannot parse
    sources = settings.csp_ignored_sources
    if settings.csp_ignored_sources_defaults:
        sources = CSP_DEFAULT_IGNORED_SOURCES + sources
    return _Compiled(
        error_messages=compile_globs(settings.error_messages),
        releases=compile_globs(settings.releases),
        transactions=compile_globs(HEALTH_CHECK_GLOBS if settings.health_check else ()),
        networks=tuple(networks),
        csp_sources=tuple(_origin(source) for source in sources),
    )


# --- globs (relay-pattern: *, ?, [...], [!...], {a,b}, \\ escapes; case-insensitive) ------


def compile_globs(patterns: tuple[str, ...] | list[str]) -> re.Pattern[str] | None:
    """One regular expression matching any of ``patterns`` entirely; invalid ones are skipped."""
    parts = [regex for regex in map(glob_to_regex, patterns) if regex is not None]
    if not parts:
        return None
    return re.compile("|".join(f"(?:{part})" for part in parts), re.IGNORECASE | re.DOTALL)


def _match(pattern: re.Pattern[str], value: str) -> bool:
    # Relay never matches an empty string.
    return bool(value) and pattern.fullmatch(value) is not None


def glob_to_regex(pattern: str) -> str | None:
    """The regular expression for one glob, or None where relay-pattern refuses the glob."""
    out: list[str] = []
    alternatives: list[str] | None = None  # inside {...}: the finished alternatives
    alternation_at = 0
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        i += 1
        if char == "\\":
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
            i += 1
        elif char == "*":
            if not out or out[-1] != ".*":
                out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            i, cls = _glob_class(pattern, i)
            if cls is None:
                return None
            out.append(cls)
        elif char == "{":
            if alternatives is not None:
                return None  # nested alternates
            alternatives, alternation_at = [], len(out)
            out.append("(?:")
        elif char == "," and alternatives is not None:
            start = len(out) - out[::-1].index("(?:") if "(?:" in out else 0
            alternatives.append("".join(out[start:]))
            del out[start:]
        elif char == "}":
            if alternatives is None:
                return None  # unbalanced
            start = len(out) - out[::-1].index("(?:")
            alternatives.append("".join(out[start:]))
            del out[start:]
            out.append("|".join(alternatives) + ")")
            alternatives = None
        elif char == "]":
            return None  # unbalanced class
        else:
            out.append(re.escape(char))
    if alternatives is not None:
        del out[alternation_at:]  # relay-pattern ignores an unclosed alternation
    return "".join(out)


def _glob_class(pattern: str, i: int) -> tuple[int, str | None]:
    """A ``[...]`` class starting after its ``[``: (index after it, regex) or (i, None)."""
    negate = i < len(pattern) and pattern[i] == "!"
    i += negate
    atoms: list[tuple[str, bool]] = []  # (character, escaped)
    while i < len(pattern) and pattern[i] != "]":
        if pattern[i] == "[":
            return i, None
        if pattern[i] == "\\":
            if i + 1 >= len(pattern):
                return i, None
            atoms.append((pattern[i + 1], True))
            i += 2
        else:
            atoms.append((pattern[i], False))
            i += 1
    if i >= len(pattern):
        return i, None
    members: list[str] = []
    k = 0
    while k < len(atoms):
        if k + 2 < len(atoms) and atoms[k + 1] == ("-", False):
            low, high = atoms[k][0], atoms[k + 2][0]
            if high < low:
                return i, None
            members.append(f"{re.escape(low)}-{re.escape(high)}")
            k += 2  # a-c-e is a-c and c-e for relay-pattern: the end may start a range
            if not (k + 2 < len(atoms) and atoms[k + 1] == ("-", False)):
                k += 1
        else:
            members.append(re.escape(atoms[k][0]))
            k += 1
    if not members:
        return i + 1, ""  # relay-pattern: [] and [!] match the empty string
    return i + 1, f"[{'^' if negate else ''}{''.join(members)}]"


# --- the filters ------------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _exceptions(event: dict[str, Any]) -> list[dict[str, Any]]:
    values = _dict(event.get("exception")).get("values")
    return [v for v in values if isinstance(v, dict)] if isinstance(values, list) else []


def _error_message_matches(event: dict[str, Any], pattern: re.Pattern[str]) -> bool:
    logentry = _dict(event.get("logentry"))
    message = logentry.get("formatted") or logentry.get("message")
    if isinstance(message, str) and _match(pattern, message):
        return True
    for exception in _exceptions(event):
        ty, value = _text(exception.get("type")), _text(exception.get("value"))
        candidate = f"{ty}: {value}" if ty and value else ty or value
        if _match(pattern, candidate):
            return True
    return False


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _user_ip(event: dict[str, Any]) -> str | None:
    ip = _dict(event.get("user")).get("ip_address")
    return ip if isinstance(ip, str) else None


def _ip_blocked(
    ip: str | None, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


def _header(event: dict[str, Any], name: str) -> str | None:
    headers = _dict(event.get("request")).get("headers")
    for pair in headers if isinstance(headers, list) else ():
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            continue
        if isinstance(pair[0], str) and pair[0].lower() == name and isinstance(pair[1], str):
            return pair[1]
    return None


def _is_localhost(event: dict[str, Any]) -> bool:
    if _user_ip(event) in _LOCAL_IPS:
        return True
    url = _dict(event.get("request")).get("url")
    parts = None
    if isinstance(url, str) and url:
        try:
            parts = urlsplit(url)
            host = parts.hostname or ""
        except ValueError:
            parts = None
        if parts is not None and parts.scheme:
            if parts.scheme.lower() == "file":
                return True
            if any(host == d or host.endswith("." + d) for d in _LOCAL_DOMAINS):
                return True
        else:
            parts = None
    if _header(event, "x-forwarded-for") in _LOCAL_IPS:
        return True
    if parts is None:
        for name in ("host", "x-forwarded-host"):
            value = _header(event, name)
            if value is not None and value.split(":", 1)[0] in _LOCAL_DOMAINS:
                return True
    return False


def _is_browser_extension(exceptions: list[dict[str, Any]]) -> bool:
    if not exceptions:
        return False
    first = exceptions[0]
    value = first.get("value")
    if isinstance(value, str) and _EXTENSION_VALUES.search(value):
        return True
    frames = _dict(first.get("stacktrace")).get("frames")
    for frame in reversed(frames) if isinstance(frames, list) else ():
        path = _dict(frame).get("abs_path")
        if not isinstance(path, str):
            return False  # Relay stops at the first frame without a path
        if path not in _ANONYMOUS_FRAMES:
            return _EXTENSION_SOURCES.search(path) is not None
    return False


def _user_agent(event: dict[str, Any]) -> str | None:
    return _header(event, "user-agent")


def _is_crawler(user_agent: str) -> bool:
    return bool(_WEB_CRAWLERS.search(user_agent)) and not _ALLOWED_CRAWLERS.search(user_agent)


def _is_legacy(user_agent: str, settings: FilterSettings) -> bool:
    headers = (user_agent, None, None, None, None)
    browser = contexts_for_user_agent(headers, True).get("browser") or {}
    family = browser.get("name")
    family = "IE" if family == "IE Mobile" else family
    try:
        major = int(str(browser.get("version") or "").split(".")[0])
    except ValueError:
        return False
    options = settings.legacy_browser_options
    if not options or "default" in options:
        minimum = _DEFAULT_MIN_VERSIONS.get(str(family))
        return minimum is not None and major < minimum
    for option in options:
        known = _LEGACY_OPTIONS.get(option)
        if known is not None and known[0] == family and known[1](major):
            return True
    return False


def _origin(source: str) -> tuple[str | None, str | None, str | None]:
    """Relay's SchemeDomainPort: scheme, domain and port of a CSP source, ``*`` as None."""

    def part(value: str) -> str | None:
        return None if value == "*" else value.lower()

    scheme: str | None = None
    rest = source
    if "://" in source:
        raw_scheme, rest = source.split("://", 1)
        scheme = part(raw_scheme)
    domain, colon, port = rest.split("/", 1)[0].partition(":")
    return scheme, part(domain), part(port) if colon else None


def _matches_origin(url: str | None, origins: tuple[tuple[str | None, ...], ...]) -> bool:
    if any(origin == (None, None, None) for origin in origins):
        return True
    if url is None:
        return False
    scheme, domain, port = _origin(url)
    for o_scheme, o_domain, o_port in origins:
        if o_scheme is not None and scheme != o_scheme:
            continue
        if o_port is not None and port != o_port:
            continue
        if o_domain is not None and domain != o_domain:
            if (
                domain is not None
                and o_domain.startswith("*")
                and (domain.endswith(o_domain[1:]) or domain == o_domain[2:])
            ):
                return True
            continue
        return True
    return False


def _csp_blocked(event: dict[str, Any], origins: tuple[tuple[str | None, ...], ...]) -> bool:
    report = _dict(event.get("csp"))
    for key in ("blocked_uri", "source_file"):
        value = report.get(key)
        if _matches_origin(value if isinstance(value, str) else None, origins):
            return True
    return False


# Sentry's generic filters: (type glob, value glob) pairs, any exception matching both.
_REACT_DECODER = "*https://reactjs.org/docs/error-decoder.html?invariant={418,419,422,423,425}*"
_HYDRATION = (
    (None, compile_globs((_REACT_DECODER,))),
    (None, compile_globs(("*https://react.dev/errors/{418,419,422,423,425}*",))),
)
_CHUNK_LOAD = (
    (compile_globs(("ChunkLoadError",)), compile_globs(("Loading chunk *",))),
    (compile_globs(("*Uncaught *",)), compile_globs(("ChunkLoadError: Loading chunk *",))),
)


def _any_exception(
    exceptions: list[dict[str, Any]],
    conditions: tuple[tuple[re.Pattern[str] | None, re.Pattern[str] | None], ...],
) -> bool:
    for exception in exceptions:
        ty, value = exception.get("type"), exception.get("value")
        for ty_glob, value_glob in conditions:
            if ty_glob is not None and not (isinstance(ty, str) and _match(ty_glob, ty)):
                continue
            if value_glob is not None and not (
                isinstance(value, str) and _match(value_glob, value)
            ):
                continue
            return True
    return False
