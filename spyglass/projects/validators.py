"""Validators for a project's digest settings, run by every save path that cleans the model
(`full_clean()`, model forms, the admin, `spyglass project rules`).

The digest compiles these settings on its own and falls back to defaults when they fail (see
``spyglass.digest.config``); these checks make the failure the writer's, with a message that
points at the problem, instead of a warning in a worker's log.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from spyglass.grouping.rules_syntax import RuleSyntaxError

# spyglass.grouping (≈ 6 MB once its built-in rules are compiled) is imported by the
# validators when they run, not with the models: web processes load the models at start.

_QUOTED_LINE_MAX = 200


def rules_error_message(text: str, error: RuleSyntaxError) -> str:
    """`line 3, column 12: expected '->' … near "…", in: <the line as written>` (leading
    spaces kept, so that the column counts from the quote's start)."""
    lines = text.splitlines()
    quoted = lines[error.line - 1].rstrip() if 0 < error.line <= len(lines) else ""
    if len(quoted) > _QUOTED_LINE_MAX:
        quoted = quoted[: _QUOTED_LINE_MAX - 1] + "…"
    return f"{error}, in: {quoted}" if quoted else str(error)


def _validate_rules(text: str, parse: Callable[[str], object]) -> None:
    from spyglass.grouping.rules_syntax import RuleSyntaxError

    try:
        parse(text)
    except RuleSyntaxError as exc:
        raise ValidationError(rules_error_message(text, exc), code="invalid_rules") from None


def validate_fingerprint_rules(text: str) -> None:
    """Server-side fingerprint rules in Sentry's syntax."""
    from spyglass.grouping import parse_fingerprint_rules

    _validate_rules(text, parse_fingerprint_rules)


def validate_stacktrace_rules(text: str) -> None:
    """Stack trace rules (Sentry's grouping enhancements)."""
    from spyglass.grouping import parse_enhancements

    _validate_rules(text, parse_enhancements)


def validate_grouping_config(value: str) -> None:
    from spyglass.grouping.config import CONFIGS

    if value not in CONFIGS:
        known = ", ".join(sorted(CONFIGS))
        raise ValidationError(
            f"unknown grouping config {value!r} (known: {known})", code="unknown_config"
        )


# --- the JSON settings ---------------------------------------------------------------------
# The keys the digest reads (spyglass.digest.scrubbing.ScrubbingConfig and
# spyglass.digest.filters.FilterSettings; a test keeps these tables equal to them). The digest
# ignores unknown keys, so a typo would silently leave a setting at its default.

BOOL, STRINGS, JSON_TEXT = "true or false", "a list of strings", "a JSON text or null"

SCRUBBING_KEYS: dict[str, str] = {
    "scrub_data": BOOL,
    "scrub_defaults": BOOL,
    "scrub_ip_addresses": BOOL,
    "sensitive_fields": STRINGS,
    "safe_fields": STRINGS,
    "advanced_rules": JSON_TEXT,
}
FILTER_KEYS: dict[str, str] = {
    "error_messages": STRINGS,
    "releases": STRINGS,
    "health_check": BOOL,
    "localhost": BOOL,
    "browser_extensions": BOOL,
    "web_crawlers": BOOL,
    "legacy_browsers": BOOL,
    "legacy_browser_options": STRINGS,
    "blacklisted_ips": STRINGS,
    "csp_ignored_sources": STRINGS,
    "csp_ignored_sources_defaults": BOOL,
    "react_hydration_errors": BOOL,
    "chunk_load_errors": BOOL,
}


def _kind_problem(kind: str, value: Any) -> bool:
    if kind == BOOL:
        return not isinstance(value, bool)
    if kind == STRINGS:
        return not isinstance(value, list) or not all(isinstance(v, str) for v in value)
    return value is not None and not isinstance(value, str)


def _check_settings(value: Any, keys: Mapping[str, str]) -> list[str]:
    if not isinstance(value, dict):
        return ["must be a JSON object of settings"]
    problems = []
    for key, item in value.items():
        kind = keys.get(key)
        if kind is None:
            problems.append(f"unknown setting {key!r} (known: {', '.join(keys)})")
        elif _kind_problem(kind, item):
            problems.append(f"{key!r} must be {kind}, not {json.dumps(item)[:80]}")
    return problems


def _advanced_rules_problem(text: str | None) -> str | None:
    """The shape of `relayPiiConfig`; the digest checks the rules themselves when it compiles
    them (its scrubber is not importable from here)."""
    if text is None or not text.strip():
        return None
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"'advanced_rules' is not valid JSON: {exc}"
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return "'advanced_rules' must be a JSON object with 'rules' and 'applications'"
    for part in ("rules", "applications"):
        if not isinstance(raw.get(part) or {}, dict):
            return f"'advanced_rules': {part!r} must be a JSON object"
    return None


def validate_data_scrubbing(value: Any) -> None:
    problems = _check_settings(value, SCRUBBING_KEYS)
    if not problems and (problem := _advanced_rules_problem(value.get("advanced_rules"))):
        problems.append(problem)
    if problems:
        raise ValidationError([ValidationError(p, code="invalid_setting") for p in problems])


def validate_inbound_filters(value: Any) -> None:
    problems = _check_settings(value, FILTER_KEYS)
    if not problems:
        for entry in value.get("blacklisted_ips", []):
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                problems.append(f"'blacklisted_ips': {entry!r} is not an IP address or network")
    if problems:
        raise ValidationError([ValidationError(p, code="invalid_setting") for p in problems])
