"""Data scrubbing (Sentry's "Security & Privacy" settings), equal in output to Relay's.

A project's scrubbing settings are compiled once (:func:`compile_scrubber`, cached) into a
:class:`Scrubber` whose :meth:`Scrubber.scrub` rewrites a normalized event in place: values are
removed, replaced, masked or hashed, and every change is annotated in the event's ``_meta``
the way Relay annotates it (``{"": {"rem": [["@password:filter", "s", 0, 10]], "len": 6}}``),
so the UI can tell what was scrubbed and why.

Two sources of rules, applied in Relay's order:

1. *Advanced data scrubbing* (``relayPiiConfig``): the project's own rules and selectors.
2. The legacy options (:class:`ScrubbingConfig` booleans and field lists), converted to rules
   exactly as Relay's ``convert_datascrubbing_config`` does: ``@common:filter`` on every
   string, number and container except a few "safe by design" paths, a replace-only subset on
   ``logentry.formatted``, sensitive cookie names, IP addresses, extra sensitive keys.

Relay is the specification: the differential tests run Relay's own scrubber (the
``sentry_relay`` binding) on the same events and compare everything, ``_meta`` included.

Differences from Relay
----------------------
Each is deliberate; the differential tests pin the only one their corpus can show.

* **Sensitive fields are case-insensitive.** Relay builds the "Additional Sensitive Fields"
  rule case-insensitively; the Python binding's ``convert_datascrubbing_config`` returns it
  as JSON, which loses that flag, so ``pii_strip_event`` on the converted config would be
  case-sensitive. We follow Relay as it runs in production (and Sentry's documentation).
* **Stricter advanced rules.** A rule name that is not defined, an unknown rule type or
  redaction method, or an invalid custom regex (even an unused one) is an error here; Relay
  silently ignores the first ones and only checks regexes it applies. Regex features Python
  cannot run with Relay's semantics (``\\p{..}`` classes, class set operations, the
  ``U``/``R`` flags, ``-u``) are refused too, as are ``replaceGroups`` combining group 0 with
  others (Relay fails on those at run time).
* **Original values are scrubbed once.** When normalization kept an invalid value in
  ``_meta`` (``"val"``), Relay runs the rules over it once per wrapper type of the field (up
  to three times); we run them once. Only non-idempotent rules (hashing) can tell.
* **Schema snapshot.** Which fields may hold PII comes from Relay's schema as of
  ``sentry-relay`` 0.10.1: the core structs by hand (:mod:`.scrubbing_schema`), the typed
  contexts and the span data conventions as tables asked of Relay itself
  (:mod:`.scrubbing_tables`). A span data attribute a newer Relay learns counts as PII here
  until the table is refreshed, as Relay does for names it does not know.
* **Regex flavour.** Rust's ``\\w``/``\\b`` and case folding are Unicode-wide like Python's,
  but the two Unicode databases differ on rare characters (combining marks are word
  characters only in Rust).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from spyglass.digest.scrubbing_engine import Engine
from spyglass.digest.scrubbing_match import Matcher, compile_selector, uses_indices
from spyglass.digest.scrubbing_regex import compile_rust
from spyglass.digest.scrubbing_rules import (
    SENSITIVE_COOKIES,
    CompiledRule,
    RuleSpec,
    collect_rules,
    literal_hint,
    parse_rule_spec,
    replace,
)
from spyglass.digest.scrubbing_schema import EVENT
from spyglass.digest.scrubbing_selectors import (
    KEY,
    And,
    Not,
    Path,
    Selector,
    SelectorError,
    parse_selector,
    selector_sort_key,
)

__all__ = [
    "Scrubber",
    "ScrubbingConfig",
    "compile_scrubber",
    "validate_advanced_rules",
]


@dataclass(frozen=True)
class ScrubbingConfig:
    scrub_data: bool = True  # Sentry's "Data Scrubber" (dataScrubber)
    scrub_defaults: bool = True  # "Use Default Scrubbers" (dataScrubberDefaults)
    scrub_ip_addresses: bool = False  # "Prevent Storing of IP Addresses" (scrubIPAddresses)
    sensitive_fields: tuple[str, ...] = ()  # "Additional Sensitive Fields" (sensitiveFields)
    safe_fields: tuple[str, ...] = ()  # "Safe Fields" (safeFields)
    advanced_rules: str | None = None  # relayPiiConfig JSON text (rules + applications)


class Scrubber:
    """Compiled scrubbing settings. Use :func:`compile_scrubber` to get one."""

    def __init__(self, engines: list[Engine]) -> None:
        self._engines = engines

    @property
    def is_noop(self) -> bool:
        return not self._engines

    def scrub(self, event: dict[str, Any]) -> dict[str, Any]:
        """Scrubs a normalized event **in place** and returns it (with ``_meta`` remarks)."""
        for engine in self._engines:
            engine.scrub(event)
        return event


# --- legacy options (Relay's convert.rs) -------------------------------------------------------

# Paths the legacy scrubber never touches (they get the replace-only rules below instead).
_DATASCRUBBER_IGNORE = (
    "debug_meta.** | $frame.filename | $frame.abs_path | $logentry.formatted | $error.value"
    " | $request.headers.user-agent"
)
_KNOWN_IP_FIELDS = (
    "$request.env.REMOTE_ADDR | $user.ip_address | $sdk.client_ip"
    " | $span.sentry_tags.'user.ip' | attributes.'client.address'"
)
_GEN_AI = (
    "gen_ai.input.messages",
    "gen_ai.prompt",
    "gen_ai.request.messages",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.input",
    "gen_ai.tool.call.result",
    "gen_ai.tool.output",
    "gen_ai.output.messages",
    "gen_ai.response.tool_calls",
    "gen_ai.response.text",
    "gen_ai.response.object",
    "gen_ai.tool.definitions",
    "gen_ai.request.available_tools",
    "gen_ai.tool.name",
    "mcp.prompt.result",
    "mcp.tool.result.content",
)
_REPLACE_ONLY = " || ".join(
    ["$logentry.formatted", "$log.body"]
    + [part for name in _GEN_AI for part in (f"$span.data.'{name}'", f"attributes.'{name}'.value")]
)
_REPLACE_ONLY_RULES = (
    "@email:replace",
    "@creditcard:replace",
    "@iban:replace",
    "@usssn:replace",
    "@bearer:replace",
)
_COOKIE_SELECTOR = " || ".join(
    [
        part
        for name in SENSITIVE_COOKIES
        for part in (
            f"*.cookies.{name}",
            f"*.'http.request.header.cookie.{name}'",
            f"*.'http.response.header.set-cookie.{name}'",
        )
    ]
)
_COOKIE_HEADER_SELECTOR = (
    "*.'http.request.header.cookie'.* || *.'http.request.header.cookie'"
    " || *.'http.response.header.set-cookie'.* || *.'http.response.header.set-cookie'"
)


def _escape_rust_regex(text: str) -> str:
    """Rust's ``regex::escape``: meta characters get a backslash."""
    return "".join("\\" + c if c in "\\.+*?()|[]{}^$#&-~" else c for c in text)


