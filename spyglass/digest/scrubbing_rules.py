"""PII rules: Relay's built-in rules, rule configs (``relayPiiConfig``), and applying a rule.

A rule is a rule *type* (what to look for: an IP, a credit card, a key name, a custom regex,
...) plus a *redaction* (what to do with it: remove, replace, mask, hash). Rules are applied to
strings in "chunks": the parts of the string already redacted by earlier rules (or by Relay's
normalization, e.g. ``!limit`` trimming) are opaque to later rules, and every redacted part is
reported as a remark in ``_meta`` with its byte range in the new string, exactly as Relay does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from spyglass.digest.scrubbing_regex import RegexError, compile_rust, rust_finditer

__all__ = [
    "BUILTIN_RULES",
    "KEY",
    "KEY_VALUE",
    "VALUE",
    "Chunk",
    "CompiledRule",
    "Redaction",
    "RuleSpec",
    "collect_rules",
    "parse_rule_spec",
]

# How a regex of a rule is used (Relay's PatternType).
KEY_VALUE = 0  # the key decides for the whole value; otherwise the regex runs on the value
KEY = 1  # only the key decides
VALUE = 2  # the regex runs on the value

# Relay's remark types, as serialized in _meta.
REMOVED = "x"
SUBSTITUTED = "s"
MASKED = "m"
PSEUDONYMIZED = "p"

# Replace the whole value (Relay's ReplaceBehavior::Value) rather than match groups.
WHOLE_VALUE: tuple[int, ...] = (-1,)

SENSITIVE_COOKIES = (
    "sentrysid",
    "sudo",
    "su",
    "session",
    "__session",
    "sessionid",
    "user_session",
    "symfony",
    "phpsessid",
    "fasthttpsessionid",
    "mysession",
    "irissessionid",
    "_vercel_jwt",
    "csrf",
    "xsrf",
    "_xsrf",
    "_csrf",
    "csrf-token",
    "csrf_token",
    "xsrf-token",
    "xsrf_token",
    "fastcsrf",
    "_iris_csrf",
)


def _rx(pattern: str) -> re.Pattern[str]:
    """A built-in pattern, written in Rust syntax like Relay's ``regexes.rs``."""
    return compile_rust(pattern)


