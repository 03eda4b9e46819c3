"""Relay normalization of real SDK payloads and of hostile ones (``digest.normalize``)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sentry_relay.exceptions import RelayError
from sentry_relay.processing import StoreNormalizer

from spyglass.digest import normalize as normalize_module
from spyglass.digest.normalize import Normalized, contexts_for_user_agent, normalize
from spyglass.protocol.envelope import parse_envelope
from spyglass.protocol.tests.sdk_fixtures import captures

FIXTURES_EVENTS = Path(__file__).parent / "fixtures_events"
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
NOW = 1_795_000_000.0  # 2026-11-18


@dataclass(frozen=True)
class SdkEvent:
    """An event or transaction item as a real SDK sent it, with its envelope's facts."""

    name: str
    payload: bytes
    sent_at: str | None
    user_agent: str | None

    @property
    def received_at(self) -> float:
        # A quarter second after sending: no clock drift, nothing in the future.
        if self.sent_at:
            return datetime.fromisoformat(self.sent_at).timestamp() + 0.25
        timestamp = orjson.loads(self.payload).get("timestamp")
        if isinstance(timestamp, str):
            return (
                datetime.fromisoformat(timestamp[:26].rstrip("Z")).replace(tzinfo=UTC).timestamp()
                + 1
            )
        return float(timestamp) + 1


@cache
def sdk_events() -> tuple[SdkEvent, ...]:
    """Event items from ``protocol/tests/fixtures`` and from ``fixtures_events``."""
    found = []
    for capture in captures():
        if capture.method != "POST":
            continue
        user_agent = capture.header("user-agent")
        if capture.kind == "store":
            found.append(SdkEvent(capture.name, capture.decoded, None, user_agent))
        elif capture.kind == "envelope":
            envelope = parse_envelope(capture.decoded)
            for item in envelope.items:
                if item.type in ("event", "transaction", "feedback"):
                    sent_at = envelope.headers.get("sent_at")
                    found.append(SdkEvent(capture.name, item.payload, sent_at, user_agent))
    index = json.loads((FIXTURES_EVENTS / "index.json").read_text())
    for name, facts in sorted(index.items()):
        payload = (FIXTURES_EVENTS / name).read_bytes()
        found.append(SdkEvent(name, payload, facts["sent_at"], facts["user_agent"]))
    return tuple(found)


def sdk_event(name: str) -> SdkEvent:
    return next(e for e in sdk_events() if e.name.startswith(name))


def normalized(sdk: SdkEvent, client_ip: str | None = "203.0.113.9") -> Normalized:
    return normalize(
        sdk.payload,
        project_id=1,
        client_ip=client_ip,
        user_agent=sdk.user_agent,
        received_at=sdk.received_at,
        sent_at=sdk.sent_at,
    )


def run(event: dict[str, Any] | bytes, **kwargs: Any) -> Normalized:
    # The standard library writes integers beyond 64 bits, which SDKs can send too.
    payload = event if isinstance(event, bytes) else json.dumps(event).encode()
    options: dict[str, Any] = {"project_id": 1, "client_ip": None, "user_agent": None}
    options["received_at"] = NOW
    options.update(kwargs)
    return normalize(payload, **options)


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


# --- real SDK events ------------------------------------------------------------------


@pytest.mark.parametrize("sdk", sdk_events(), ids=lambda e: e.name)
def test_real_sdk_events_normalize_without_processing_errors(sdk: SdkEvent) -> None:
    result = normalized(sdk)
    assert result.errors == []
    assert result.invalid is None
    event = result.event
    assert "errors" not in event
    assert len(event["event_id"]) == 32
    assert event["type"] in ("error", "default", "transaction", "feedback")
    assert isinstance(event["timestamp"], float)
    assert event["received"] == pytest.approx(sdk.received_at, abs=1e-3)
    assert event["platform"] in ("python", "node", "javascript", "go", "native")


