"""The scrubber's shortcuts skip only what no rule could change.

* Hints: a string is searched with a rule's regex only when the rule's hint fires; every text
  a built-in pattern matches must make its hint fire, and a regex hint is not searched for in
  text shorter than the pattern's shortest match.
* Walks: without ``_meta`` the walk decides once per path what a struct field, a map of any
  JSON or span data can need, and skips the rest. The same events walked with a ``_meta``
  skeleton (which takes the general path everywhere) must come out the same.
"""

from __future__ import annotations

import copy
import importlib
import json
import re
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.digest.scrubbing import ScrubbingConfig, compile_scrubber
from spyglass.digest.scrubbing_engine import _check
from spyglass.digest.scrubbing_regex import compile_rust
from spyglass.digest.scrubbing_rules import HINTS, PATTERNS, literal_hint
from spyglass.digest.tests.test_scrubbing_differential import (
    BAG,
    CONFIGS,
    JSON,
    KEYS,
    VALUES,
    corpus,
    events,
    normalize,
)

HINTED = sorted(name for name, pattern in PATTERNS.items() if pattern.pattern in HINTS)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def _shortest_match(pattern: re.Pattern[str]) -> int:
    parser: Any = importlib.import_module("re._parser")
    low: int = parser.parse(pattern.pattern, pattern.flags).getwidth()[0]
    return low


def test_every_builtin_pattern_but_anything_has_a_hint() -> None:
    assert set(HINTED) == set(PATTERNS) - {"anything"}


@pytest.mark.parametrize("name", HINTED)
def test_a_hint_skips_no_text_shorter_than_its_patterns_shortest_match(name: str) -> None:
    pattern = PATTERNS[name]
    assert HINTS[pattern.pattern].min_len <= _shortest_match(pattern)


@pytest.mark.parametrize("name", HINTED)
@FUZZ
@given(data=st.data())
def test_a_hint_fires_on_every_text_its_pattern_matches(name: str, data: st.DataObject) -> None:
    pattern = PATTERNS[name]
    text = data.draw(st.from_regex(pattern) | st.sampled_from(_SAMPLES), label="text")
    if pattern.search(text) is not None:
        assert _check([HINTS[pattern.pattern]])(text), text


@FUZZ
@given(data=st.data())
def test_all_hints_together_fire_whenever_one_pattern_matches(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(HINTED), label="pattern")
    pattern = PATTERNS[name]
    text = data.draw(st.from_regex(pattern), label="text")
    check = _check([HINTS[PATTERNS[other].pattern] for other in HINTED if other != "anything"])
    assert pattern.search(text) is not None
    assert check(text), text


@FUZZ
@given(
    fields=st.lists(st.sampled_from(["Order", "item", "x-Token", "café", "ID"]), min_size=1),
    text=st.text(max_size=30) | st.sampled_from(["an ORDER", "Café au lait", "id", "Item 7"]),
)
def test_a_sensitive_fields_hint_fires_on_every_text_its_regex_matches(
    fields: list[str], text: str
) -> None:
    regex = compile_rust("|".join(re.escape(f) for f in fields), case_insensitive=True)
    literal_hint(regex, fields)
    hint = HINTS.get(regex.pattern)
    if hint is not None and regex.search(text) is not None:
        assert _check([hint])(text), (fields, text)


_SAMPLES = [
    "4111 1111 1111 1111",
    "paid with 5500-0000-0000-0004 today",
    "3782-822463-10005",
    "SSN 123-45-6789.",
    "DE89370400440532013000",
    "2026-11-23 05:12:44",
    "ord-303647: gateway answered 502 after 1250 ms",
    "session:607702",
]


def test_the_default_value_check_rejects_ordinary_text_and_keeps_sensitive_text() -> None:
    # the value patterns of the legacy data scrubber ("@common:filter")
    names = ("creditcard", "iban", "pemkey", "urlauth_legacy", "bearer", "password_key", "us_ssn")
    check = _check([HINTS[PATTERNS[name].pattern] for name in names])
    for text in ("GET", "session:607702", "2026-11-23 05:12:44", "SELECT id FROM orders"):
        assert not check(text), text
    for text in (
        "4111111111111111",
        "card 5500 0000 0000 0004",
        "123-45-6789",
        "DE89370400440532013000",
        "Bearer abc",
        "the password is x",
        "https://user:pw@example.com",
    ):
        assert check(text), text