# The built-in patterns (facts from Relay's regexes.rs, verified against Relay's output).
_IPV4 = r"(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_V6 = r"[0-9a-fA-F]{1,4}"
_IPV4_FULL = rf"{_IPV4}\.{_IPV4}\.{_IPV4}\.{_IPV4}"
PATTERNS: dict[str, re.Pattern[str]] = {
    "anything": _rx(r".*"),
    "imei": _rx(r"\b(\d{2}-?\d{6}-?\d{6}-?\d{1,2})\b"),
    "mac": _rx(r"\b([[:xdigit:]]{2}[:-]){5}[[:xdigit:]]{2}\b"),
    "uuid": _rx(r"(?i)\b[a-z0-9]{8}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{4}-?[a-z0-9]{12}\b"),
    "email": _rx(
        r"\b[a-zA-Z0-9.!\#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*\.[a-zA-Z]{2,}\b"
    ),
    "iban": _rx(
        r"\b(AT|AD|AE|AL|AZ|BA|BE|BG|BH|BR|BY|CH|CR|CY|CZ|DE|DK|DO|EE|EG|ES|FI|FO|FR|GB|GE|GI|GL"
        r"|GR|GT|HR|HU|IE|IL|IQ|IS|IT|JO|KW|KZ|LB|LC|LI|LT|LU|LV|LY|MC|MD|ME|MK|MR|MT|MU|NL|NO|PK"
        r"|PL|PS|PT|QA|RO|RU|RS|SA|SC|SE|SI|SK|SM|ST|SV|TL|TN|TR|UA|VA|VG|XK|DZ|AO|BJ|BF|BI|CV|CM"
        r"|CF|TD|KM|CG|CI|DJ|GQ|GA|GW|HN|IR|MG|ML|MA|MZ|NI|NE|SN|TG)\d{2}[a-zA-Z0-9]{11,29}\b"
    ),
    "ipv4": _rx(rf"\b{_IPV4_FULL}\b"),
    "ipv6": _rx(
        r"(?i)(?:[\s]|[[:punct:]]|^)("
        rf"({_V6}:){{7}}{_V6}|"
        rf"({_V6}:){{1,7}}:|"
        rf"({_V6}:){{1,6}}::{_V6}|"
        rf"({_V6}:){{1,5}}:(:{_V6}){{1,2}}|"
        rf"({_V6}:){{1,4}}:(:{_V6}){{1,3}}|"
        rf"({_V6}:){{1,3}}:(:{_V6}){{1,4}}|"
        rf"({_V6}:){{1,2}}:(:{_V6}){{1,5}}|"
        rf"{_V6}:((:{_V6}){{1,6}})|"
        rf":((:{_V6}){{1,7}}|:)|"
        rf"fe80:(:{_V6}){{0,4}}%[0-9a-zA-Z]{{1,}}"
        rf"::(ffff(:0{{1,4}}){{0,1}}:){{0,1}}{_IPV4_FULL}|"
        rf"({_V6}:){{1,4}}:{_IPV4_FULL}"
        r")([\s]|[[:punct:]]|$)"
    ),
    "creditcard": _rx(
        r"\b((?:3[47]\d|4\d{3}|5[1-5]\d\d|65\d\d|6011)([-\s]?\d){12})\b",
    ),
    "userpath": _rx(
        r"(?i)(?:(?:\b(?:[a-zA-Z]:[\\/])?(?:users|home|documentsandsettings|[^/\\]+[/\\]profiles)"
        r"[\\/])|(?:/(?:home|users)/))([^/\\\r\n\x00]+)"
    ),
    "pemkey": _rx(
        r"(?s)(?:-----BEGIN[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----[\t ]*\r?\n?)(.+?)"
        r"(?:\r?\n?-----END[A-Z ]+(?:PRIVATE|PUBLIC) KEY-----)"
    ),
    "url_auth": _rx(r"\b(?:(?:[a-z0-9+-]+:)?//([a-zA-Z0-9%_.-]+(?::[a-zA-Z0-9%_.-]+)?))@"),
    "us_ssn": _rx(r"\b([0-9]{3}-[0-9]{2}-[0-9]{4})\b"),
    "bearer": _rx(r"(?i)\b(Bearer\s+)([^\s]+)"),
    "token_key": _rx(r"(?i)(token)"),
    "password_key": _rx(
        r"(?i)(password|secret|passwd|api[-_]key|apikey|auth|credentials|mysql_pwd|privatekey"
        r"|private[-_]key|token[^\s]*[:=]|^otp$|^two[-_]factor$)"
    ),
    "cookies": _rx(
        r"(?i)\b(?:" + "|".join(re.escape(name) for name in SENSITIVE_COOKIES) + r")=([^;]+)"
    ),
    "urlauth_legacy": _rx(r"\b((?:[a-z0-9]+:)?//[a-zA-Z0-9%_.-]+:)([a-zA-Z0-9%_.-]+)@"),
}

Matcher = tuple[int, re.Pattern[str], tuple[int, ...]]


@dataclass(frozen=True)
class Hint:
    """A cheap necessary condition for a regex to match: some literal occurs (in the
    case-folded text for ``folded``), or a simple regex matches. Scanning every value with the
    full patterns is what makes a Python scrubber slow; most values fail all hints."""

    folded: tuple[str, ...] = ()
    raw: tuple[str, ...] = ()
    regex: str | None = None
    # The pattern matches no text shorter than this (in characters): the regex hint is not
    # searched for in shorter text. Most values are short, and searching costs more than
    # everything else a hint does.
    min_len: int = 0