def test_the_fixtures_cover_every_sdk_and_event_kind() -> None:
    kinds = {
        (e.name.split("/")[0].split("-")[0], normalized(e).event["type"]) for e in sdk_events()
    }
    for expected in [("python", "error"), ("python", "transaction"), ("node", "error")]:
        assert expected in kinds
    for expected in [("browser", "error"), ("browser", "transaction"), ("go", "error")]:
        assert expected in kinds
    assert ("cli", "default") in kinds
    assert ("node", "feedback") in kinds


def test_go_sends_exception_as_a_bare_list_which_becomes_values() -> None:
    sdk = sdk_event("go/store_errors_gin_panic/001")
    assert isinstance(orjson.loads(sdk.payload)["exception"], list)
    values = normalized(sdk).event["exception"]["values"]
    assert values[0]["type"] == "*errors.errorString"
    assert values[0]["value"] == "job runner: provider timeout"


def test_the_sdks_own_meta_is_kept() -> None:
    event = normalized(sdk_event("python/exception_chained/001")).event
    frame_meta = event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"]["1"]
    assert frame_meta["vars"]["password"][""]["rem"] == [["!config", "s"]]


# --- IP addresses -----------------------------------------------------------------------


def test_auto_ip_becomes_the_client_ip() -> None:
    sdk = sdk_event("cli/send_event")
    assert orjson.loads(sdk.payload)["user"]["ip_address"] == "{{auto}}"
    user = normalized(sdk, client_ip="198.51.100.7").event["user"]
    assert user["ip_address"] == "198.51.100.7"
    assert user["sentry_user"] == "id:42"


def test_auto_remote_addr_becomes_the_client_ip_and_fills_the_user() -> None:
    event = {"request": {"env": {"REMOTE_ADDR": "{{auto}}"}}, "platform": "python"}
    result = run(event, client_ip="198.51.100.7").event
    assert result["request"]["env"]["REMOTE_ADDR"] == "198.51.100.7"
    assert result["user"] == {"ip_address": "198.51.100.7", "sentry_user": "ip:198.51.100.7"}


@pytest.mark.parametrize("value", [123, 1.5, True, ["198.51.100.7"], {"ip": "198.51.100.7"}])
def test_a_remote_addr_that_is_not_a_string_is_no_address(value: object) -> None:
    result = run({"request": {"env": {"REMOTE_ADDR": value}}, "platform": "python"}).event
    assert result["request"]["env"]["REMOTE_ADDR"] == value
    assert "user" not in result


def test_auto_ip_without_a_client_ip_is_dropped() -> None:
    result = run({"user": {"id": "7", "ip_address": "{{auto}}"}}).event
    assert result["user"] == {"id": "7", "sentry_user": "id:7"}


def test_javascript_events_get_the_client_ip_unless_the_sdk_says_never() -> None:
    browser = run({"platform": "javascript"}, client_ip="198.51.100.7").event
    assert browser["user"]["ip_address"] == "198.51.100.7"
    never = {"platform": "javascript", "sdk": {"name": "s", "version": "1"}}
    never["sdk"]["settings"] = {"infer_ip": "never"}  # type: ignore[index]
    assert "user" not in run(never, client_ip="198.51.100.7").event


def test_server_events_get_the_client_ip_only_when_the_sdk_asks() -> None:
    assert "user" not in run({"platform": "python"}, client_ip="198.51.100.7").event
    auto = {
        "platform": "python",
        "sdk": {"name": "s", "version": "1", "settings": {"infer_ip": "auto"}},
    }
    assert run(auto, client_ip="198.51.100.7").event["user"]["ip_address"] == "198.51.100.7"


def test_an_invalid_client_ip_is_ignored() -> None:
    result = run({"user": {"ip_address": "{{auto}}"}}, client_ip="not an ip")
    assert result.invalid is None
    assert "user" not in result.event


# --- user agent -------------------------------------------------------------------------


def test_a_browser_user_agent_becomes_browser_and_os_contexts() -> None:
    contexts = normalized(sdk_event("browser/handled_error")).event["contexts"]
    assert contexts["browser"] == {
        "browser": "HeadlessChrome 156.0.0",
        "name": "HeadlessChrome",
        "version": "156.0.0",
        "type": "browser",
    }
    assert contexts["os"]["name"] == "Linux"


