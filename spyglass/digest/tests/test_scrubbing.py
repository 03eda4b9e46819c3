"""Data scrubbing by behaviour. (Equality with Relay is proved in test_scrubbing_differential.)"""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.digest.scrubbing import ScrubbingConfig, compile_scrubber, validate_advanced_rules

DEFAULTS = ScrubbingConfig()


def scrub(event: dict[str, Any], config: ScrubbingConfig = DEFAULTS) -> dict[str, Any]:
    return compile_scrubber(config).scrub(event)


def frame_vars(variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "exception": {"values": [{"type": "E", "stacktrace": {"frames": [{"vars": variables}]}}]}
    }


def test_a_password_local_variable_is_filtered() -> None:
    event = scrub(frame_vars({"password": "'hunter2'", "count": "3"}))
    variables = event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert variables == {"password": "[Filtered]", "count": "3"}
    meta = event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"]["0"]["vars"]
    assert meta == {"password": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 9}}}


def test_the_authorization_header_is_filtered() -> None:
    event = scrub({"request": {"headers": [["Authorization", "Basic abc"], ["Accept", "*/*"]]}})
    assert event["request"]["headers"] == [["Authorization", "[Filtered]"], ["Accept", "*/*"]]
    assert event["_meta"]["request"]["headers"] == {
        "0": {"1": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 9}}}
    }


def test_session_cookies_are_filtered_and_other_cookies_kept() -> None:
    event = scrub({"request": {"cookies": [["sessionid", "abc"], ["theme", "dark"]]}})
    assert event["request"]["cookies"] == [["sessionid", "[Filtered]"], ["theme", "dark"]]
    assert event["_meta"]["request"]["cookies"]["0"]["1"][""]["rem"] == [
        ["@anything:filter", "s", 0, 10]
    ]


def test_a_card_number_inside_a_message_is_filtered() -> None:
    event = scrub({"extra": {"note": "paid with 4111 1111 1111 1111 today"}})
    assert event["extra"]["note"] == "paid with [Filtered] today"
    assert event["_meta"]["extra"]["note"][""] == {
        "rem": [["@creditcard:filter", "s", 10, 20]],
        "len": 35,
    }


def test_a_card_number_in_the_formatted_message_is_replaced_not_filtered() -> None:
    event = scrub({"logentry": {"formatted": "card 4111111111111111 and password=1"}})
    assert event["logentry"]["formatted"] == "card [creditcard] and password=1"


def test_a_sensitive_key_removes_a_whole_container() -> None:
    event = scrub({"extra": {"credentials": {"user": "a", "pass": "b"}, "other": {"a": 1}}})
    assert event["extra"] == {"credentials": None, "other": {"a": 1}}
    assert event["_meta"]["extra"]["credentials"] == {"": {"rem": [["@password:filter", "x"]]}}


def test_safe_fields_are_kept() -> None:
    config = ScrubbingConfig(safe_fields=("password",))
    event = scrub({"extra": {"password": "hunter2", "secret": "x"}}, config)
    assert event["extra"] == {"password": "hunter2", "secret": "[Filtered]"}


def test_additional_sensitive_fields_match_keys_and_values_case_insensitively() -> None:
    config = ScrubbingConfig(sensitive_fields=("Order",))
    event = scrub({"extra": {"order_id": "1", "note": "re: ORDER 7", "other": "x"}}, config)
    assert event["extra"] == {"order_id": "[Filtered]", "note": "[Filtered]", "other": "x"}


def test_nothing_is_scrubbed_when_the_data_scrubber_is_off() -> None:
    config = ScrubbingConfig(scrub_data=False)
    event = {"extra": {"password": "hunter2"}}
    assert scrub(event, config) == {"extra": {"password": "hunter2"}}
    assert compile_scrubber(config).is_noop


def test_ip_addresses_are_removed_from_known_fields_and_replaced_elsewhere() -> None:
    config = ScrubbingConfig(scrub_ip_addresses=True)
    event = scrub(
        {"user": {"ip_address": "10.1.2.3", "id": "7"}, "extra": {"from": "seen at 10.1.2.3"}},
        config,
    )
    assert event["user"] == {"ip_address": None, "id": "7"}
    assert event["extra"]["from"] == "seen at [ip]"


def test_event_ids_and_timestamps_are_never_scrubbed() -> None:
    event = {"event_id": "4111111111111111" * 2, "timestamp": 1.5, "platform": "password"}
    assert scrub(dict(event)) == event


def test_invalid_advanced_rules_raise_a_helpful_error() -> None:
    with pytest.raises(ValueError, match="not valid JSON"):
        validate_advanced_rules("{")
    with pytest.raises(ValueError, match="selector"):
        validate_advanced_rules('{"applications": {"$strin": ["@ip"]}}')
    with pytest.raises(ValueError, match="look-around"):
        validate_advanced_rules(
            '{"rules": {"r": {"type": "pattern", "pattern": "(?=a)"}},'
            ' "applications": {"$string": ["r"]}}'
        )
    with pytest.raises(ValueError, match="not defined"):
        validate_advanced_rules('{"applications": {"$string": ["nope"]}}')


def test_advanced_rules_mask_hash_and_replace_in_selected_places() -> None:
    rules = (
        '{"rules": {"ids": {"type": "pattern", "pattern": "id-[0-9]+",'
        ' "redaction": {"method": "replace", "text": "[id]"}}},'
        ' "applications": {"$frame.vars.user": ["@email:mask"], "extra.**": ["ids"]}}'
    )
    config = ScrubbingConfig(scrub_data=False, advanced_rules=rules)
    event = frame_vars({"user": "'a@b.example'"})
    event["extra"] = {"deep": {"ref": "see id-42"}}
    scrub(event, config)
    assert event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["user"] == (
        "'***********'"
    )
    assert event["extra"]["deep"]["ref"] == "see [id]"


def test_a_hashed_ip_address_becomes_the_user_id_when_the_user_has_no_other_id() -> None:
    rules = '{"applications": {"$user.ip_address": ["@anything:hash"]}}'
    event = scrub(
        {"user": {"ip_address": "127.0.0.1"}},
        ScrubbingConfig(scrub_data=False, advanced_rules=rules),
    )
    assert event["user"] == {"ip_address": None, "id": "AE12FE3B5F129B5CC4CDD2B136B7B7947C4D2741"}
    assert event["_meta"]["user"] == {
        "id": {"": {"rem": [["@anything:hash", "p", 0, 40]], "len": 9}},
        "ip_address": {"": {"rem": [["pii:ip_address", "x"]]}},
    }


def test_the_user_agent_header_and_the_exception_message_are_left_alone() -> None:
    event = scrub(
        {
            "request": {"headers": [["User-Agent", "password 4111111111111111"]]},
            "exception": {"values": [{"type": "E", "value": "card 4111111111111111"}]},
        }
    )
    assert event["request"]["headers"] == [["User-Agent", "password 4111111111111111"]]
    assert event["exception"]["values"][0]["value"] == "card 4111111111111111"


def test_a_list_of_pairs_is_scrubbed_by_key() -> None:
    event = scrub({"extra": {"pairs": [["password", "hunter2"], ["theme", "dark"]]}})
    assert event["extra"]["pairs"] == [["password", "[Filtered]"], ["theme", "dark"]]