# Hints by Python pattern text. Each is a superset of its pattern's matches (case folding
# included: ``(?i)`` in Rust is simple case folding, which str.casefold() covers).
HINTS: dict[str, Hint] = {
    PATTERNS["imei"].pattern: Hint(regex=r"\d\d", min_len=15),
    PATTERNS["mac"].pattern: Hint(regex=r"[0-9A-Fa-f]{2}[:-][0-9A-Fa-f]{2}", min_len=17),
    PATTERNS["uuid"].pattern: Hint(regex=r"(?i:[a-z0-9]{8})", min_len=32),
    PATTERNS["email"].pattern: Hint(raw=("@",)),
    PATTERNS["iban"].pattern: Hint(regex=r"[A-Z][A-Z]\d\d", min_len=15),
    PATTERNS["ipv4"].pattern: Hint(regex=r"[0-9]\.[0-9]", min_len=7),
    PATTERNS["ipv6"].pattern: Hint(raw=("::",), regex=r"[0-9a-fA-F]:", min_len=2),
    # The card pattern starts with three or four digits in a row, then twelve more, each
    # maybe after a dash or space (written out: a repeat costs more to search for).
    PATTERNS["creditcard"].pattern: Hint(regex=r"\d\d\d" + r"[-\s]?\d" * 12, min_len=15),
    PATTERNS["userpath"].pattern: Hint(
        folded=("users", "home", "documentsandsettings", "profiles")
    ),
    PATTERNS["pemkey"].pattern: Hint(raw=("-----BEGIN",)),
    PATTERNS["url_auth"].pattern: Hint(raw=("@",)),
    PATTERNS["urlauth_legacy"].pattern: Hint(raw=("@",)),
    # (starts with a literal: found quicker than a digit)
    PATTERNS["us_ssn"].pattern: Hint(regex=r"-[0-9]{2}-[0-9]{4}", min_len=11),
    PATTERNS["bearer"].pattern: Hint(folded=("bearer",)),
    PATTERNS["token_key"].pattern: Hint(folded=("token",)),
    PATTERNS["password_key"].pattern: Hint(
        folded=(
            "password",
            "secret",
            "passwd",
            "api-key",
            "api_key",
            "apikey",
            "auth",
            "credentials",
            "mysql_pwd",
            "privatekey",
            "private-key",
            "private_key",
            "token",
            "otp",
            "factor",
        )
    ),
    PATTERNS["cookies"].pattern: Hint(raw=("=",)),
}


def literal_hint(pattern: re.Pattern[str], literals: Sequence[str]) -> None:
    """Registers the hint of a case-insensitive alternation of literals (sensitive fields)."""
    if all(lit.isascii() for lit in literals):
        HINTS[pattern.pattern] = Hint(folded=tuple(lit.casefold() for lit in literals))


# rule type -> how its regexes are used (Relay's get_regex_for_rule_type)
_TYPE_MATCHERS: dict[str, tuple[Matcher, ...]] = {
    "anything": ((VALUE, PATTERNS["anything"], (0,)),),
    "imei": ((VALUE, PATTERNS["imei"], (0,)),),
    "mac": ((VALUE, PATTERNS["mac"], (0,)),),
    "uuid": ((VALUE, PATTERNS["uuid"], (0,)),),
    "email": ((VALUE, PATTERNS["email"], (0,)),),
    "iban": ((VALUE, PATTERNS["iban"], (0,)),),
    "ip": ((VALUE, PATTERNS["ipv4"], (0,)), (VALUE, PATTERNS["ipv6"], (1,))),
    "creditcard": ((VALUE, PATTERNS["creditcard"], (0,)),),
    "pemkey": ((VALUE, PATTERNS["pemkey"], (1,)),),
    "url_auth": ((VALUE, PATTERNS["url_auth"], (1,)),),
    "us_ssn": ((VALUE, PATTERNS["us_ssn"], (0,)),),
    "userpath": ((VALUE, PATTERNS["userpath"], (1,)),),
    "bearer": ((VALUE, PATTERNS["bearer"], (0,)),),
    "cookies": ((VALUE, PATTERNS["cookies"], (1,)),),
    "password": (
        # Bearer tokens used to be part of the password rule and still are.
        (VALUE, PATTERNS["bearer"], (0,)),
        (KEY, PATTERNS["token_key"], WHOLE_VALUE),
        (KEY_VALUE, PATTERNS["password_key"], WHOLE_VALUE),
    ),
}

LEAF_TYPES = frozenset(_TYPE_MATCHERS) | {"pattern", "redact_pair"}
RULE_TYPES = LEAF_TYPES | {"multiple", "alias", "unknown"}
# JSON spellings Relay accepts for rule types
_TYPE_ALIASES = {"redactPair": "redact_pair"}


@dataclass(frozen=True)
class Redaction:
    method: str  # "default" | "remove" | "replace" | "mask" | "hash"
    text: str = "[Filtered]"

    @property
    def chunked(self) -> bool:
        """Whether the rule rewrites matches inside a string (rather than removing values)."""
        return self.method not in ("default", "remove")


DEFAULT = Redaction("default")
REMOVE = Redaction("remove")
MASK = Redaction("mask")
HASH = Redaction("hash")


def replace(text: str = "[Filtered]") -> Redaction:
    return Redaction("replace", text)


