"""`calculate_grouping`: from a normalized event to its grouping hashes."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from spyglass.grouping import strategies
from spyglass.grouping.builtin_rules import ENHANCEMENT_BASES, FINGERPRINTING_BASES
from spyglass.grouping.components import Component, hash_from_values
from spyglass.grouping.config import GroupingConfig, Settings, settings_for
from spyglass.grouping.enhancers import Enhancements, parse_enhancements
from spyglass.grouping.event import EventView
from spyglass.grouping.fingerprints import (
    DEFAULT_VARIABLE,
    FingerprintRule,
    FingerprintRules,
    is_default,
    parse_fingerprint_rules,
)
from spyglass.grouping.matchers import ExceptionData
from spyglass.grouping.result import GroupingResult, Variant
from spyglass.grouping.stacktraces import Context
from spyglass.grouping.variables import expand_title, resolve_fingerprint

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")
Strategy = Callable[[EventView, Context], strategies.Variants]


@dataclass(frozen=True)
class _StrategySpec:
    name: str  # as used in "... takes precedence" hints
    applies: Callable[[EventView], bool]
    run: Strategy


def _has(key: str) -> Callable[[EventView], bool]:
    return lambda view: isinstance(view.event.get(key), Mapping)


# Highest priority first (Sentry's scores 2000, 1900, 1800, 1100, 1003 ... 1000, 0).
STRATEGIES = [
    _StrategySpec("exception", lambda v: bool(v.exceptions), strategies.chained_exception),
    _StrategySpec("threads", lambda v: bool(v.threads), strategies.threads),
    _StrategySpec("stack-trace", lambda v: v.stacktrace is not None, strategies.stacktrace),
    _StrategySpec("template", _has("template"), strategies.template),
    _StrategySpec("csp", _has("csp"), strategies.csp),
    _StrategySpec("hpkp", _has("hpkp"), strategies.security_report("hpkp", "hpkp")),
    _StrategySpec(
        "expect-staple",
        _has("expectstaple"),
        strategies.security_report("expect-staple", "expectstaple"),
    ),
    _StrategySpec(
        "expect-ct", _has("expectct"), strategies.security_report("expect-ct", "expectct")
    ),
    _StrategySpec("message", lambda v: v.message() is not None, strategies.message),
]


def _finish_strategy(components: strategies.Variants) -> strategies.Variants:
    """Strip the `!` priority marks, dropping a variant that hashes like a preferred one,
    and let a variant with a contributing stack trace win over those without."""
    final = {name.lstrip("!"): component for name, component in components.items()}
    preferred = [n.lstrip("!") for n, c in components.items() if n[0] == "!" and c.contributes]
    others = [n for n, c in components.items() if n[0] != "!" and c.contributes]
    if preferred and others:  # only then are hashes worth computing
        by_hash = {final[name].get_hash(): name for name in preferred}
        for name in others:
            if (match := by_hash.get(final[name].get_hash())) is not None:
                hint = f"ignored because hash matches {match} variant"
                final[name].update(contributes=False, hint=hint)
    _drop_variants_without_stacktrace(final)
    return final


def _drop_variants_without_stacktrace(variants: strategies.Variants) -> None:
    if len(variants) <= 1:
        return
    with_stack = [
        n for n, c in variants.items() if next(c.find("stacktrace", only_contributing=True), None)
    ]
    if not with_stack:
        return
    which = f"the {with_stack[0]} variant does" if len(with_stack) == 1 else "others do"
    hint = f"ignored because this variant does not have a contributing stacktrace, but {which}"
    for name, component in variants.items():
        if name not in with_stack:
            component.update(contributes=False, hint=hint)


def component_variants(view: EventView, context: Context) -> dict[str, Component]:
    """The root component of each variant ("app", "system", "default")."""
    winner: str | None = None
    precedence: str | None = None
    by_variant: dict[str, list[Component | str]] = {}
    for spec in STRATEGIES:
        if not spec.applies(view):
            continue
        components = _finish_strategy(spec.run(view, context))
        for name, component in components.items():
            by_variant.setdefault(name, []).append(component)
            if not component.contributes:
                continue
            if winner is None:
                winner = spec.name
                names = "/".join(sorted(n for n, c in components.items() if c.contributes))
                who = spec.name if name == "default" else f"{spec.name} of {names}"
                precedence = f"{who} take{'' if spec.name.endswith('s') else 's'} precedence"
            elif spec.name != winner:
                component.update(contributes=False, hint=precedence)
    roots = {}
    for name, values in by_variant.items():
        root = Component(name, values)
        if not root.contributes and precedence:
            root.update(hint=precedence)
        roots[name] = root
    return roots


@lru_cache(maxsize=32)
def _base_enhancements(name: str) -> Enhancements:
    return parse_enhancements(ENHANCEMENT_BASES[name])


@lru_cache(maxsize=256)
def _enhancements(settings: Settings, custom: Enhancements | None) -> Enhancements:
    base = _base_enhancements(settings.enhancements_base)
    return base + custom if custom is not None else base


@lru_cache(maxsize=32)
def _base_fingerprinting(name: str) -> FingerprintRules:
    return parse_fingerprint_rules(FINGERPRINTING_BASES[name], builtin=True)


@lru_cache(maxsize=256)
def _fingerprint_rules(settings: Settings, custom: FingerprintRules | None) -> FingerprintRules:
    rules = custom if custom is not None else FingerprintRules([])
    for name in settings.fingerprinting_bases:
        rules = rules + _base_fingerprinting(name)
    return rules


def _client_fingerprint(event: Mapping[str, Any]) -> list[str]:
    raw = event.get("fingerprint")
    values = [v for v in raw if isinstance(v, str)] if isinstance(raw, list) else []
    return values or [DEFAULT_VARIABLE]


def _fingerprint_kind(fingerprint: list[str]) -> str:
    if len(fingerprint) == 1 and is_default(fingerprint[0]):
        return "default"
    return "hybrid" if any(is_default(v) for v in fingerprint) else "custom"


def _checksum_variant(checksum: str) -> Variant:
    if _MD5_HEX.match(checksum):
        return Variant("checksum", "checksum", True, checksum, "legacy checksum")
    hashed = hash_from_values([checksum])
    return Variant(
        "hashed-checksum", "checksum", True, hashed, "hashed legacy checksum", values=[checksum]
    )


def _component_variant(name: str, root: Component) -> Variant:
    return Variant(name, "component", root.contributes, root.get_hash(), root.description, root)


def _salted(variant: Variant, fingerprint: list[str], client: list[str] | None) -> Variant:
    component = variant.component
    assert component is not None
    digest = None
    if component.contributes:
        values: list[str] = []
        for entry in fingerprint:
            values.extend(component.iter_values() if entry == DEFAULT_VARIABLE else [entry])
        digest = hash_from_values(values)
    return Variant(
        variant.name,
        "salted-component",
        component.contributes,
        digest,
        "modified " + variant.description,
        component,
        values=fingerprint,
        client_values=client,
    )


def _fingerprint_variants(
    variants: dict[str, Variant],
    fingerprint: list[str],
    rule: FingerprintRule | None,
    client: list[str],
) -> dict[str, Variant]:
    kind = _fingerprint_kind(fingerprint)
    replaced = client if rule is not None and _fingerprint_kind(client) != "default" else None
    matched = rule.text if rule is not None else None
    if kind == "hybrid":
        return {name: _salted(v, fingerprint, replaced) for name, v in variants.items()}
    if kind == "default":
        return variants
    for variant in variants.values():
        assert variant.component is not None
        variant.component.update(contributes=False, hint="custom fingerprint takes precedence")
        variant.contributes, variant.hash = False, None
        variant.hint = "custom fingerprint takes precedence"
    builtin = rule is not None and rule.is_builtin
    name = "built-in-fingerprint" if builtin else "custom-fingerprint"
    description = "Sentry defined fingerprint" if builtin else "custom fingerprint"
    custom = Variant(
        name,
        name,
        True,
        hash_from_values(fingerprint),
        description,
        values=fingerprint,
        client_values=replaced,
        matched_rule=matched,
    )
    return {**variants, name: custom}


def _ordered_hashes(variants: dict[str, Variant]) -> list[str]:
    # The system variant goes last: it only groups where no more specific variant does.
    names = sorted(variants, key=lambda name: name == "system")
    hashes: list[str] = []
    for name in names:
        digest = variants[name].hash
        if digest is not None and variants[name].contributes and digest not in hashes:
            hashes.append(digest)
    return hashes


def _raw_messages(view: EventView) -> set[str]:
    messages = {m for m in (view.message(), view.formatted_message()) if m}
    messages.update(v for e in view.exceptions if isinstance(v := e.get("value"), str) and v)
    return messages


def calculate_grouping(
    event: Mapping[str, Any], config: GroupingConfig | None = None
) -> GroupingResult:
    """Group a normalized event (Relay's `StoreNormalizer` output). The event is not changed."""
    config = config or GroupingConfig()
    settings = settings_for(config.id)
    checksum = event.get("checksum")
    if isinstance(checksum, str) and checksum:
        variant = _checksum_variant(checksum)
        return GroupingResult(settings.id, [variant.hash or ""], {variant.name: variant})
    view = EventView(event)
    client = _client_fingerprint(event)
    rule = _fingerprint_rules(settings, config.fingerprint_rules).first_match(view)
    context = Context(settings, _enhancements(settings, config.enhancements))
    for stacktrace, exception in view.all_stacktraces():
        context.classify(stacktrace, ExceptionData(exception))
    roots = component_variants(view, context)
    variants = {name: _component_variant(name, root) for name, root in roots.items()}
    fingerprint = list(rule.fingerprint) if rule is not None else client
    if _fingerprint_kind(fingerprint) != "default":
        legacy = settings.legacy_unknown_variables
        fingerprint = resolve_fingerprint(fingerprint, view, _raw_messages(view), legacy)
    variants = _fingerprint_variants(variants, fingerprint, rule, client)
    if not any(v.contributes for v in variants.values()):
        variants["fallback"] = Variant(
            "fallback", "fallback", True, hash_from_values([]), "fallback"
        )
    title = None
    if rule is not None and rule.title is not None:
        title = expand_title(rule.title, view, settings.legacy_unknown_variables)
    return GroupingResult(
        settings.id,
        _ordered_hashes(variants),
        variants,
        fingerprint=fingerprint,
        title=title,
        matched_rule=rule.text if rule is not None else None,
        main_exception_id=context.main_exception_id,
    )
