"""The event schema as the PII scrubber sees it: which values may be scrubbed (Relay's ``pii``
attribute on each field: ``true``, ``maybe`` or ``false``), their value types (what ``$string``,
``$frame``, ``$http``... select), and the few shapes that are processed specially (header and
cookie pair lists, native file paths, the user's IP address).

Facts from Relay's ``relay-event-schema`` (``#[metastructure(pii = ...)]`` and
``value_type = ...`` on the protocol structs), checked against Relay's own scrubber with the
differential tests. A field a struct does not declare is one of its "other" (additional)
properties, with the struct's ``other`` PII flag.
"""

from __future__ import annotations

from spyglass.digest.scrubbing_nodes import (
    BOOL,
    K_CONTEXTS,
    K_IMAGE,
    K_OBJECT,
    K_VALUE,
    MAYBE,
    MESSAGE,
    NO,
    NUM,
    OBJECT,
    OPAQUE,
    PATH,
    STR,
    TIME,
    VALUE,
    YES,
    Node,
    array,
    finalize,
    obj,
    pairs,
    struct,
    values,
)
from spyglass.digest.scrubbing_tables import (
    CONTEXT_FIELDS,
    SPAN_DATA_MAYBE,
    SPAN_DATA_MAYBE_PREFIXES,
    SPAN_DATA_NO,
)

__all__ = ["EVENT", "SPAN_DATA_VALUE", "span_data_pii"]

# --- stack traces ------------------------------------------------------------------------------

LOCK_REASON = struct(
    "LockReason",
    {"type": NUM, "address": STR, "package_name": STR, "class_name": STR, "thread_id": OPAQUE},
)
FRAME_DATA = struct(
    "FrameData",
    {
        "sourcemap": STR,
        "orig_function": STR,
        "orig_filename": STR,
        "orig_lineno": NUM,
        "orig_colno": NUM,
        "orig_in_app": NUM,
    },
)
FRAME = struct(
    "Frame",
    {
        "function": STR,
        "raw_function": STR,
        "symbol": STR,
        "module": (MAYBE, STR),
        "package": STR,
        "filename": (MAYBE, PATH),
        "abs_path": (MAYBE, PATH),
        "lineno": NUM,
        "colno": NUM,
        "platform": STR,
        "pre_context": array(STR),
        "context_line": STR,
        "post_context": array(STR),
        "in_app": BOOL,
        "vars": (YES, obj(VALUE)),
        "file_revision": (MAYBE, STR),
        "data": FRAME_DATA,
        "image_addr": OPAQUE,
        "instruction_addr": OPAQUE,
        "addr_mode": STR,
        "function_id": OPAQUE,
        "symbol_addr": OPAQUE,
        "trust": STR,
        "lang": STR,
        "stack_start": BOOL,
        "lock": LOCK_REASON,
    },
    vt="frame",
)
STACKTRACE = struct(
    "Stacktrace",
    {
        "frames": array(FRAME),
        "registers": obj(OPAQUE),
        "instruction_addr_adjustment": OPAQUE,
        "lang": STR,
        "snapshot": BOOL,
    },
    vt="stacktrace",
)

# --- exceptions, threads, breadcrumbs, messages ------------------------------------------------

