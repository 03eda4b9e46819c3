"""Relay's store normalization for one event payload, plus the parts the Python binding leaves out.

``sentry_relay.StoreNormalizer`` runs Relay's schema validation, normalization and trimming
(``enable_trimming`` as Sentry passes it). The binding does not correct clock drift, does not
resolve ``{{auto}}`` IPs and parses user agents on every call (about 1 ms each, and 38 MB for
its compiled rules), so those three steps are done here: drift by normalizing in the client's
clock and shifting back, IPs after Relay, user-agent contexts in ``useragent.py``.

Bad input never raises: invalid UTF-8 is replaced, over-deep JSON is pruned, and what is still
not a JSON object becomes a minimal event; each repair is recorded as a processing error.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sentry_relay.exceptions import RelayError
from sentry_relay.processing import StoreNormalizer

from spyglass.digest.useragent import add_user_agent_contexts
from spyglass.digest.useragent import contexts_for_user_agent as contexts_for_user_agent

# Sentry's values (MAX_SECS_IN_FUTURE / MAX_SECS_IN_PAST); Relay's MINIMUM_CLOCK_DRIFT.
MAX_SECS_IN_FUTURE = 60
MAX_SECS_IN_PAST = 30 * 24 * 3600
MINIMUM_CLOCK_DRIFT = 55 * 60
# serde_json refuses nesting deeper than 128; deeper parts are pruned to this depth.
MAX_DEPTH = 100
# Longer strings are no address anyone sends (an IPv6 one with a zone is under 64): not cached.
MAX_CACHED_IP = 64

_AUTO = "{{auto}}"
# A JSON string (escapes included) or a bracket: enough to track nesting outside strings.
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


@dataclass
class Normalized:
    event: dict[str, Any]
    # Processing errors (Relay's plus ours); the same list is the event's ``errors``.
    errors: list[dict[str, Any]]
    # Set when Relay would have rejected the payload (outcome ``invalid``): the reason.
    invalid: str | None = None


def normalize(
    payload: bytes,
    *,
    project_id: int,
    client_ip: str | None,
    user_agent: str | None,
    received_at: float,
    sent_at: str | None = None,
    key_id: str | None = None,
    client: str | None = None,
) -> Normalized:
    """Relay-normalize one event payload (JSON bytes) received at ``received_at`` (Unix time)."""
    ours: list[dict[str, Any]] = []
    client_ip = _valid_ip(client_ip)
    sent = _parse_datetime(sent_at)
    drift = _clock_drift(sent, received_at)
    config: dict[str, Any] = {
        "project_id": project_id,
        "client_ip": client_ip,
        "client": _clean(client),
        "key_id": _clean(key_id),
        "protocol_version": "7",
        "user_agent": _clean(user_agent),
        # Normalizing in the client's clock, then shifting, is Relay's correct-then-validate.
        "received_at": _iso(received_at - drift),
        "max_secs_in_future": MAX_SECS_IN_FUTURE,
        "max_secs_in_past": MAX_SECS_IN_PAST,
        "enable_trimming": True,
        "normalize_user_agent": False,
    }
    raw = _utf8(payload, ours)
    event, invalid = _run_relay(config, raw, ours)
    if event is None:
        event = _minimal_event(received_at)
    else:
        _resolve_ips(event, client_ip)
        add_user_agent_contexts(event)
        if drift:
            _shift_timestamps(event, drift, sent, received_at)
    errors = event.get("errors")
    if not isinstance(errors, list):
        errors = []
    errors.extend(ours)
    if errors:
        event["errors"] = errors
    return Normalized(event, errors, invalid)


def _run_relay(
    config: dict[str, Any], raw: bytes, errors: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, str | None]:
    try:
        return _checked(_relay(config, raw), errors)
    except RelayError as exc:
        if type(exc).__name__ == "ProcessingErrorInvalidTransaction":
            errors.append(_error(_first_line(exc), kind="invalid_transaction"))
            return None, "invalid_transaction"
        first = _first_line(exc)
    repaired, notes = _repair(raw.decode())
    if notes:
        try:
            event, invalid = _checked(_relay(config, repaired.encode()), errors)
        except RelayError as exc:
            first = _first_line(exc)
        else:
            errors.extend(_error(note) for note in notes)
            return event, invalid
    errors.append(_error(f"invalid JSON: {first}"))
    return None, "invalid_json"


def _relay(config: dict[str, Any], raw: bytes) -> Any:
    normalizer = StoreNormalizer(json_dumps=orjson.dumps, **config)
    if _AS_IS and _LONG_NUMBER not in raw.translate(_DIGITS_ONLY):
        try:
            return _normalize_as_is(normalizer, raw)
        except Exception:  # noqa: S110
            # Not JSON as Relay reads it (or a binding whose insides differ): the binding's
            # own way, which mends Python's JSON first, answers (or raises) as it always did.
            pass
    return normalizer.normalize_event(raw_event=raw, json_loads=orjson.loads)


# `normalize_event`'s parts, from the binding's insides (sentry-relay 0.10): without them
# (another version), every payload takes `normalize_event` itself.
try:
    from sentry_relay._lowlevel import ffi, lib
    from sentry_relay.utils import encode_str

    _AS_IS = callable(lib.relay_store_normalizer_normalize_event) and callable(encode_str)
except (ImportError, AttributeError):  # pragma: no cover - other binding versions
    _AS_IS = False
# The payload's digits as "0", everything else as " ": where runs of 20 digits are.
_DIGITS_ONLY = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_NUMBER = b"0" * 20


def _normalize_as_is(normalizer: StoreNormalizer, raw: bytes) -> Any:
    """``normalizer.normalize_event(raw_event=raw)`` without its first pass, which mends the
    invalid JSON Python's ``json`` writes in place (``NaN`` and ``Infinity`` become 0, and
    so do integers beyond 64 bits). On JSON that Relay reads (so without ``NaN`` or
    ``Infinity`` outside strings) and that has no run of 20 digits, that pass changes
    nothing; it costs a tenth of the normalization. Relay's answer is parsed from its bytes,
    without decoding them to a str first (they are UTF-8: Rust strings)."""
    event = encode_str(raw)  # type: ignore[no-untyped-call]
    normalize_event = lib.relay_store_normalizer_normalize_event
    answer = normalizer._methodcall(normalize_event, event)  # type: ignore[no-untyped-call]
    try:
        return orjson.loads(memoryview(ffi.buffer(answer.data, answer.len)))
    finally:
        if answer.owned:
            lib.relay_str_free(ffi.addressof(answer))


def _checked(event: Any, errors: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    # Relay answers a JSON value that is not an object with a bare `_meta` (or null).
    if isinstance(event, dict) and "event_id" in event:
        return event, None
    errors.append(_error("the payload is not a JSON object"))
    return None, "invalid_json"


def _utf8(payload: bytes, errors: list[dict[str, Any]]) -> bytes:
    """The payload, valid UTF-8 (the binding hands it to Rust as a str unchecked)."""
    if isinstance(payload, str):  # despite the annotation
        return payload.encode(errors="replace")
    if payload.isascii():  # valid UTF-8, told without decoding it
        return payload
    try:
        payload.decode()
    except UnicodeDecodeError:
        errors.append(_error("invalid UTF-8 replaced with U+FFFD"))
        return payload.decode(errors="replace").encode()
    return payload


def _repair(text: str) -> tuple[str, list[str]]:
    """Prune nesting deeper than MAX_DEPTH and lone surrogates: what serde_json refuses."""
    parts: list[str] = []
    notes: list[str] = []
    depth = 0
    position = 0
    skip_from = -1
    for match in _JSON_TOKEN.finditer(text):
        piece = match.group()
        if piece in ("[", "{"):
            depth += 1
            if depth == MAX_DEPTH + 1 and skip_from < 0:
                skip_from = match.start()
        elif piece in ("]", "}"):
            if depth == MAX_DEPTH + 1 and skip_from >= 0:
                parts += [text[position:skip_from], "null"]
                position, skip_from = match.end(), -1
                if not notes:
                    notes.append(f"values nested deeper than {MAX_DEPTH} levels removed")
            depth -= 1
        elif skip_from < 0 and "\\u" in piece:
            fixed = _fix_escapes(piece)
            if fixed != piece:
                parts += [text[position : match.start()], fixed]
                position = match.end()
                if "lone surrogates replaced with U+FFFD" not in notes:
                    notes.append("lone surrogates replaced with U+FFFD")
    parts.append(text[position:])
    return "".join(parts), notes


def _fix_escapes(token: str) -> str:
    try:
        value = orjson.loads(token)
    except orjson.JSONDecodeError:
        import json  # stdlib accepts lone surrogates; only on this rare path

        try:
            value = json.loads(token)
        except ValueError:
            return '""'
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return orjson.dumps(value).decode()
    return token


def _clean(value: str | None) -> str | None:
    # Header values are text already; lone surrogates would make the config unserializable.
    if not isinstance(value, str) or value.isascii():
        return value if isinstance(value, str) else None
    return value.encode(errors="replace").decode()


def _minimal_event(received_at: float) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex,
        "level": "error",
        "platform": "other",
        "timestamp": received_at,
        "received": received_at,
    }


def _error(reason: str, kind: str = "invalid_data") -> dict[str, Any]:
    return {"type": kind, "reason": reason[:500]}


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__


# --- time -------------------------------------------------------------------------------


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _parse_datetime(value: Any) -> float | None:
    """An RFC 3339 date-time with an offset (as Relay reads ``sent_at``) in Unix seconds."""
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.timestamp() if parsed.tzinfo is not None else None
    except (ValueError, OverflowError, OSError):
        return None


def _clock_drift(sent: float | None, received_at: float) -> float:
    """Whole seconds to add to the client's timestamps; 0 below Relay's 55 minutes."""
    if sent is None or not 0 < sent < 32_503_680_000:  # before 1970 or after 3000: hostile
        return 0
    drift = float(int(received_at - sent))  # chrono's num_seconds truncates toward zero
    return drift if abs(drift) >= MINIMUM_CLOCK_DRIFT else 0


def _shift_timestamps(
    event: dict[str, Any], drift: float, sent: float | None, received: float
) -> None:
    _shift(event, ("timestamp", "start_timestamp", "received"), drift)
    breadcrumbs = event.get("breadcrumbs")
    if isinstance(breadcrumbs, dict):
        for crumb in breadcrumbs.get("values") or ():
            _shift(crumb, ("timestamp",), drift)
    for span in event.get("spans") or ():
        _shift(span, ("timestamp", "start_timestamp"), drift)
    errors = event.setdefault("errors", [])
    if not isinstance(errors, list):
        return
    for error in errors:
        if isinstance(error, dict) and error.get("type") in ("future_timestamp", "past_timestamp"):
            error["server_time"] = _iso(received)
            sdk_time = _parse_datetime(error.get("sdk_time"))
            if sdk_time is not None:
                error["sdk_time"] = _iso(sdk_time + drift)
    if sent is not None:
        drift_error = {"sdk_time": _iso(sent), "server_time": _iso(received)}
        errors.insert(0, {"type": "clock_drift", "name": "timestamp", **drift_error})


def _shift(item: Any, keys: tuple[str, ...], drift: float) -> None:
    if not isinstance(item, dict):
        return
    for key in keys:
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            item[key] = value + drift


# --- IP addresses (Relay's normalize_ip_addresses, which the binding skips) ---------------


def _valid_ip(value: object) -> str | None:
    """An IP address in canonical form; None for anything else (Relay reads only strings:
    a number or object under ``REMOTE_ADDR`` is no address)."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) > MAX_CACHED_IP:
        return _parsed_ip(value)
    return _cached_ip(value)


