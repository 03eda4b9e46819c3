"""Our user-agent contexts against Relay's own, over a corpus of real and hostile headers.

The reference is what the digest used to call: Relay's normalizer with ``normalize_user_agent``
on a tiny event that carries the headers (38 MB for its compiled rules, so tests only). Every
case must come out equal, except the decisions listed in ``DIFFERENCES``, which must still
differ: an entry that no longer does is stale and fails too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from sentry_relay.processing import StoreNormalizer

from spyglass.digest.normalize import normalize
from spyglass.digest.useragent import HEADER_NAMES, MAX_HEADER_LENGTH, contexts_for_user_agent

CORPUS = json.loads((Path(__file__).parent / "fixtures_useragent" / "corpus.json").read_text())
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
TEAMS = "Teams/1.2.3"
TEAMS_DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36 Teams/24004.1307.2669.7070"
)
# Why a case may differ from Relay, by the start of its User-Agent.
NEWER_RULES = (
    "ua-parser-builtins 202606 has uap-core's Microsoft Teams rule; the uap-core in "
    "sentry-relay 0.10 is a few commits older (it has Ladybird, added after 202605, but not "
    "Teams): Relay says Chrome, or nothing."
)
LONG_HEADER = (
    f"Only the first {MAX_HEADER_LENGTH} characters of a header are read (Relay reads up to its "
    "8 KB trimming limit): matching is linear in the length in Python, and the cache keys stay "
    "small. These user agents put what names the browser after that."
)
DIFFERENCES = {
    TEAMS: NEWER_RULES,
    TEAMS_DESKTOP: NEWER_RULES,
    "x x x x ": LONG_HEADER,
    "(((((": LONG_HEADER,
    "\u00e9\u00e9\u00e9\u00e9": LONG_HEADER,
}


def relay_contexts(headers: tuple[str | None, ...], javascript: bool) -> dict[str, Any]:
    """Relay's browser, device and OS contexts for these headers, by Relay's own parser."""
    pairs = [[name, value] for name, value in zip(HEADER_NAMES, headers, strict=True) if value]
    probe = {"platform": "javascript" if javascript else "other", "request": {"headers": pairs}}
    normalizer = StoreNormalizer(json_dumps=orjson.dumps, normalize_user_agent=True)
    out = normalizer.normalize_event(raw_event=orjson.dumps(probe), json_loads=orjson.loads)
    return {
        key: value
        for key, value in (out.get("contexts") or {}).items()
        if isinstance(value, dict) and value.get("type") in ("browser", "device", "os")
    }


def _user_agent_cases() -> list[Any]:
    cases = []
    for section, user_agents in CORPUS["user_agents"].items():
        for n, user_agent in enumerate(user_agents):
            headers = (user_agent, None, None, None, None)
            cases.append(pytest.param(headers, id=f"{section}-{n}"))
    for n, huge in enumerate(CORPUS["huge_user_agents"]):
        user_agent = huge["repeat"] * huge["times"] + huge["then"]
        user_agent += huge.get("pad", "") * huge.get("pad_times", 0)
        cases.append(pytest.param((user_agent, None, None, None, None), id=f"huge-{n}"))
    for n, hints in enumerate(CORPUS["client_hints"]):
        headers = tuple(hints.get(name) for name in HEADER_NAMES)
        cases.append(pytest.param(headers, id=f"client_hints-{n}"))
    return cases


def _difference(headers: tuple[str | None, ...]) -> str | None:
    user_agent = headers[0] or ""
    return next((why for start, why in DIFFERENCES.items() if user_agent.startswith(start)), None)


def test_the_corpus_has_enough_real_user_agents() -> None:
    user_agents = [ua for uas in CORPUS["user_agents"].values() for ua in uas]
    assert len(user_agents) >= 600
    assert len(set(user_agents)) == len(user_agents)
    assert len(CORPUS["client_hints"]) >= 40


@pytest.mark.parametrize("headers", _user_agent_cases())
@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "server"])
def test_our_contexts_equal_relays(headers: tuple[str | None, ...], javascript: bool) -> None:
    ours = contexts_for_user_agent(headers, javascript)
    relays = relay_contexts(headers, javascript)
    why = _difference(headers)
    if why is None:
        assert ours == relays
    else:
        assert ours != relays, f"listed as a difference but equal now: {why}"


def test_the_newer_rules_name_teams_where_relay_names_chrome() -> None:
    headers = (TEAMS_DESKTOP, None, None, None, None)
    assert contexts_for_user_agent(headers, True)["browser"]["name"] == "Microsoft Teams"
    assert relay_contexts(headers, True)["browser"]["name"] == "Chrome"


def test_what_follows_a_long_header_is_not_read() -> None:
    user_agent = "x" * MAX_HEADER_LENGTH + " " + CHROME
    assert contexts_for_user_agent((user_agent, None, None, None, None), True) == {}
    assert relay_contexts((user_agent, None, None, None, None), True)["browser"]["name"] == "Chrome"
    short = "x" * (MAX_HEADER_LENGTH - len(CHROME) - 1) + " " + CHROME
    headers = (short, None, None, None, None)
    assert contexts_for_user_agent(headers, True) == relay_contexts(headers, True)


# --- which contexts the event gets, against Relay's full normalization ------------------


def _relay_event(event: dict[str, Any]) -> dict[str, Any]:
    normalizer = StoreNormalizer(json_dumps=orjson.dumps, normalize_user_agent=True)
    out = normalizer.normalize_event(raw_event=orjson.dumps(event), json_loads=orjson.loads)
    contexts: dict[str, Any] = out.get("contexts") or {}
    contexts.pop("trace", None)
    return contexts


def _our_event(event: dict[str, Any]) -> dict[str, Any]:
    raw = orjson.dumps(event)
    normalized = normalize(raw, project_id=1, client_ip=None, user_agent=None, received_at=1e9)
    contexts: dict[str, Any] = normalized.event.get("contexts") or {}
    contexts.pop("trace", None)
    return contexts


MOBILE = (
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/112.0.0.0 Mobile Safari/537.36"
)


@pytest.mark.parametrize(
    ("platform", "contexts", "headers"),
    [
        ("javascript", {}, [["User-Agent", MOBILE]]),
        ("python", {}, [["User-Agent", MOBILE]]),
        ("python", {"os": {"name": "Linux"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"browser": {"name": "Mine"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"browser": {}}, [["User-Agent", MOBILE]]),
        ("javascript", {"b": {"type": "browser", "name": "Mine"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"d": {"type": "device", "model": "X"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"x": {"type": "os", "name": "Mine"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"os": {"type": "device", "name": "Mine"}}, [["User-Agent", MOBILE]]),
        ("node", {"client_os": {"type": "runtime", "name": "M"}}, [["User-Agent", MOBILE]]),
        ("javascript", {"device": {"model": "SM-S918B"}}, [["Sec-CH-UA-Model", '"Pixel 7"']]),
        ("javascript", {}, [["User-Agent", MOBILE], ["user-agent", None]]),
        ("javascript", {}, [["User-Agent", "curl/8.0"], ["USER-AGENT", MOBILE]]),
        ("javascript", {}, {"User-Agent": MOBILE, "Sec-CH-UA-Platform": '"Android"'}),
        ("cocoa", {}, [["sec-ch-ua", '"Opera";v="106"'], ["Sec-Ch-Ua-Platform-Version", "1"]]),
        ("javascript", {}, [["Accept", "*/*"]]),
    ],
)
def test_the_event_gets_the_contexts_relay_gives_it(
    platform: str, contexts: dict[str, Any], headers: Any
) -> None:
    event = {"platform": platform, "contexts": contexts, "request": {"headers": headers}}
    assert _our_event(event) == _relay_event(event)


def test_a_context_of_another_type_under_the_browser_key_is_kept_not_replaced() -> None:
    # A decision: Relay replaces it with the parsed browser, dropping what the SDK sent.
    event = {
        "platform": "javascript",
        "contexts": {"browser": {"type": "device", "name": "Mine"}},
        "request": {"headers": [["User-Agent", MOBILE]]},
    }
    assert _our_event(event)["browser"] == {"type": "device", "name": "Mine"}
    assert _relay_event(event)["browser"]["name"] == "Chrome Mobile"