Applications = list[tuple[Selector, list[str], str]]


def _legacy_applications(config: ScrubbingConfig) -> tuple[dict[str, RuleSpec], Applications]:
    rules: dict[str, RuleSpec] = {}
    applications: Applications = []
    applied: list[str] = []
    if config.scrub_data and config.scrub_defaults:
        applied.append("@common:filter")
        applications.append(
            (parse_selector(_COOKIE_SELECTOR), ["@anything:filter"], "sensitive cookies")
        )
        applications.append(
            (parse_selector(_REPLACE_ONLY), list(_REPLACE_ONLY_RULES), "replace-only fields")
        )
        applications.append(
            (parse_selector(_COOKIE_HEADER_SELECTOR), ["@cookies:filter"], "cookie headers")
        )
    if config.scrub_ip_addresses:
        applications.append(
            (parse_selector(_KNOWN_IP_FIELDS), ["@anything:remove"], "IP address fields")
        )
        applied.append("@ip:replace")
    if config.scrub_data:
        fields = [f.strip() for f in config.sensitive_fields if f.strip()]
        if fields:
            regex = compile_rust(
                "|".join(_escape_rust_regex(f) for f in fields), case_insensitive=True
            )
            literal_hint(regex, fields)
            rules["strip-fields"] = RuleSpec("redact_pair", replace(), pattern=regex)
            applied.append("strip-fields")
    if applied:
        conjunctions: list[Selector] = [
            parse_selector("$string || $number || $array || $object"),
            Not(parse_selector(_DATASCRUBBER_IGNORE)),
        ]
        for field in config.safe_fields:
            field = field.strip()
            if not field:
                continue
            try:
                spec = parse_selector(field, legacy=False)
            except SelectorError:
                # Like Relay: a safe field that is not a selector is a plain key.
                spec = Path(((KEY, field),))
            conjunctions.append(Not(spec))
        applications.append((And(tuple(conjunctions)), applied, "data scrubber"))
    return rules, applications