@functools.lru_cache(maxsize=1024)
def _cached_ip(value: str) -> str | None:
    # A digest sees the same few addresses over and over; parsing one costs ≈ 8 µs.
    return _parsed_ip(value)


def _parsed_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _resolve_ips(event: dict[str, Any], client_ip: str | None) -> None:
    user = event.get("user") if isinstance(event.get("user"), dict) else None
    request = event.get("request") if isinstance(event.get("request"), dict) else None
    env = request.get("env") if request and isinstance(request.get("env"), dict) else None
    settings = (
        (event.get("sdk") or {}).get("settings") if isinstance(event.get("sdk"), dict) else None
    )
    infer = settings.get("infer_ip") if isinstance(settings, dict) else None
    if env is not None and env.get("REMOTE_ADDR") == _AUTO:
        if client_ip and infer != "never":
            env["REMOTE_ADDR"] = client_ip
        else:
            del env["REMOTE_ADDR"]
    if user is not None and user.get("ip_address") == _AUTO:
        if client_ip and infer != "never":
            user["ip_address"] = client_ip
        else:
            del user["ip_address"]
    has_ip = bool(user and user.get("ip_address"))
    http_ip = _valid_ip(env.get("REMOTE_ADDR")) if env is not None else None
    inferred: str | None = None
    if not has_ip and http_ip:
        inferred = http_ip
    elif not has_ip and client_ip:
        legacy = infer not in ("auto", "never") and event.get("platform") in (
            "javascript",
            "cocoa",
            "objc",
        )
        if infer == "auto" or legacy:
            inferred = client_ip
    if inferred is not None:
        user = event.setdefault("user", {}) if user is None else user
        user["ip_address"] = inferred
    if user is not None:
        _set_sentry_user(user)
        if not user:
            del event["user"]


def _set_sentry_user(user: dict[str, Any]) -> None:
    for key, prefix in (
        ("id", "id"),
        ("username", "username"),
        ("email", "email"),
        ("ip_address", "ip"),
    ):
        value = user.get(key)
        if value not in (None, ""):
            user["sentry_user"] = f"{prefix}:{value}"
            return
    user.pop("sentry_user", None)
