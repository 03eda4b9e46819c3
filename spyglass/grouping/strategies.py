"""Grouping strategies, tried from the most to the least specific: exceptions, threads, the
event's stack trace, a template, security reports, and finally the log message. The first
strategy that yields something contributing wins; the others are kept, marked as not
contributing, so that the variants show why.

A strategy returns components by variant name. A name starting with `!` is the preferred
variant: another variant hashing the same is dropped in its favour.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from spyglass.grouping.components import Component
from spyglass.grouping.event import EventView, Stacktrace, as_mapping, text
from spyglass.grouping.exception_groups import filter_exception_groups, main_exception_override
from spyglass.grouping.matchers import ExceptionData
from spyglass.grouping.parameterize import normalize_message
from spyglass.grouping.stacktraces import Context, stacktrace_variants

Variants = dict[str, Component]


def _leaf(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _value_component(
    value: str | None, stacktrace: Component, ns_error: Component | None
) -> Component:
    component = Component("value")
    if value is not None:
        normalized = normalize_message(value)
        if normalized:
            hint = "stripped event-specific values" if normalized != value else None
            component.update(values=[normalized], hint=hint)
    if stacktrace.contributes and component.contributes:
        component.update(contributes=False, hint="ignored because stacktrace takes precedence")
    if ns_error is not None and ns_error.contributes and component.contributes:
        component.update(contributes=False, hint="ignored because ns-error info takes precedence")
    return component


def _ns_error(mechanism: Mapping[str, Any]) -> Component | None:
    ns_error = as_mapping(mechanism.get("meta")).get("ns_error")
    if not isinstance(ns_error, Mapping):
        return None
    domain = Component("ns-error-domain", [_leaf(ns_error.get("domain"))])
    code = Component("ns-error-code", [_leaf(ns_error.get("code"))])
    return Component("ns-error", [domain, code])


def single_exception(
    exception: Mapping[str, Any], stacktrace: Stacktrace | None, context: Context
) -> Variants:
    type_name = text(exception.get("type"))
    type_component = Component("type", [type_name] if type_name else [])
    mechanism = as_mapping(exception.get("mechanism"))
    if mechanism.get("synthetic"):
        type_component.update(contributes=False, hint="ignored because exception is synthetic")
    ns_error = _ns_error(mechanism)
    if stacktrace is not None:
        stacktraces = stacktrace_variants(stacktrace, context, ExceptionData(exception))
    else:
        stacktraces = {"!app": Component("stacktrace")}
    value = text(exception.get("value"))
    variants: Variants = {}
    for name, stack in stacktraces.items():
        value_component = _value_component(value, stack, ns_error)
        parts: list[Component] = [type_component, value_component, stack]
        if context.settings.legacy_exception_order:
            parts = [stack, type_component, value_component]
        if ns_error is not None:
            parts.insert(len(parts) - 1, ns_error)
        variants[name] = Component("exception", list(parts))
    return variants


def _exception_id(exception: Mapping[str, Any]) -> int | None:
    found = as_mapping(exception.get("mechanism")).get("exception_id")
    return found if isinstance(found, int) else None


def chained_exception(view: EventView, context: Context) -> Variants:
    pairs = list(zip(view.exceptions, view.exception_stacktraces, strict=True))
    by_exception = [single_exception(e, st, context) for e, st in pairs]
    chosen, main = filter_exception_groups(view, by_exception)
    if main is not None:
        context.main_exception_id = _exception_id(view.exceptions[main])
    if len(chosen) == 1:
        return by_exception[chosen[0]]
    override = main_exception_override([view.exceptions[i] for i in chosen])
    if override is not None:
        context.main_exception_id = override
    by_variant: dict[str, list[Component | str]] = {}
    for index in chosen:
        for name, component in by_exception[index].items():
            by_variant.setdefault(name, []).append(component)
    return {name: Component("chained-exception", values) for name, values in by_variant.items()}


def _thread_variants(threads: list[int], view: EventView, context: Context) -> Variants | None:
    if len(threads) != 1:
        return None
    stacktrace = view.thread_stacktraces[threads[0]]
    if stacktrace is None:
        hint = "ignored because thread has no stacktrace"
        return {"app": Component("threads", contributes=False, hint=hint)}
    stacks = stacktrace_variants(stacktrace, context, ExceptionData(None))
    return {name: Component("threads", [stack]) for name, stack in stacks.items()}


def threads(view: EventView, context: Context) -> Variants:
    crashed = [i for i, t in enumerate(view.threads) if t.get("crashed")]
    current = [i for i, t in enumerate(view.threads) if t.get("current")]
    for candidates in (crashed, current, list(range(len(view.threads)))):
        if (found := _thread_variants(candidates, view, context)) is not None:
            return found
    hint = (
        "ignored because it contains neither a single thread nor multiple threads with exactly "
        f"one crashing or current thread; instead contains {len(crashed)} crashing, "
        f"{len(current)} current, and {len(view.threads)} total threads"
    )
    return {"app": Component("threads", contributes=False, hint=hint)}


def stacktrace(view: EventView, context: Context) -> Variants:
    assert view.stacktrace is not None
    return stacktrace_variants(view.stacktrace, context, ExceptionData(None))


def template(view: EventView, context: Context) -> Variants:
    data = as_mapping(view.event.get("template"))
    filename, line = data.get("filename"), data.get("context_line")
    values: list[Component | str] = [
        Component("filename", [_leaf(filename)] if filename is not None else []),
        Component("context-line", [_leaf(line)] if line is not None else []),
    ]
    return {"default": Component("template", values)}


def _csp_uri(value: object) -> str:
    uri = value if isinstance(value, str) else ""
    if uri in ("", "'self'", "self"):
        return "'self'"
    if ":" not in uri:
        scheme, host = uri, ""
    else:
        scheme, host = urlsplit(uri)[:2]
        if scheme in ("http", "https"):
            return host
    return urlunsplit((scheme, host, "", "", ""))


def csp(view: EventView, context: Context) -> Variants:
    data = as_mapping(view.event.get("csp"))
    blocked = _csp_uri(data.get("blocked_uri"))
    directive = data.get("effective_directive")
    violated = text(data.get("violated_directive")) or ""
    local_type = None
    if violated and directive == "script-src" and blocked == "'self'":
        local_type = next(
            (t for t in ("unsafe-inline", "unsafe-eval") if f"'{t}'" in violated), None
        )
    violation = Component("violation")
    uri = Component("uri")
    if local_type:
        violation.update(values=[f"'{local_type}'"])
        uri.update(contributes=False, hint="violation takes precedence", values=[blocked])
    else:
        violation.update(contributes=False, hint="not a local script violation")
        uri.update(values=[blocked])
    salt = Component("salt", [_leaf(directive)])
    return {"default": Component("csp", [salt, violation, uri])}


def security_report(kind: str, key: str) -> Callable[[EventView, Context], Variants]:
    def strategy(view: EventView, context: Context) -> Variants:
        hostname = as_mapping(view.event.get(key)).get("hostname")
        salt = Component("salt", [kind])
        return {"default": Component(kind, [salt, Component("hostname", [_leaf(hostname)])])}

    return strategy


def message(view: EventView, context: Context) -> Variants:
    raw = view.message() or ""
    normalized = normalize_message(raw)
    hint = "stripped event-specific values" if normalized != raw else None
    return {"default": Component("message", [normalized], hint=hint)}
