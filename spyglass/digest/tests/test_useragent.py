"""Browser, OS and device contexts from request headers: Relay's rules, a bounded cache, threads,
and any header at all. ``test_useragent_differential.py`` compares with Relay itself."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.digest import useragent
from spyglass.digest.useragent import (
    HEADER_NAMES,
    MAX_HEADER_LENGTH,
    add_user_agent_contexts,
    contexts_for_user_agent,
    user_agent_headers,
)

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Safari/605.1.15"
)
ANDROID = (
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36"
)


def contexts(
    user_agent: str | None = None, javascript: bool = True, **hints: str
) -> dict[str, dict[str, Any]]:
    values = {"user-agent": user_agent, **{k.replace("_", "-"): v for k, v in hints.items()}}
    return contexts_for_user_agent(tuple(values.get(n) for n in HEADER_NAMES), javascript)


def test_a_user_agent_becomes_browser_os_and_device_contexts() -> None:
    found = contexts(ANDROID)
    assert found["browser"] == {
        "browser": "Chrome Mobile 112.0.0",
        "name": "Chrome Mobile",
        "version": "112.0.0",
        "type": "browser",
    }
    assert found["os"] == {"os": "Android 13", "name": "Android", "version": "13", "type": "os"}
    assert found["device"] == {
        "name": "Galaxy S23 Ultra",  # Relay's Android model table
        "family": "Samsung SM-S918B",
        "model": "SM-S918B",
        "brand": "Samsung",
        "type": "device",
    }


def test_the_os_goes_to_client_os_unless_the_event_comes_from_a_browser_sdk() -> None:
    assert contexts(CHROME, javascript=True).keys() == {"browser", "os"}
    assert contexts(CHROME, javascript=False).keys() == {"browser", "client_os"}


def test_frozen_windows_and_macos_versions_are_marked_as_a_minimum() -> None:
    assert contexts(CHROME)["os"]["version"] == ">=10"
    assert contexts(SAFARI)["os"]["os"] == "Mac OS X >=10.15.7"
    windows_7 = CHROME.replace("Windows NT 10.0", "Windows NT 6.1")
    assert contexts(windows_7)["os"]["version"] == "7"


def test_what_the_rules_call_other_gives_no_context() -> None:
    assert contexts("a dont no") == {}
    assert contexts("") == {}
    assert contexts("curl/8.5.0") == {
        "browser": {"browser": "curl 8.5.0", "name": "curl", "version": "8.5.0", "type": "browser"}
    }


def test_client_hints_win_over_the_user_agent() -> None:
    found = contexts(
        ANDROID,
        sec_ch_ua='"Not_A Brand";v="8", "Chromium";v="120", "Microsoft Edge";v="120"',
        sec_ch_ua_model='"Pixel 7"',
        sec_ch_ua_platform='"Android"',
        sec_ch_ua_platform_version='"14.0.0"',
    )
    assert found["browser"]["browser"] == "Microsoft Edge 120"
    assert found["device"] == {"name": "Pixel 7", "model": "Pixel 7", "type": "device"}
    assert found["os"] == {
        "os": "Android 14.0.0",
        "name": "Android",
        "version": "14.0.0",
        "type": "os",
    }


def test_google_chrome_in_client_hints_is_named_chrome_as_in_the_user_agent() -> None:
    found = contexts(sec_ch_ua='"Google Chrome";v="120", "Chromium";v="120"')
    assert found["browser"]["name"] == "Chrome"


def test_client_hints_without_a_browser_fall_back_to_the_user_agent() -> None:
    only_engines = '"Not_A Brand";v="8", "Chromium";v="120"'
    assert contexts(CHROME, sec_ch_ua=only_engines)["browser"]["version"] == "120.0.0"
    assert contexts(CHROME, sec_ch_ua='"Opera";v=""')["browser"]["name"] == "Chrome"
    assert contexts(ANDROID, sec_ch_ua_model='""')["device"]["model"] == "SM-S918B"


def test_an_empty_platform_version_hint_is_kept() -> None:
    found = contexts(sec_ch_ua_platform=' "Windows" ', sec_ch_ua_platform_version='""')
    assert found["os"] == {"os": "Windows ", "name": "Windows", "version": "", "type": "os"}


def test_the_last_header_wins_and_one_without_a_value_unsets_it() -> None:
    headers: list[list[str | None]] = [["User-Agent", "curl/8.0"], ["user-agent", CHROME]]
    assert user_agent_headers({"request": {"headers": headers}}) == (CHROME, None, None, None, None)
    headers.append(["USER-AGENT", None])
    assert user_agent_headers({"request": {"headers": headers}}) is None
    assert user_agent_headers({"request": {"headers": [["Accept", "*/*"]]}}) is None
    assert user_agent_headers({"request": "nonsense"}) is None


def test_contexts_the_event_has_under_the_same_key_are_kept() -> None:
    event: dict[str, Any] = {
        "platform": "javascript",
        "contexts": {"browser": {"name": "Mine", "type": "browser"}, "b": {"type": "browser"}},
        "request": {"headers": [["User-Agent", ANDROID]]},
    }
    add_user_agent_contexts(event)
    assert event["contexts"]["browser"] == {"name": "Mine", "type": "browser"}
    assert event["contexts"]["os"]["name"] == "Android"
    assert event["contexts"]["device"]["model"] == "SM-S918B"


def test_the_event_gets_copies_of_the_cached_contexts() -> None:
    event: dict[str, Any] = {
        "platform": "javascript",
        "request": {"headers": [["User-Agent", CHROME]]},
    }
    add_user_agent_contexts(event)
    event["contexts"]["browser"]["name"] = "changed"
    assert contexts(CHROME)["browser"]["name"] == "Chrome"


def test_a_long_header_is_read_and_cached_by_its_start() -> None:
    start = CHROME + " " * (MAX_HEADER_LENGTH - len(CHROME))
    first = contexts(start + "x" * 100_000)
    assert first is contexts(start + "y" * 10)
    assert first["browser"]["name"] == "Chrome"


def test_the_cache_is_bounded() -> None:
    assert useragent._contexts.cache_info().maxsize == 4096
    contexts_for_user_agent.cache_clear()
    assert useragent._contexts.cache_info().currsize == 0


def test_threads_parsing_at_once_get_what_one_thread_gets() -> None:
    user_agents = [f"{ua} Build/{n}" for n in range(40) for ua in (CHROME, SAFARI, ANDROID)]
    contexts_for_user_agent.cache_clear()
    useragent._loaded = None  # rules loaded (and compiled) from several threads at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(contexts, user_agents))
    contexts_for_user_agent.cache_clear()
    assert together == [contexts(ua) for ua in user_agents]


HEADER_VALUE = st.none() | st.text() | st.sampled_from([CHROME, SAFARI, ANDROID, '"x";v="1"'])


@FUZZ
@given(st.tuples(*[HEADER_VALUE] * len(HEADER_NAMES)), st.booleans())
def test_any_headers_give_well_formed_contexts(headers: tuple[Any, ...], javascript: bool) -> None:
    found = contexts_for_user_agent(headers, javascript)
    assert set(found) <= {"browser", "device", "os", "client_os"}
    for key, context in found.items():
        assert context["type"] == {"client_os": "os"}.get(key, key)
        assert all(isinstance(value, str) for value in context.values())


JSON = st.none() | st.booleans() | st.integers() | st.text()


@FUZZ
@given(
    st.lists(st.lists(JSON | st.sampled_from(["User-Agent", "sec-ch-ua-model"]), max_size=3)),
    st.sampled_from(["javascript", "python", None]),
    st.dictionaries(st.text(), JSON | st.dictionaries(st.text(), JSON), max_size=3),
)
def test_any_request_headers_never_raise(headers: Any, platform: Any, existing: Any) -> None:
    event = {"platform": platform, "contexts": existing, "request": {"headers": headers}}
    add_user_agent_contexts(event)