# --- advanced rules (relayPiiConfig) -----------------------------------------------------------


def _parse_advanced(text: str) -> tuple[dict[str, RuleSpec], Applications]:
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"advanced data scrubbing rules are not valid JSON: {exc}") from None
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        raise ValueError("advanced data scrubbing rules must be a JSON object")
    raw_rules = raw.get("rules") or {}
    raw_apps = raw.get("applications") or {}
    if not isinstance(raw_rules, dict):
        raise ValueError("'rules' must be an object of named rules")
    if not isinstance(raw_apps, dict):
        raise ValueError("'applications' must be an object of selector: [rule names]")
    rules = {str(name): parse_rule_spec(str(name), spec) for name, spec in raw_rules.items()}
    applications: Applications = []
    for selector_text, names in raw_apps.items():
        try:
            selector = parse_selector(selector_text)
        except SelectorError as exc:
            raise ValueError(str(exc)) from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"the rules for {selector_text!r} must be a list of rule names")
        applications.append((selector, names, selector_text))
    return rules, applications


def _compile(rules: dict[str, RuleSpec], applications: Applications) -> Engine | None:
    # Relay keeps applications in a map ordered by selector; equal selectors: the last wins.
    by_selector: dict[Selector, tuple[list[str], str]] = {}
    for selector, names, text in applications:
        by_selector[selector] = (names, text)
    ordered = sorted(by_selector.items(), key=lambda item: selector_sort_key(item[0]))
    compiled: list[tuple[Matcher, list[CompiledRule]]] = []
    for selector, (names, text) in ordered:

        def missing(name: str, text: str = text) -> None:
            raise ValueError(f"rule {name!r} is not defined (used by selector {text!r})")

        leafs = collect_rules(names, rules, missing)
        if leafs:
            compiled.append((compile_selector(selector), leafs))
    if not compiled:
        return None
    index_sensitive = any(uses_indices(selector) for selector in by_selector)
    return Engine(compiled, index_sensitive=index_sensitive, root=EVENT)


@functools.lru_cache(maxsize=256)
def compile_scrubber(config: ScrubbingConfig) -> Scrubber:
    """Compiles a project's scrubbing settings (cached per settings); raises ValueError for
    invalid advanced rules."""
    engines: list[Engine] = []
    if config.advanced_rules and config.advanced_rules.strip():
        engine = _compile(*_parse_advanced(config.advanced_rules))
        if engine is not None:
            engines.append(engine)
    engine = _compile(*_legacy_applications(config))
    if engine is not None:
        engines.append(engine)
    return Scrubber(engines)


def validate_advanced_rules(text: str) -> None:
    """Checks a ``relayPiiConfig`` text; raises ValueError with a readable message."""
    _compile(*_parse_advanced(text))