@dataclass(frozen=True)
class RuleSpec:
    type: str
    redaction: Redaction = DEFAULT
    pattern: re.Pattern[str] | None = None
    replace_groups: tuple[int, ...] | None = (0,)
    rules: tuple[str, ...] = ()
    hide_inner: bool = False


def _builtin_rules() -> dict[str, RuleSpec]:
    rules: dict[str, RuleSpec] = {}

    def alias(target: str) -> RuleSpec:
        return RuleSpec("alias", rules=(target,), hide_inner=True)

    rules["@common"] = RuleSpec(
        "multiple",
        rules=(
            "@iban",
            "@ip",
            "@email",
            "@creditcard",
            "@pemkey",
            "@urlauth",
            "@userpath",
            "@password",
            "@usssn",
            "@bearer",
        ),
    )
    # Sentry's legacy data scrubber. ("@userpath:filter" does not exist in Relay: skipped.)
    rules["@common:filter"] = RuleSpec(
        "multiple",
        rules=(
            "@creditcard:filter",
            "@iban:filter",
            "@pemkey:filter",
            "@urlauth:legacy",
            "@userpath:filter",
            "@password:filter",
            "@usssn:filter",
            "@bearer:filter",
        ),
    )
    rules["@anything"] = alias("@anything:replace")
    rules["@anything:remove"] = RuleSpec("anything", REMOVE)
    rules["@anything:replace"] = RuleSpec("anything", replace())
    rules["@anything:hash"] = RuleSpec("anything", HASH)
    rules["@anything:mask"] = RuleSpec("anything", MASK)
    rules["@anything:filter"] = RuleSpec("anything", replace())

    def family(
        name: str,
        kind: str,
        text: str,
        default: str,
        filter_: bool = False,
        mask: Redaction = MASK,
    ) -> None:
        rules[f"@{name}"] = alias(f"@{name}:{default}")
        rules[f"@{name}:replace"] = RuleSpec(kind, replace(text))
        rules[f"@{name}:hash"] = RuleSpec(kind, HASH)
        rules[f"@{name}:mask"] = RuleSpec(kind, mask)
        rules[f"@{name}:remove"] = RuleSpec(kind, REMOVE)
        if filter_:
            rules[f"@{name}:filter"] = RuleSpec(kind, replace())

    family("ip", "ip", "[ip]", "replace")
    # Relay's @imei:mask hashes (a quirk kept for equal output).
    family("imei", "imei", "[imei]", "replace", mask=HASH)
    family("mac", "mac", "[mac]", "mask")
    family("uuid", "uuid", "[uuid]", "mask")
    family("email", "email", "[email]", "replace")
    family("iban", "iban", "[iban]", "replace", filter_=True)
    family("creditcard", "creditcard", "[creditcard]", "replace", filter_=True)
    family("pemkey", "pemkey", "[pemkey]", "replace", filter_=True)
    family("urlauth", "url_auth", "[auth]", "replace")
    family("usssn", "us_ssn", "[us-ssn]", "mask", filter_=True)
    family("userpath", "userpath", "[user]", "replace")
    family("password", "password", "[password]", "remove", filter_=True)
    family("bearer", "bearer", "Bearer [token]", "replace", filter_=True)
    rules["@urlauth:legacy"] = RuleSpec(
        "pattern", replace(), pattern=PATTERNS["urlauth_legacy"], replace_groups=(2,)
    )
    rules["@cookies:filter"] = RuleSpec("cookies", replace())
    return rules


BUILTIN_RULES: dict[str, RuleSpec] = _builtin_rules()


def _parse_redaction(raw: Any, where: str) -> Redaction:
    if raw is None:
        return DEFAULT
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: 'redaction' must be an object")
    method = raw.get("method")
    if method in ("remove", "mask", "hash", "default"):
        return Redaction(method)
    if method == "replace":
        text = raw.get("text", "[Filtered]")
        if not isinstance(text, str):
            raise ValueError(f"{where}: the replacement 'text' must be a string")
        return replace(text)
    raise ValueError(
        f"{where}: unknown redaction method {method!r} (use remove, replace, mask or hash)"
    )


