"""Inbound filters with Relay's semantics (``digest.filters``): each on and off, both ways."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sentry_relay.pattern import Pattern

from spyglass.digest.filters import FilterSettings, compile_globs, filter_reason
from spyglass.digest.tests.test_normalize import normalized, sdk_event

OFF = FilterSettings(health_check=False)
UA = {
    "ie8": "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.0; Trident/4.0)",
    "ie9": "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 7.1; Trident/5.0)",
    "ie_mobile9": "Mozilla/5.0 (compatible; MSIE 9.0; Windows Phone OS 7.5; Trident/5.0; "
    "IEMobile/9.0; NOKIA; Lumia 710)",
    "ie10": "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
    "ie11": "Mozilla/5.0 (Windows NT 6.3; Trident/7.0; rv:11.0) like Gecko",
    "opera_mini7": "Opera/9.80 (J2ME/MIDP; Opera Mini/7.0.32796/59.323; U; fr) Presto/2.12.423 "
    "Version/12.16",
    "opera14": "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/27.0.1453.12 Safari/537.36 OPR/14.0.1116.4",
    "opera15": "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/28.0.1500.45 Safari/537.36 OPR/15.0.1147.61 (Edition Next)",
    "android3": "Mozilla/5.0 (Linux; U; Android 3.2; nl-nl; GT-P6800 Build/HTJ85B) "
    "AppleWebKit/534.13 (KHTML, like Gecko) Version/4.0 Safari/534.13",
    "android4": "Mozilla/5.0 (Linux; U; Android 4.1.1; en-gb; Build/KLP) AppleWebKit/534.30 "
    "(KHTML, like Gecko) Version/4.0 Safari/534.30",
    "safari5": "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 1063; tr-DE) AppleWebKit/533.16 "
    "(KHTML like Gecko) Version/5.0 Safari/533.16",
    "safari6": "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.17.4; en-GB) AppleWebKit/605.1.5 "
    "(KHTML, like Gecko) Version/6.0 Safari/605.1.5",
    "safari12": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/12.0 Safari/605.1.15",
    "edge18": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/70.0.3538.102 Safari/537.36 Edge/18.17763",
    "edge120": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
    "chrome62": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/62.0.3202.94 Safari/537.36",
    "chrome63": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/63.0.3239.84 Safari/537.36",
    "firefox66": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:66.0) Gecko/20100101 Firefox/66.0",
    "firefox67": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:67.0) Gecko/20100101 Firefox/67.0",
}


def reason(event: dict[str, Any], **options: Any) -> str | None:
    return filter_reason(event, FilterSettings(**{"health_check": False, **options}))


def with_ua(user_agent: str, **event: Any) -> dict[str, Any]:
    return {"request": {"headers": [["User-Agent", user_agent]]}, **event}


def exception(ty: str | None, value: str | None, **extra: Any) -> dict[str, Any]:
    return {"type": ty, "value": value, **extra}


def errors(*exceptions: dict[str, Any]) -> dict[str, Any]:
    return {"type": "error", "exception": {"values": list(exceptions)}}


def test_nothing_is_filtered_by_default_except_health_checks() -> None:
    event = with_ua(UA["ie8"], user={"ip_address": "127.0.0.1"}, release="1.0")
    assert filter_reason(event, FilterSettings()) is None
    transaction = {"type": "transaction", "transaction": "/healthz"}
    assert filter_reason(transaction, FilterSettings()) == "filtered-transaction"


def test_real_sdk_events_pass_default_filters() -> None:
    for name in ("python/session/001", "browser/handled_error/003", "python-flask_500-002"):
        assert filter_reason(normalized(sdk_event(name)).event, FilterSettings()) is None


# --- error messages ---------------------------------------------------------------------


def test_error_message_globs_match_the_log_message_case_insensitively() -> None:
    event = {"logentry": {"formatted": "Connection RESET by peer"}}
    assert reason(event, error_messages=("connection reset*",)) == "error-message"
    assert reason(event, error_messages=("timeout*",)) is None
    assert reason(event) is None


def test_the_log_message_template_is_used_when_there_is_no_formatted_message() -> None:
    event = {"logentry": {"message": "Disk %s full"}}
    assert reason(event, error_messages=("disk % full",)) is None
    assert reason(event, error_messages=("disk %s full",)) == "error-message"


def test_exceptions_match_as_type_colon_value_or_whichever_is_present() -> None:
    boom = errors(exception("ValueError", "boom"))
    assert reason(boom, error_messages=("ValueError: boom",)) == "error-message"
    assert reason(boom, error_messages=("*: boom",)) == "error-message"
    # Like Relay: neither the type nor the value alone, when both are present.
    assert reason(boom, error_messages=("boom",)) is None
    assert reason(boom, error_messages=("ValueError",)) is None
    only_type = errors(exception("ValueError", None))
    assert reason(only_type, error_messages=("valueerror",)) == "error-message"
    only_value = errors(exception(None, "boom"))
    assert reason(only_value, error_messages=("boom",)) == "error-message"


def test_any_exception_of_a_chain_can_match() -> None:
    chain = errors(exception("KeyError", "'x'"), exception("RuntimeError", "wrapped"))
    assert reason(chain, error_messages=("KeyError: *",)) == "error-message"


def test_glob_syntax_classes_alternatives_and_escapes() -> None:
    event = {"logentry": {"formatted": "Minified React error #423; see invariant=423"}}
    assert reason(event, error_messages=("*invariant={418,423}",)) == "error-message"
    assert reason(event, error_messages=("*#42[0-2];*",)) is None
    assert reason(event, error_messages=("*#42[!0-2];*",)) == "error-message"
    escaped = {"logentry": {"formatted": "a*b"}}
    assert reason(escaped, error_messages=(r"a\*b",)) == "error-message"
    assert reason({"logentry": {"formatted": "axb"}}, error_messages=(r"a\*b",)) is None


def test_an_empty_pattern_or_message_never_matches() -> None:
    assert reason({"logentry": {"formatted": ""}}, error_messages=("", "*")) is None
    assert reason(errors(exception(None, None)), error_messages=("", "*")) is None


def test_invalid_globs_are_skipped() -> None:
    event = {"logentry": {"formatted": "boom"}}
    assert reason(event, error_messages=("[unclosed", "boo{m", "boom")) == "error-message"
    assert reason(event, error_messages=("[unclosed",)) is None


# --- releases ---------------------------------------------------------------------------


def test_release_globs() -> None:
    event = {"release": "myapp@1.18.4+abc"}
    assert reason(event, releases=("myapp@1.18.*",)) == "release-version"
    assert reason(event, releases=("MYAPP@1.18.[0-4]*",)) == "release-version"
    assert reason(event, releases=("myapp@1.19.*",)) is None
    assert reason({}, releases=("*",)) is None
    assert reason(event) is None


# --- health checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["/healthcheck", "/api/HEARTBEAT/x", "GET /health", "/healthy", "/healthz", "/live",
     "/livez", "/ready", "/readyz", "/ping", "a_healthcheck_b"],
)  # fmt: skip
def test_health_check_transactions_are_filtered(name: str) -> None:
    event = {"type": "transaction", "transaction": name}
    assert filter_reason(event, FilterSettings()) == "filtered-transaction"
    assert filter_reason(event, OFF) is None


@pytest.mark.parametrize("name", ["/health/", "/healthzx", "health", "/pingpong", "/api/items"])
def test_other_transactions_are_kept(name: str) -> None:
    assert filter_reason({"type": "transaction", "transaction": name}, FilterSettings()) is None


def test_only_transactions_are_health_checks() -> None:
    event = {"type": "error", "transaction": "/health"}
    assert filter_reason(event, FilterSettings()) is None


# --- localhost --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"user": {"ip_address": "127.0.0.1"}},
        {"user": {"ip_address": "::1"}},
        {"request": {"url": "http://localhost:8080/a"}},
        {"request": {"url": "http://127.0.0.1/"}},
        {"request": {"url": "http://foo.bar.localhost/"}},
        {"request": {"url": "file:///Users/m/index.html"}},
        {"request": {"headers": [["X-Forwarded-For", "127.0.0.1"]]}},
        {"request": {"headers": [["Host", "localhost:3000"]]}},
        {"request": {"headers": [["X-Forwarded-Host", "127.0.0.1:8000"]]}},
    ],
)
def test_localhost_events(event: dict[str, Any]) -> None:
    assert reason(event, localhost=True) == "localhost"
    assert reason(event) is None


@pytest.mark.parametrize(
    "event",
    [
        {"user": {"ip_address": "192.0.2.1"}},
        {"request": {"url": "http://localhost.com/"}},
        {"request": {"url": "http://foolocalhost/"}},
        {"request": {"url": "https://example.com/", "headers": [["Host", "localhost"]]}},
        {"request": {"headers": [["Host", "localhost.sentry.io:3000"]]}},
        {},
    ],
)
def test_events_not_from_localhost(event: dict[str, Any]) -> None:
    assert reason(event, localhost=True) is None


# --- browser extensions -----------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["what does conduitPage even do", "null is not an object (evaluating 'elt.parentNode')",
     "some error on top.GLOBALS", "Extension context invalidated",
     "TypeError: can't access dead object", "useless error webkit-masked-url: please filter",
     "Can't find variable: ZiteReader, I wonder why?"],
)  # fmt: skip
def test_known_extension_errors_are_filtered(value: str) -> None:
    event = errors(exception("Error", value), exception("Other", "fine"))
    assert reason(event, browser_extensions=True) == "browser-extensions"
    assert reason(event) is None


def test_only_the_first_exception_value_counts() -> None:
    event = errors(exception("Error", "fine"), exception("Error", "fb_xd_fragment"))
    assert reason(event, browser_extensions=True) is None


@pytest.mark.parametrize(
    "path",
    ["chrome-extension://abc/content.js", "moz-extension://x/y.js", "safari-web-extension://x",
     "https://fscr.kaspersky-labs.com/B-9B72-7B7/main.js", "https://connect.facebook.net/sdk.js"],
)  # fmt: skip
def test_errors_raised_in_extension_code_are_filtered(path: str) -> None:
    frames = [{"abs_path": "https://shop.example/app.js"}, {"abs_path": path}]
    frames.append({"abs_path": "<anonymous>"})  # skipped, like native code
    event = errors(exception("Error", "x", stacktrace={"frames": frames}))
    assert reason(event, browser_extensions=True) == "browser-extensions"


def test_errors_raised_in_page_code_are_kept() -> None:
    frames = [
        {"abs_path": "chrome-extension://abc/x.js"},
        {"abs_path": "https://shop.example/a.js"},
    ]
    event = errors(exception("Error", "x", stacktrace={"frames": frames}))
    assert reason(event, browser_extensions=True) is None
    no_path = errors(exception("Error", "x", stacktrace={"frames": [*frames[:1], {}]}))
    assert reason(no_path, browser_extensions=True) is None


# --- web crawlers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "user_agent",
    ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
     "Slack-ImgProxy 0.19 (+https://api.slack.com/robots)", "Twitterbot/1.0", "bots;",
     "Mozilla/5.0 (compatible; HubSpot Crawler; web-crawlers@hubspot.com)",
     "Better Uptime Bot Mozilla/5.0", "Mozilla/5.0 (compatible; AhrefsBot/7.0)"],
)  # fmt: skip
def test_web_crawlers_are_filtered(user_agent: str) -> None:
    assert reason(with_ua(user_agent), web_crawlers=True) == "web-crawlers"
    assert reason(with_ua(user_agent)) is None


@pytest.mark.parametrize(
    "user_agent",
    ["Slackbot 1.0(+https://api.slack.com/robots)", UA["chrome63"], "safari", "IE",
     "APIs-Google (+https://developers.google.com/webmasters/APIs-Google.html)"],
)  # fmt: skip
def test_people_and_slacks_link_expander_are_not_crawlers(user_agent: str) -> None:
    assert reason(with_ua(user_agent), web_crawlers=True) is None


def test_an_event_without_a_user_agent_is_no_crawler() -> None:
    assert reason({}, web_crawlers=True, legacy_browsers=True) is None


# --- legacy browsers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["ie8", "ie9", "ie_mobile9", "opera_mini7", "opera14", "android3", "safari5"]
)
def test_the_default_set_filters_old_browsers(name: str) -> None:
    assert reason(with_ua(UA[name]), legacy_browsers=True) == "legacy-browsers"
    assert reason(with_ua(UA[name])) is None


@pytest.mark.parametrize(
    "name", ["ie10", "ie11", "opera15", "android4", "safari6", "edge18", "chrome62"]
)
def test_the_default_set_keeps_newer_browsers(name: str) -> None:
    assert reason(with_ua(UA[name]), legacy_browsers=True) is None


@pytest.mark.parametrize(
    ("name", "option"),
    [("ie11", "ie"), ("ie_mobile9", "ie9"), ("ie8", "ie_pre_9"), ("ie10", "ie10"),
     ("ie11", "ie11"), ("edge18", "edge"), ("edge18", "edge_pre_79"), ("safari5", "safari_pre_6"),
     ("safari6", "safari"), ("chrome62", "chrome"), ("firefox66", "firefox"),
     ("opera14", "opera_pre_15"), ("opera15", "opera"), ("opera_mini7", "opera_mini_pre_8"),
     ("opera_mini7", "opera_mini"), ("android3", "android_pre_4"), ("android3", "android")],
)  # fmt: skip
def test_named_options_filter_their_versions(name: str, option: str) -> None:
    event = with_ua(UA[name])
    assert (
        reason(event, legacy_browsers=True, legacy_browser_options=(option,)) == "legacy-browsers"
    )


@pytest.mark.parametrize(
    ("name", "option"),
    [("ie10", "ie11"), ("ie11", "ie10"), ("ie9", "ie_pre_9"), ("edge120", "edge"),
     ("edge120", "edge_pre_79"), ("safari12", "safari"), ("chrome63", "chrome"),
     ("firefox67", "firefox"), ("opera15", "opera_pre_15"), ("android4", "android_pre_4"),
     ("ie8", "chrome"), ("ie8", "something_new")],
)  # fmt: skip
def test_named_options_keep_other_versions_and_browsers(name: str, option: str) -> None:
    assert reason(with_ua(UA[name]), legacy_browsers=True, legacy_browser_options=(option,)) is None


def test_options_are_ignored_while_the_filter_is_off() -> None:
    assert reason(with_ua(UA["ie8"]), legacy_browser_options=("ie_pre_9",)) is None


# --- IP addresses -----------------------------------------------------------------------


def test_blacklisted_client_ips_and_networks() -> None:
    blocked = FilterSettings(
        blacklisted_ips=("192.0.2.7", "198.51.100.0/24", "2001:db8::/32", "nonsense")
    )
    assert filter_reason({}, blocked, client_ip="192.0.2.7") == "ip-address"
    assert filter_reason({}, blocked, client_ip="198.51.100.99") == "ip-address"
    assert filter_reason({}, blocked, client_ip="2001:db8::1") == "ip-address"
    assert filter_reason({}, blocked, client_ip="192.0.2.8") is None
    assert filter_reason({}, FilterSettings(), client_ip="192.0.2.7") is None


def test_the_user_ip_stands_in_for_a_missing_client_ip() -> None:
    event = {"user": {"ip_address": "192.0.2.7"}}
    assert reason(event, blacklisted_ips=("192.0.2.7",)) == "ip-address"


# --- CSP --------------------------------------------------------------------------------


def csp(blocked_uri: str | None = None, source_file: str | None = None) -> dict[str, Any]:
    return {"type": "csp", "csp": {"blocked_uri": blocked_uri, "source_file": source_file}}


@pytest.mark.parametrize(
    "event",
    [csp("about"), csp("ms-browser-extension"), csp("http://foo.superfish.com"),
     csp(None, "chrome-extension://fdsa"), csp(None, "http://localhost:8000"),
     csp(None, "http://localhost")],
)  # fmt: skip
def test_sentrys_default_csp_sources_are_filtered(event: dict[str, Any]) -> None:
    assert reason(event) == "invalid-csp"
    assert reason(event, csp_ignored_sources_defaults=False) is None


@pytest.mark.parametrize(
    "event", [csp("http://example.com"), csp(None, "http://example.com"), csp()]
)
def test_other_csp_sources_are_kept(event: dict[str, Any]) -> None:
    assert reason(event) is None


def test_project_csp_sources() -> None:
    options = {
        "csp_ignored_sources": ("*.bad.com", "https://*:8443"),
        "csp_ignored_sources_defaults": False,
    }
    assert reason(csp("http://x.bad.com/a.js"), **options) == "invalid-csp"
    assert reason(csp("http://bad.com"), **options) == "invalid-csp"
    assert reason(csp("https://good.com:8443/"), **options) == "invalid-csp"
    assert reason(csp("http://good.com:8443/"), **options) is None
    assert reason(csp("http://notbad.org"), **options) is None
    assert reason({"type": "error", "csp": {"blocked_uri": "about"}}) is None


# --- Sentry's generic filters and the order of filters ----------------------------------


def test_react_hydration_errors() -> None:
    value = "Minified React error #418; visit https://react.dev/errors/418 for details"
    event = errors(exception("Error", value))
    assert reason(event, react_hydration_errors=True) == "react-hydration-errors"
    assert reason(event) is None
    other = errors(exception("Error", "https://react.dev/errors/300"))
    assert reason(other, react_hydration_errors=True) is None


def test_chunk_load_errors() -> None:
    event = errors(exception("ChunkLoadError", "Loading chunk 175 failed."))
    assert reason(event, chunk_load_errors=True) == "chunk-load-error"
    assert reason(errors(exception("ChunkLoadError", "other")), chunk_load_errors=True) is None


def test_the_first_matching_filter_in_relays_order_wins() -> None:
    event = {
        "type": "error",
        "release": "1.0",
        "logentry": {"formatted": "boom"},
        "user": {"ip_address": "127.0.0.1"},
    }
    everything = {"releases": ("1.*",), "error_messages": ("boom",), "localhost": True}
    assert reason(event, **everything) == "release-version"
    assert reason(event, **{**everything, "releases": ()}) == "error-message"
    assert reason(event, localhost=True, blacklisted_ips=("127.0.0.1",)) == "ip-address"


def test_settings_are_hashable_and_compiled_once() -> None:
    first = FilterSettings(error_messages=("a*",))
    assert hash(first) == hash(FilterSettings(error_messages=("a*",)))
    event = {"logentry": {"formatted": "abc"}}
    assert filter_reason(event, first) == filter_reason(event, first) == "error-message"


# --- globs against Relay's own matcher --------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("x{a", "x", True),  # an unclosed alternation is ignored
        ("x{a", "xa", False),
        ("a[]b", "ab", True),  # an empty class matches the empty string
        ("a[!]b", "ab", True),
        ("[a-c-e]", "d", True),  # a-c-e is a-c and c-e
        ("[a-c-e]", "-", False),
        ("[a-]", "-", True),
        ("{a,b\\,c}", "b,c", True),
        ("[{]", "{", True),
        ("a,b", "a,b", True),
        ("*", "line\nbreak", True),
    ],
)
def test_glob_quirks_of_relay_pattern(pattern: str, value: str, matches: bool) -> None:
    compiled = compile_globs((pattern,))
    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) == matches
    assert bool(Pattern(pattern, case_insensitive=True).is_match(value)) == matches


@pytest.mark.parametrize("pattern", ["}", "a]", "[]]", "[c-a]", "{a{b}}", "\\", "[[]", "[a\\]"])
def test_globs_relay_refuses_are_refused(pattern: str) -> None:
    assert compile_globs((pattern,)) is None
    with pytest.raises(Exception, match="Error parsing pattern"):
        Pattern(pattern, case_insensitive=True)


# Well-formed globs only: relay-pattern's parser never returns on some malformed ones
# (an unclosed class inside an alternation, a dangling escape inside an unclosed class).
ESCAPED = st.sampled_from(list("ab*?[]{},!-\\")).map(lambda char: "\\" + char)
CLASS = st.builds(
    lambda negate, members: "[" + negate + "".join(members) + "]",
    st.sampled_from(["", "!"]),
    st.lists(st.sampled_from(list("ab-.!,{}")) | ESCAPED, max_size=4),
)
SIMPLE = st.sampled_from(list("ab.-!,A*?")) | ESCAPED | CLASS
ALTERNATION = st.lists(st.lists(SIMPLE, max_size=3).map("".join), min_size=1, max_size=3).map(
    lambda alternatives: "{" + ",".join(alternatives) + "}"
)
GLOBS = st.lists(SIMPLE | ALTERNATION, max_size=5).map("".join)


@settings(max_examples=500, deadline=None)
@given(GLOBS, st.text(alphabet="abAB.-{},!\\[]*?", min_size=1, max_size=8))
def test_globs_match_what_relays_matcher_matches(pattern: str, value: str) -> None:
    compiled = compile_globs((pattern,))
    try:
        relay = Pattern(pattern, case_insensitive=True)
    except Exception:
        assert compiled is None
        return
    assert compiled is not None
    assert (compiled.fullmatch(value) is not None) == bool(relay.is_match(value))