MECHANISM = struct(
    "Mechanism",
    {
        "type": STR,
        "synthetic": BOOL,
        "description": (YES, STR),
        "help_link": STR,
        "handled": BOOL,
        "source": STR,
        "is_exception_group": BOOL,
        "exception_id": NUM,
        "parent_id": NUM,
        "data": (YES, obj(VALUE)),
        "meta": struct(
            "MechanismMeta",
            {
                "errno": struct("CError", {"number": NUM, "name": STR}),
                "signal": struct(
                    "PosixSignal", {"number": NUM, "code": NUM, "name": STR, "code_name": STR}
                ),
                "mach_exception": struct(
                    "MachException",
                    {"exception": NUM, "code": NUM, "subcode": NUM, "name": STR},
                ),
                "ns_error": struct("NsError", {"code": NUM, "domain": STR}),
            },
        ),
    },
)
EXCEPTION = struct(
    "Exception",
    {
        "type": STR,
        "value": (YES, STR),
        "module": STR,
        "stacktrace": STACKTRACE,
        "raw_stacktrace": STACKTRACE,
        "thread_id": OPAQUE,
        "mechanism": MECHANISM,
    },
    vt="exception",
)
THREAD = struct(
    "Thread",
    {
        "id": OPAQUE,
        "name": STR,
        "stacktrace": STACKTRACE,
        "raw_stacktrace": STACKTRACE,
        "crashed": BOOL,
        "current": BOOL,
        "main": BOOL,
        "state": STR,
        "held_locks": obj(LOCK_REASON),
    },
    vt="thread",
)
BREADCRUMB = struct(
    "Breadcrumb",
    {
        "timestamp": TIME,
        "type": STR,
        "category": STR,
        "level": OPAQUE,
        "message": (YES, STR),
        "data": (YES, obj(VALUE)),
        "event_id": OPAQUE,
    },
    vt="breadcrumb",
)
LOGENTRY = struct(
    "LogEntry",
    {"message": MESSAGE, "formatted": (YES, MESSAGE), "params": (YES, VALUE)},
    vt="logentry",
    other=YES,
)
TEMPLATE = struct(
    "TemplateInfo",
    {
        "filename": (YES, STR),
        "abs_path": (YES, STR),
        "lineno": NUM,
        "colno": NUM,
        "pre_context": array(STR),
        "context_line": STR,
        "post_context": array(STR),
    },
)

# --- user, request, sdk ------------------------------------------------------------------------

GEO = struct(
    "Geo",
    {
        "country_code": (YES, STR),
        "city": (YES, STR),
        "subdivision": (YES, STR),
        "region": (YES, STR),
    },
)
USER = struct(
    "User",
    {
        "id": (YES, STR),
        "email": (YES, STR),
        "ip_address": (YES, STR),
        "username": (YES, STR),
        "name": (YES, STR),
        "geo": GEO,
        "segment": STR,
        "sentry_user": (YES, STR),
        "data": (YES, obj(VALUE)),
    },
    vt="user",
    other=YES,
    special="user",
)
REQUEST = struct(
    "Request",
    {
        "url": (MAYBE, STR),
        "method": STR,
        "protocol": STR,
        "data": (YES, VALUE),
        "query_string": (YES, pairs(STR)),
        "fragment": (YES, STR),
        "cookies": (YES, pairs(STR)),
        "headers": (YES, pairs(STR)),
        "body_size": NUM,
        "env": (YES, obj(VALUE)),
        "inferred_content_type": STR,
        "api_target": STR,
    },
    vt="request",
    other=YES,
)
CLIENT_SDK = struct(
    "ClientSdkInfo",
    {
        "name": STR,
        "version": STR,
        "integrations": array(STR),
        "features": array(STR),
        "packages": array(struct("ClientSdkPackage", {"name": STR, "version": STR})),
        "client_ip": (YES, STR),
        "settings": struct("ClientSdkSettings", {"infer_ip": OPAQUE}),
    },
    vt="clientsdkinfo",
)

# --- debug images ------------------------------------------------------------------------------