def test_a_server_events_request_user_agent_goes_to_client_os() -> None:
    event = {"platform": "python", "contexts": {"os": {"name": "Linux"}}}
    event["request"] = {"headers": {"User-Agent": CHROME}}
    contexts = run(event).event["contexts"]
    assert contexts["os"]["name"] == "Linux"
    assert contexts["client_os"]["name"] == "Windows"
    assert contexts["browser"]["name"] == "Chrome"


def test_contexts_the_sdk_sent_win_over_the_user_agent() -> None:
    event = {"platform": "javascript", "contexts": {"browser": {"name": "Mine"}}}
    event["request"] = {"headers": [["user-agent", CHROME]]}
    contexts = run(event).event["contexts"]
    assert contexts["browser"]["name"] == "Mine"
    assert contexts["os"]["name"] == "Windows"


def test_the_submitting_clients_user_agent_adds_no_contexts_like_relay() -> None:
    assert "browser" not in run({"platform": "javascript"}, user_agent=CHROME).event["contexts"]


@pytest.mark.parametrize(
    "user_agent",
    [
        CHROME,
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.0; Trident/4.0)",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "curl/8.0",
    ],
)
def test_cached_user_agent_contexts_equal_relays_own(user_agent: str) -> None:
    event = {"platform": "javascript", "request": {"headers": [["User-Agent", user_agent]]}}
    ours = run(event).event.get("contexts", {})
    relay = StoreNormalizer(normalize_user_agent=True).normalize_event(event)["contexts"]
    for key in ("browser", "os", "device"):
        assert ours.get(key) == relay.get(key)
    contexts_for_user_agent.cache_clear()


# --- timestamps -------------------------------------------------------------------------


def test_clock_drift_of_an_hour_or_more_is_corrected_everywhere() -> None:
    client_now = NOW - 2 * 3600  # the client's clock is two hours behind
    event = {
        "type": "transaction",
        "transaction": "/checkout",
        "start_timestamp": client_now - 1,
        "timestamp": client_now,
        "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16}},
        "spans": [
            {
                "span_id": "c" * 16,
                "trace_id": "a" * 32,
                "start_timestamp": client_now - 0.5,
                "timestamp": client_now - 0.25,
            }
        ],
        "breadcrumbs": {"values": [{"timestamp": client_now - 2, "message": "hi"}]},
    }
    result = run(event, sent_at=iso(client_now))
    shifted = result.event
    assert shifted["timestamp"] == pytest.approx(NOW, abs=1e-3)
    assert shifted["start_timestamp"] == pytest.approx(NOW - 1, abs=1e-3)
    assert shifted["spans"][0]["start_timestamp"] == pytest.approx(NOW - 0.5, abs=1e-3)
    assert shifted["breadcrumbs"]["values"][0]["timestamp"] == pytest.approx(NOW - 2, abs=1e-3)
    assert shifted["received"] == pytest.approx(NOW, abs=1e-3)
    assert result.errors == [
        {
            "type": "clock_drift",
            "name": "timestamp",
            "sdk_time": iso(client_now),
            "server_time": iso(NOW),
        }
    ]


def test_drift_under_55_minutes_is_left_alone() -> None:
    sent = NOW - 54 * 60
    result = run({"timestamp": sent}, sent_at=iso(sent))
    assert result.event["timestamp"] == pytest.approx(sent, abs=1e-3)
    assert result.errors == []


def test_a_fast_client_clock_is_corrected_before_the_future_check() -> None:
    ahead = NOW + 24 * 3600  # a day ahead: in the future, unless drift is corrected first
    result = run({"timestamp": ahead - 5}, sent_at=iso(ahead))
    assert result.event["timestamp"] == pytest.approx(NOW - 5, abs=1e-3)
    assert [e["type"] for e in result.errors] == ["clock_drift"]


def test_future_timestamps_fall_back_to_the_received_time() -> None:
    result = run({"timestamp": NOW + 3600})
    assert result.event["timestamp"] == pytest.approx(NOW, abs=1e-3)
    assert result.errors[0]["type"] == "future_timestamp"