def parse_rule_spec(rule_id: str, raw: Any) -> RuleSpec:
    """One entry of a PII config's ``rules``; raises ValueError with a readable message."""
    where = f"rule {rule_id!r}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be an object")
    kind = raw.get("type")
    kind = _TYPE_ALIASES.get(kind, kind) if isinstance(kind, str) else kind
    if kind not in RULE_TYPES:
        raise ValueError(f"{where}: unknown rule type {kind!r}")
    redaction = _parse_redaction(raw.get("redaction"), where)
    if kind == "pattern":
        pattern = raw.get("pattern")
        if not isinstance(pattern, str):
            raise ValueError(f"{where}: 'pattern' must be a string")
        groups_raw = raw.get("replaceGroups", [0])
        if groups_raw is None:
            groups: tuple[int, ...] | None = None
        else:
            if not isinstance(groups_raw, list) or not all(
                isinstance(g, int) and not isinstance(g, bool) and 0 <= g <= 255 for g in groups_raw
            ):
                raise ValueError(f"{where}: 'replaceGroups' must be a list of group numbers")
            groups = tuple(sorted(set(groups_raw)))
        try:
            compiled = compile_rust(pattern)
        except RegexError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if groups and 0 in groups and len(groups) > 1:
            # Relay fails on overlapping replacements (group 0 contains every other group).
            raise ValueError(f"{where}: 'replaceGroups' cannot combine group 0 with others")
        return RuleSpec("pattern", redaction, pattern=compiled, replace_groups=groups)
    if kind == "redact_pair":
        key_pattern = raw.get("keyPattern")
        if not isinstance(key_pattern, str):
            raise ValueError(f"{where}: 'keyPattern' must be a string")
        try:
            compiled = compile_rust(key_pattern)
        except RegexError as exc:
            raise ValueError(f"{where}: {exc}") from None
        return RuleSpec("redact_pair", redaction, pattern=compiled)
    if kind in ("multiple", "alias"):
        hide_inner = raw.get("hideInner", False)
        if not isinstance(hide_inner, bool):
            raise ValueError(f"{where}: 'hideInner' must be true or false")
        if kind == "multiple":
            refs = raw.get("rules")
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                raise ValueError(f"{where}: 'rules' must be a list of rule names")
            return RuleSpec("multiple", redaction, rules=tuple(refs), hide_inner=hide_inner)
        ref = raw.get("rule")
        if not isinstance(ref, str):
            raise ValueError(f"{where}: 'rule' must be a rule name")
        return RuleSpec("alias", redaction, rules=(ref,), hide_inner=hide_inner)
    return RuleSpec(kind, redaction)


@dataclass
class CompiledRule:
    """A leaf rule as applied: Relay's RuleRef (``id`` orders and de-duplicates,
    ``origin`` is what remarks name)."""

    id: str
    origin: str
    type: str
    redaction: Redaction
    matchers: tuple[Matcher, ...] = field(default=())

    @property
    def is_anything(self) -> bool:
        return self.type == "anything"


def _matchers(spec: RuleSpec) -> tuple[Matcher, ...]:
    if spec.type == "pattern":
        assert spec.pattern is not None
        groups = spec.replace_groups if spec.replace_groups is not None else (0,)
        return ((VALUE, spec.pattern, groups),)
    if spec.type == "redact_pair":
        assert spec.pattern is not None
        return ((KEY_VALUE, spec.pattern, WHOLE_VALUE),)
    return _TYPE_MATCHERS.get(spec.type, ())


def collect_rules(
    rule_ids: Sequence[str],
    custom: dict[str, RuleSpec],
    on_missing: Callable[[str], None],
) -> list[CompiledRule]:
    """The leaf rules an application's rule list expands to, ordered like Relay's BTreeSet
    (by rule id), each id once."""
    collected: dict[str, CompiledRule] = {}

    def lookup(rule_id: str) -> RuleSpec | None:
        spec = custom.get(rule_id)
        if spec is None:
            spec = BUILTIN_RULES.get(rule_id)
        return spec

    def collect(rule_id: str, parent: CompiledRule | None, depth: int, builtin: bool) -> None:
        if depth > 64:
            raise ValueError(f"rule {rule_id!r} refers to itself")
        spec = lookup(rule_id)
        if spec is None:
            # Relay's own "@common:filter" names a rule that does not exist; only a user's
            # dangling reference is worth an error.
            if not builtin:
                on_missing(rule_id)
            return
        if rule_id in collected:
            return
        rule = CompiledRule(rule_id, rule_id, spec.type, spec.redaction)
        if parent is not None:
            rule.origin = parent.origin
            if parent.redaction.method != "default":
                rule.redaction = parent.redaction
        if spec.type in ("multiple", "alias"):
            inner_parent = rule if spec.hide_inner else None
            inner_builtin = rule_id not in custom and rule_id in BUILTIN_RULES
            for inner in spec.rules:
                collect(inner, inner_parent, depth + 1, inner_builtin)
            return
        if spec.type == "unknown":
            return
        rule.matchers = _matchers(spec)
        collected[rule_id] = rule

    for rule_id in rule_ids:
        collect(rule_id, None, 0, False)
    return [collected[k] for k in sorted(collected)]