_NATIVE_IMAGE = struct(
    "NativeDebugImage",
    {
        "code_id": OPAQUE,
        "code_file": (MAYBE, PATH),
        "debug_id": OPAQUE,
        "debug_file": (MAYBE, PATH),
        "debug_checksum": STR,
        "arch": STR,
        "image_addr": OPAQUE,
        "image_size": NUM,
        "image_vmaddr": OPAQUE,
    },
)
DEBUG_IMAGE = Node(
    K_IMAGE,
    name="DebugImage",
    variants={
        "apple": (
            NO,
            struct(
                "AppleDebugImage",
                {
                    "name": STR,
                    "arch": STR,
                    "cpu_type": NUM,
                    "cpu_subtype": NUM,
                    "image_addr": OPAQUE,
                    "image_size": NUM,
                    "image_vmaddr": OPAQUE,
                    "uuid": OPAQUE,
                },
            ),
        ),
        "symbolic": (NO, _NATIVE_IMAGE),
        "macho": (NO, _NATIVE_IMAGE),
        "elf": (NO, _NATIVE_IMAGE),
        "pe": (NO, _NATIVE_IMAGE),
        "pe_dotnet": (NO, _NATIVE_IMAGE),
        "wasm": (NO, _NATIVE_IMAGE),
        "proguard": (NO, struct("ProguardDebugImage", {"uuid": OPAQUE})),
        "sourcemap": (
            NO,
            struct(
                "SourceMapDebugImage",
                {"code_file": STR, "debug_id": OPAQUE, "debug_file": (MAYBE, STR)},
            ),
        ),
        "jvm": (NO, struct("JvmDebugImage", {"debug_id": OPAQUE})),
        "": (NO, obj(VALUE)),  # an image type unknown to the protocol
    },
)
DEBUG_META = struct(
    "DebugMeta",
    {
        "sdk_info": struct(
            "SystemSdkInfo",
            {
                "sdk_name": STR,
                "version_major": NUM,
                "version_minor": NUM,
                "version_patchlevel": NUM,
            },
        ),
        "images": array(DEBUG_IMAGE),
    },
)

# --- security reports --------------------------------------------------------------------------

CSP = struct(
    "Csp",
    {
        "effective_directive": (YES, STR),
        "blocked_uri": (YES, STR),
        "document_uri": (YES, STR),
        "original_policy": STR,
        "referrer": (YES, STR),
        "status_code": NUM,
        "violated_directive": STR,
        "source_file": (MAYBE, STR),
        "line_number": NUM,
        "column_number": NUM,
        "script_sample": STR,
        "disposition": STR,
    },
    other=YES,
)

# --- spans and contexts ------------------------------------------------------------------------


def span_data_pii(key: str) -> int:
    """Span data attributes are PII unless the conventions say otherwise (matched exactly;
    ``prefix.<key>`` conventions take one more dot-free segment)."""
    if key in SPAN_DATA_MAYBE:
        return MAYBE
    if key in SPAN_DATA_NO:
        return NO
    for prefix in SPAN_DATA_MAYBE_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix) and "." not in key[len(prefix) :]:
            return MAYBE
    return YES


# A value in span data: the PII flag of each nested value is that of its innermost key.
SPAN_DATA_VALUE = Node(K_VALUE, name="span data value", special="span_data")
# (a struct to Relay: no value type of its own, so ``$object`` does not select it)
SPAN_DATA = Node(K_OBJECT, 0, item=SPAN_DATA_VALUE, name="SpanData")
SPAN_LINK = struct(
    "SpanLink",
    {"trace_id": OPAQUE, "span_id": OPAQUE, "sampled": BOOL, "attributes": (MAYBE, obj(VALUE))},
    other=MAYBE,
)
SPAN = struct(
    "Span",
    {
        "timestamp": TIME,
        "start_timestamp": TIME,
        "exclusive_time": NUM,
        "description": (MAYBE, STR),
        "op": STR,
        "span_id": OPAQUE,
        "parent_span_id": OPAQUE,
        "trace_id": OPAQUE,
        "segment_id": OPAQUE,
        "is_segment": BOOL,
        "is_remote": BOOL,
        "status": OPAQUE,
        "tags": (MAYBE, obj(STR)),
        "origin": STR,
        "profile_id": OPAQUE,
        "data": (YES, SPAN_DATA),
        "links": (MAYBE, array(SPAN_LINK)),
        "sentry_tags": struct(
            "SentryTags",
            {
                "user": (YES, STR),
                "user.id": (YES, STR),
                "user.ip": (YES, STR),
                "user.username": (YES, STR),
                "user.email": (YES, STR),
            },
            other=MAYBE,
        ),
        "received": TIME,
        "measurements": obj(VALUE),
        "platform": STR,
        "was_transaction": BOOL,
        "kind": STR,
    },
    vt="span",
    other=MAYBE,
)