def test_timestamps_older_than_30_days_fall_back_to_the_received_time() -> None:
    result = run({"timestamp": "2026-09-01T00:00:00Z"})
    assert result.event["timestamp"] == pytest.approx(NOW, abs=1e-3)
    assert result.errors[0]["type"] == "past_timestamp"


@pytest.mark.parametrize(
    "sent_at",
    [
        "yesterday",
        "2026-11-17",
        "2026-11-17T00:00:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_a_sent_at_header_without_a_usable_time_is_ignored(sent_at: str) -> None:
    result = run({"timestamp": NOW - 10}, sent_at=sent_at)
    assert result.event["timestamp"] == pytest.approx(NOW - 10, abs=1e-3)
    assert result.errors == []


def test_a_missing_timestamp_is_the_received_time() -> None:
    assert run({"message": "hi"}).event["timestamp"] == pytest.approx(NOW, abs=1e-3)


# --- trimming ---------------------------------------------------------------------------


def test_long_strings_are_trimmed_and_meta_records_it() -> None:
    result = run({"message": "x" * 10_000, "extra": {"blob": "y" * 100_000}})
    event = result.event
    assert len(event["logentry"]["formatted"]) == 8192
    assert event["logentry"]["formatted"].endswith("...")
    assert event["_meta"]["logentry"]["formatted"][""]["len"] == 10_000
    assert event["_meta"]["extra"]["blob"][""]["rem"][0][0] == "!limit"
    assert result.errors == []


def test_stack_traces_keep_their_innermost_250_frames() -> None:
    frames = [{"function": f"f{i}", "filename": "app.py", "lineno": i} for i in range(10_000)]
    event = {
        "exception": {"values": [{"type": "E", "value": "v", "stacktrace": {"frames": frames}}]}
    }
    result = run(event)
    kept = result.event["exception"]["values"][0]["stacktrace"]["frames"]
    assert len(kept) == 250
    assert kept[-1]["function"] == "f9999"
    assert (
        result.event["_meta"]["exception"]["values"]["0"]["stacktrace"]["frames"][""]["len"]
        == 10_000
    )


# --- hostile input ----------------------------------------------------------------------


def assert_minimal(result: Normalized, reason: str) -> None:
    event = result.event
    assert result.invalid == "invalid_json"
    assert set(event) == {"event_id", "level", "platform", "timestamp", "received", "errors"}
    assert (event["level"], event["platform"], event["timestamp"]) == ("error", "other", NOW)
    assert event["errors"] is result.errors
    assert reason in result.errors[-1]["reason"]


@pytest.mark.parametrize("payload", [b"{", b"", b"{]", b'{"a": 1,}', b"\x00\x01"])
def test_invalid_json_becomes_a_minimal_event(payload: bytes) -> None:
    assert_minimal(run(payload), "invalid JSON")


@pytest.mark.parametrize("payload", [b"[]", b"null", b'"event"', b"42", b"true", b"[{}]"])
def test_json_that_is_not_an_object_becomes_a_minimal_event(payload: bytes) -> None:
    assert_minimal(run(payload), "not a JSON object")


def test_a_payload_that_is_not_utf8_at_all_becomes_a_minimal_event() -> None:
    result = run(b"\xff\xfe\x00{")
    assert_minimal(result, "invalid JSON")
    assert result.errors[0]["reason"] == "invalid UTF-8 replaced with U+FFFD"


def test_invalid_utf8_inside_a_string_is_replaced_and_the_event_kept() -> None:
    result = run(b'{"message": "caf\xe9 \xff ok"}')
    assert result.invalid is None
    assert result.event["logentry"]["formatted"] == "caf\ufffd \ufffd ok"
    assert result.errors == [
        {"type": "invalid_data", "reason": "invalid UTF-8 replaced with U+FFFD"}
    ]


def test_10000_nested_lists_are_pruned_and_the_event_kept() -> None:
    payload = b'{"message": "deep", "extra": {"d": ' + b"[" * 10_000 + b"]" * 10_000 + b"}}"
    result = run(payload)
    assert result.invalid is None
    assert result.event["logentry"]["formatted"] == "deep"
    assert "extra" in result.event
    assert result.errors == [
        {"type": "invalid_data", "reason": "values nested deeper than 100 levels removed"}
    ]


def test_deep_nesting_inside_strings_is_not_mistaken_for_structure() -> None:
    payload = orjson.dumps({"message": "[" * 5000 + '"\\{', "extra": {"x": "]" * 300}})
    result = run(payload)
    assert result.errors == []
    assert result.event["logentry"]["formatted"].startswith("[[[")


def test_lone_surrogates_are_replaced_and_the_event_kept() -> None:
    result = run(b'{"message": "a \\ud800 b", "extra": {"ok": "\\ud83d\\ude00"}}')
    assert result.invalid is None
    assert result.event["logentry"]["formatted"].startswith("a \ufffd")
    assert result.event["extra"]["ok"] == "\U0001f600"
    assert result.errors == [
        {"type": "invalid_data", "reason": "lone surrogates replaced with U+FFFD"}
    ]


def test_huge_strings_are_kept_trimmed() -> None:
    result = run({"message": "m" * 5_000_000, "extra": {"s": "s" * 2_000_000}})
    assert result.invalid is None
    assert len(result.event["logentry"]["formatted"]) == 8192


def test_cyclic_looking_json_is_just_data() -> None:
    event = {
        "message": "cycle",
        "extra": {
            "self": {"$ref": "$"},
            "parent": "[Circular ~]",
            "a": {"b": {"$ref": "$.extra.a"}},
        },
    }
    payload = orjson.dumps(event)[:-1] + b', "message": "duplicate key"}'
    result = run(payload)
    assert result.invalid is None
    assert result.event["extra"]["self"] == {"$ref": "$"}


def test_python_style_nan_and_infinity_are_accepted() -> None:
    result = run(b'{"message": "nan", "extra": {"a": NaN, "b": Infinity, "c": -Infinity}}')
    assert result.invalid is None
    assert result.event["logentry"]["formatted"] == "nan"


def test_a_transaction_relay_rejects_is_reported_invalid() -> None:
    result = run({"type": "transaction", "transaction": "/x"})
    assert result.invalid == "invalid_transaction"
    assert result.errors[0]["type"] == "invalid_transaction"
    assert "start_timestamp" in result.errors[0]["reason"]


def test_bad_values_are_dropped_with_errors_and_the_event_kept() -> None:
    event = {"level": "loud", "release": "a/b", "environment": "x/y", "tags": {"": "v", "k": ""}}
    result = run(event)
    assert result.invalid is None
    assert result.event["level"] == "error"
    assert result.event.get("release") is None
    assert result.event["_meta"]["release"][""]["val"] == "a/b"
    names = {e.get("name") for e in result.errors}
    assert {"level", "release", "environment", "tags.0.0", "tags.1.1"} <= names


JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)
EVENT_KEYS = st.sampled_from(
    [
        "event_id", "timestamp", "start_timestamp", "level", "platform", "release", "dist",
        "environment", "transaction", "type", "message", "logentry", "exception", "threads",
        "stacktrace", "tags", "extra", "user", "request", "contexts", "breadcrumbs", "sdk",
        "spans", "measurements", "fingerprint", "modules", "csp", "server_name", "_meta",
    ]
)  # fmt: skip


def assert_well_formed(result: Normalized) -> None:
    assert isinstance(result.event, dict)
    assert len(result.event["event_id"]) == 32
    assert isinstance(result.errors, list)
    assert result.event.get("errors", []) == result.errors
    orjson.dumps(result.event)  # still serializable


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(payload: bytes) -> None:
    assert_well_formed(run(payload))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(EVENT_KEYS, JSON_VALUES, max_size=8), st.none() | st.text(max_size=30))