# --- fast walks against the general walk ---------------------------------------------------


def _skeleton(value: Any, keep: Random | None = None) -> dict[str, Any]:
    """A ``_meta`` tree mirroring ``value`` with no entries: it sends the walk down its general
    path everywhere without changing what it does (``keep``: only along some paths, chosen
    at random, so that both paths meet)."""
    if isinstance(value, dict):
        items = [(str(k), v) for k, v in value.items() if k != "_meta"]
    elif isinstance(value, list):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return {}
    return {k: _skeleton(v, keep) for k, v in items if keep is None or keep.random() < 0.6}


def _merge(into: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        current = into.get(key)
        if isinstance(current, dict):
            _merge(current, value)
        elif key not in into:
            into[key] = value
    return into


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v != {}}
    return value


def assert_same_both_ways(
    config: ScrubbingConfig, event: dict[str, Any], keep: Random | None = None
) -> None:
    scrubber = compile_scrubber(config)
    fast = scrubber.scrub(copy.deepcopy(event))
    general = copy.deepcopy(event)
    meta = general.get("_meta")
    skeleton = _skeleton(event, keep)
    general["_meta"] = _merge(copy.deepcopy(meta) if isinstance(meta, dict) else {}, skeleton)
    general = scrubber.scrub(general)
    fast_meta, general_meta = _pruned(fast.pop("_meta", {})), _pruned(general.pop("_meta", {}))
    assert fast == general
    assert fast_meta == general_meta


@pytest.mark.parametrize("config_name", CONFIGS)
def test_the_corpus_scrubs_the_same_on_the_fast_and_the_general_walk(config_name: str) -> None:
    events_ = corpus()
    assert len(events_) >= 20
    for _name, payload in events_:
        assert_same_both_ways(CONFIGS[config_name], normalize(payload))


SPAN_DATA_KEYS = KEYS | st.sampled_from(
    ["db.statement", "http.url", "url.full", "server.address", "sentry.op", "thread.name"]
)


@st.composite
def transactions(draw: st.DrawFn) -> dict[str, Any]:
    spans = [
        {
            "span_id": "8542f7ed4ad7e14f",
            "trace_id": "70df889eb43c42eea48bc45dfac23981",
            "start_timestamp": 1.0,
            "timestamp": 2.0,
            "op": "db",
            "description": draw(VALUES),
            "data": draw(st.dictionaries(SPAN_DATA_KEYS, JSON, max_size=5)),
            "tags": draw(st.dictionaries(KEYS, VALUES, max_size=2)),
            draw(KEYS): draw(JSON),
        }
        for _ in range(draw(st.integers(1, 3)))
    ]
    return {
        "type": "transaction",
        "transaction": "/x",
        "start_timestamp": 1.0,
        "timestamp": 2.0,
        "contexts": {
            "trace": {
                "trace_id": "70df889eb43c42eea48bc45dfac23981",
                "span_id": "afc81e857deaac68",
                "type": "trace",
                "data": draw(st.dictionaries(SPAN_DATA_KEYS, JSON, max_size=4)),
            }
        },
        "spans": spans,
        "extra": draw(BAG),
    }


@FUZZ
@given(
    event=events() | transactions(),
    config_name=st.sampled_from(sorted(CONFIGS)),
    normalized=st.booleans(),
    keep=st.none() | st.randoms(use_true_random=False),
)
def test_generated_events_scrub_the_same_on_the_fast_and_the_general_walk(
    event: dict[str, Any], config_name: str, normalized: bool, keep: Random | None
) -> None:
    if normalized:
        event = normalize(json.dumps(event).encode())
    assert_same_both_ways(CONFIGS[config_name], event, keep)


# --- what the fast walks skip, by example --------------------------------------------------


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    return compile_scrubber(ScrubbingConfig()).scrub(event)


def test_numbers_and_maps_under_sensitive_keys_are_removed_and_booleans_kept() -> None:
    frame = {"vars": {"password": 1234, "secret": {"a": 1}, "token": True, "n": 5, "ok": "x"}}
    event = scrub({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [frame]}}]}})
    variables = event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert variables == {"password": None, "secret": None, "token": True, "n": 5, "ok": "x"}