_SHAPES = {"s": STR, "n": NUM, "b": OPAQUE, "a": array(VALUE), "o": obj(VALUE)}
_CONTEXT_EXTRA: dict[str, dict[str, tuple[int, Node] | Node]] = {
    "device": {"uuid": (MAYBE, OPAQUE)},
    "os": {"distribution": (MAYBE, obj(VALUE))},
    "trace": {
        "trace_id": OPAQUE,
        "span_id": OPAQUE,
        "parent_span_id": OPAQUE,
        "data": (MAYBE, SPAN_DATA),
        "links": (MAYBE, array(SPAN_LINK)),
    },
    "flags": {"values": array(struct("FlagsItem", {"flag": STR, "result": VALUE}, other=MAYBE))},
    "response": {
        "headers": (YES, pairs(STR)),
        "cookies": (YES, pairs(STR)),
        "data": (YES, VALUE),
    },
    "otel": {"attributes": (MAYBE, obj(VALUE)), "resource": (MAYBE, obj(VALUE))},
}


def _context(tag: str, other: int, fields: dict[str, tuple[int, str]]) -> tuple[int, Node]:
    built: dict[str, tuple[int, Node] | Node] = {
        key: (pii, _SHAPES[shape]) for key, (pii, shape) in fields.items()
    }
    built.update(_CONTEXT_EXTRA.get(tag, {}))
    return (NO, struct(f"{tag} context", built, other=other))


CONTEXTS = Node(
    K_CONTEXTS,
    OBJECT,
    name="Contexts",
    variants={
        **{tag: _context(tag, other, fields) for tag, (other, fields) in CONTEXT_FIELDS.items()},
        # any other type: a map of anything, all of it PII
        "": (YES, obj(VALUE)),
    },
)

# --- the event ---------------------------------------------------------------------------------

EVENT = struct(
    "Event",
    {
        "event_id": OPAQUE,
        "level": OPAQUE,
        "version": STR,
        "type": OPAQUE,
        "fingerprint": array(STR),
        "culprit": (MAYBE, STR),
        "transaction": STR,
        "transaction_info": struct(
            "TransactionInfo",
            {
                "source": OPAQUE,
                "original": STR,
                "changes": array(
                    struct(
                        "TransactionNameChange",
                        {"source": OPAQUE, "propagations": NUM, "timestamp": TIME},
                    )
                ),
                "propagations": NUM,
            },
        ),
        "time_spent": NUM,
        "logentry": LOGENTRY,
        "logger": STR,
        "modules": obj(STR),
        "platform": STR,
        "timestamp": TIME,
        "start_timestamp": TIME,
        "received": TIME,
        "server_name": (YES, STR),
        "release": STR,
        "dist": STR,
        "environment": STR,
        "site": STR,
        "user": USER,
        "request": REQUEST,
        "contexts": CONTEXTS,
        "breadcrumbs": values(BREADCRUMB),
        "exception": values(EXCEPTION),
        "stacktrace": STACKTRACE,
        "template": TEMPLATE,
        "threads": values(THREAD),
        "tags": (MAYBE, pairs(STR)),
        "extra": (YES, obj(VALUE)),
        "debug_meta": DEBUG_META,
        "sdk": CLIENT_SDK,
        "ingest_path": array(VALUE),
        "errors": array(
            struct(
                "EventProcessingError",
                {"type": STR, "name": STR, "value": VALUE},
                other=MAYBE,
            )
        ),
        "key_id": STR,
        "project": NUM,
        "grouping_config": obj(VALUE),
        "checksum": STR,
        "csp": CSP,
        "spans": array(SPAN),
        "measurements": obj(VALUE),
        "breakdowns": obj(VALUE),
        "scraping_attempts": VALUE,
        "_metrics": obj(VALUE),
        "_performance_issues_spans": BOOL,
    },
    other=YES,
)
finalize(EVENT)