def test_arbitrary_event_shapes_never_raise(event: dict[str, Any], sent_at: str | None) -> None:
    assert_well_formed(run(event, sent_at=sent_at, client_ip="192.0.2.1", user_agent="x"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_arbitrary_json_never_raises(value: Any) -> None:
    assert_well_formed(run(json.dumps(value).encode()))


def test_odd_header_values_never_raise() -> None:
    result = run({"message": "hi"}, user_agent="bad \udc80 agent", client="c\ud800", key_id="7")
    assert result.invalid is None


def test_normalizing_takes_a_fresh_received_time_per_call() -> None:
    before = time.time()
    result = normalize(b"{}", project_id=1, client_ip=None, user_agent=None, received_at=before)
    assert result.event["received"] == pytest.approx(before, abs=1e-3)


# --- the binding's first pass, skipped where it changes nothing ------------------------


def through_the_binding(raw: bytes) -> Any:
    """Relay's answer the binding's own way (it mends Python's JSON first), or the error."""
    normalizer = StoreNormalizer(json_dumps=orjson.dumps, **RELAY_CONFIG)
    try:
        return normalizer.normalize_event(raw_event=raw, json_loads=orjson.loads)
    except RelayError as exc:
        return type(exc).__name__, str(exc)


def through_ours(raw: bytes) -> Any:
    try:
        return normalize_module._relay(dict(RELAY_CONFIG), raw)
    except RelayError as exc:
        return type(exc).__name__, str(exc)


RELAY_CONFIG: dict[str, Any] = {
    "project_id": 1,
    "client_ip": "192.0.2.1",
    "protocol_version": "7",
    "received_at": "2026-11-18T10:00:00+00:00",
    "max_secs_in_future": 60,
    "max_secs_in_past": 30 * 24 * 3600,
    "enable_trimming": True,
    "normalize_user_agent": False,
}
_ID = b'{"event_id": "0123456789abcdef0123456789abcdef", '
MENDED = [
    _ID + b'"message": "m", "extra": {"a": NaN, "b": Infinity, "c": -Infinity}}',
    _ID + b'"message": "m", "extra": {"big": 123456789012345678901234567890}}',
    _ID + b'"message": "m", "extra": {"big": -99999999999999999999, "fits": 18446744073709551615}}',
    _ID + b'"message": "m", "extra": {"fraction": 1.123456789012345678901234567}}',
    _ID + b'"message": "m", "extra": {"in a string": "123456789012345678901234567890"}}',
    _ID + b'"message": "m", "extra": {"long": 1234567890123456789, "x": "NaN Infinity"}}',
    _ID + b'"type": "transaction", "transaction": "/x"}',
    _ID + b'"message": "m", "extra": {"a": N}}',
    _ID + b'"message": "m", "extra": {"a": 1,}}',
    b"[1, 2]",
]


@pytest.mark.parametrize("raw", MENDED)
def test_relay_answers_as_through_the_binding(raw: bytes) -> None:
    assert through_ours(raw) == through_the_binding(raw)


@pytest.mark.parametrize("sdk", sdk_events(), ids=lambda e: e.name)
def test_relay_answers_real_sdk_events_as_through_the_binding(sdk: SdkEvent) -> None:
    assert through_ours(sdk.payload) == through_the_binding(sdk.payload)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES)
def test_relay_answers_arbitrary_json_as_through_the_binding(value: Any) -> None:
    raw = json.dumps({"event_id": "ab" * 16, "message": "m", "extra": {"value": value}}).encode()
    assert through_ours(raw) == through_the_binding(raw)


def test_json_relay_reads_skips_the_binding_s_mending_pass(monkeypatch: Any) -> None:
    import sentry_relay.processing

    def mend(raw: bytes) -> Any:
        raise AssertionError("the mending pass ran")

    clean = _ID + b'"message": "m", "extra": {"long": 1234567890123456789}}'
    expected = through_the_binding(clean)
    monkeypatch.setattr(sentry_relay.processing, "_encode_raw_event", mend)
    assert normalize_module._AS_IS
    assert through_ours(clean) == expected
    with pytest.raises(AssertionError, match="mending"):
        through_ours(MENDED[0])  # NaN: Relay can't read it as it is