def test_span_data_is_scrubbed_by_each_attributes_own_flag() -> None:
    span = {
        "span_id": "8542f7ed4ad7e14f",
        "trace_id": "70df889eb43c42eea48bc45dfac23981",
        "data": {"api_key": 7, "card": "4111 1111 1111 1111", "sentry.op": "4111 1111 1111 1111"},
    }
    event = scrub({"type": "transaction", "spans": [span]})
    data = event["spans"][0]["data"]
    assert data == {"api_key": None, "card": "[Filtered]", "sentry.op": "4111 1111 1111 1111"}


def test_breadcrumb_data_maps_and_messages_are_scrubbed() -> None:
    crumbs = [
        {"message": "SELECT 1", "data": {"auth": {"user": "u"}, "q": "token=abc"}},
        {"message": "paid 4111111111111111", "data": {"url": "https://example.com/orders/7"}},
    ]
    event = scrub({"breadcrumbs": {"values": crumbs}})
    values = event["breadcrumbs"]["values"]
    assert values[0] == {"message": "SELECT 1", "data": {"auth": None, "q": "[Filtered]"}}
    assert values[1]["message"] == "paid [Filtered]"
    assert values[1]["data"] == {"url": "https://example.com/orders/7"}


def test_an_original_value_kept_in_meta_is_scrubbed_next_to_fields_without_meta() -> None:
    # Relay keeps the invalid ``params`` in _meta; ``formatted`` has no _meta of its own.
    event = normalize(
        json.dumps(
            {"logentry": {"formatted": "4111111111111111", "params": "4111111111111111"}}
        ).encode()
    )
    assert event["_meta"]["logentry"]["params"][""]["val"] == "4111111111111111"
    event = scrub(event)
    assert event["_meta"]["logentry"]["params"][""]["val"] == "[Filtered]"
    assert event["logentry"]["formatted"] == "[creditcard]"


def test_a_remembered_string_gets_its_own_remarks_every_time() -> None:
    first = scrub(frame_vars({"password": "'hunter2'", "note": "card 4111111111111111"}))
    first_meta = first["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]
    first_meta["password"][""]["rem"][0].append("changed later")
    first_meta["note"][""]["rem"].clear()
    second = scrub(frame_vars({"password": "'hunter2'", "note": "card 4111111111111111"}))
    variables = second["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert variables == {"password": "[Filtered]", "note": "card [Filtered]"}
    meta = second["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]
    assert meta == {
        "password": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 9}},
        "note": {"": {"rem": [["@creditcard:filter", "s", 5, 15]], "len": 21}},
    }


def test_a_remembered_string_keeps_the_remarks_it_came_with_apart() -> None:
    # The same value, with a remark saying it was already redacted (so no rule looks inside)
    # and without: each scrubbed twice, in turns.
    def remarked() -> dict[str, Any]:
        event = frame_vars({"note": "4111111111111111"})
        vars_meta = {"note": {"": {"rem": [["!config", "s", 0, 16]]}}}
        frames = {"0": {"vars": vars_meta}}
        event["_meta"] = {"exception": {"values": {"0": {"stacktrace": {"frames": frames}}}}}
        return event

    for _ in range(2):
        event = scrub(remarked())
        assert event == remarked()
        event = scrub(frame_vars({"note": "4111111111111111"}))
        assert event["exception"] == frame_vars({"note": "[Filtered]"})["exception"]


def frame_vars(variables: dict[str, Any]) -> dict[str, Any]:
    frames = [{"function": "f", "vars": variables}]
    return {"exception": {"values": [{"type": "E", "stacktrace": {"frames": frames}}]}}


def test_lists_in_maps_are_entered_unless_their_key_removes_them() -> None:
    variables = {
        "secret": ["a", "b"],
        "args": ["x", "4111111111111111", 3, ["token", "y"], {"password": "p"}],
    }
    event = scrub(frame_vars(variables))
    scrubbed = event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert scrubbed == {
        "secret": None,
        "args": ["x", "[Filtered]", 3, ["token", "y"], {"password": "[Filtered]"}],
    }


def test_nested_span_data_goes_by_the_innermost_key() -> None:
    span = {
        "span_id": "8542f7ed4ad7e14f",
        "trace_id": "70df889eb43c42eea48bc45dfac23981",
        "data": {"sentry.op": {"password": "p", "sentry.op": "4111111111111111"}},
    }
    event = scrub({"type": "transaction", "spans": [span]})
    data = event["spans"][0]["data"]
    assert data == {"sentry.op": {"password": "[Filtered]", "sentry.op": "4111111111111111"}}