# ---------------------------------------------------------------------------------------------
# Chunks: a string as text pieces and redacted pieces (Relay's processor::chunks).


@dataclass(slots=True)
class Chunk:
    text: str
    rule: str | None = None  # None: plain text
    kind: str = ""  # remark type of a redaction


def hash_value(text: str) -> str:
    return hmac.new(b"", text.encode("utf-8"), hashlib.sha1).hexdigest().upper()


def _replacement(rule: CompiledRule, matched: str) -> Chunk:
    method = rule.redaction.method
    if method == "mask":
        return Chunk("*" * len(matched), rule.origin, MASKED)
    if method == "hash":
        return Chunk(hash_value(matched), rule.origin, PSEUDONYMIZED)
    if method == "replace":
        return Chunk(rule.redaction.text, rule.origin, SUBSTITUTED)
    return Chunk("", rule.origin, REMOVED)


def apply_regex_to_chunks(
    chunks: list[Chunk],
    rule: CompiledRule,
    regex: re.Pattern[str],
    groups: tuple[int, ...],
) -> list[Chunk] | None:
    """Relay's apply_regex_to_chunks; None when the regex does not match."""
    parts: list[str] = []
    has_text = False
    for chunk in chunks:
        if chunk.rule is None:
            has_text = True
            parts.append(chunk.text.replace("\x00", "") if "\x00" in chunk.text else chunk.text)
        else:
            parts.append("\x00")
    if not has_text:
        return None
    search = "".join(parts)
    matches = list(rust_finditer(regex, search))
    if not matches:
        return None
    if groups == WHOLE_VALUE:
        return [_replacement(rule, search)]

    redactions = [c for c in chunks if c.rule is not None]
    redactions.reverse()
    out: list[Chunk] = []

    def text(piece: str) -> None:
        if not piece:
            return
        start = 0
        while True:
            nul = piece.find("\x00", start)
            if nul < 0:
                break
            out.append(Chunk(piece[start:nul]))
            out.append(redactions.pop())
            start = nul + 1
        out.append(Chunk(piece[start:]))

    pos = 0
    for match in matches:
        for index in range(regex.groups + 1):
            if index not in groups:
                continue
            start, end = match.span(index)
            if start < pos:
                # not matched (-1), or nested in a group already replaced
                continue
            text(search[pos:start])
            out.append(_replacement(rule, search[start:end]))
            pos = end
    text(search[pos:])
    return out


def join_chunks(chunks: list[Chunk]) -> tuple[str, list[list[Any]]]:
    remarks: list[list[Any]] = []
    pieces: list[str] = []
    pos = 0
    for chunk in chunks:
        piece = chunk.text
        pieces.append(piece)
        size = len(piece) if piece.isascii() else len(piece.encode("utf-8"))
        if chunk.rule is not None:
            remarks.append([chunk.rule, chunk.kind, pos, pos + size])
        pos += size
    return "".join(pieces), remarks


def split_chunks(text: str, remarks: list[Any]) -> list[Chunk]:
    """Relay's split_chunks: remarks with byte ranges become redacted chunks."""
    ranged = [r for r in remarks if isinstance(r, list) and len(r) >= 4]
    if not ranged:
        return [Chunk(text)]
    data = text.encode("utf-8")
    size = len(data)

    def boundary(offset: int) -> bool:
        return 0 <= offset <= size and (offset == size or (data[offset] & 0xC0) != 0x80)

    chunks: list[Chunk] = []
    pos = 0
    for remark in ranged:
        start, end = remark[2], remark[3]
        if not isinstance(start, int) or not isinstance(end, int):
            continue
        start = max(start, pos)
        if start > pos:
            if not (boundary(start) and start <= size):
                break
            chunks.append(Chunk(data[pos:start].decode("utf-8")))
        if not (boundary(start) and boundary(end) and start <= end):
            break
        chunks.append(Chunk(data[start:end].decode("utf-8"), str(remark[0]), str(remark[1])))
        pos = end
    if pos < size:
        chunks.append(Chunk(data[pos:].decode("utf-8")))
    return chunks
