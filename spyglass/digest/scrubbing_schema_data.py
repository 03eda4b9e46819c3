"""Temporary."""

from __future__ import annotations

from spyglass.digest.scrubbing_nodes import (
    K_CONTEXTS,
    MAYBE,
    NO,
    NUM,
    OPAQUE,
    STR,
    TIME,
    VALUE,
    YES,
    Node,
    array,
    obj,
    struct,
)

SPAN_DATA = struct("SpanData", {}, other=YES)
TRACE = struct(
    "TraceContext",
    {
        "trace_id": OPAQUE,
        "span_id": OPAQUE,
        "parent_span_id": OPAQUE,
        "op": STR,
        "status": OPAQUE,
        "exclusive_time": NUM,
        "client_sample_rate": NUM,
        "origin": STR,
        "data": (MAYBE, SPAN_DATA),
    },
    other=MAYBE,
)
CONTEXTS = Node(
    K_CONTEXTS,
    name="Contexts",
    variants={
        "device": (
            NO,
            struct("DeviceContext", {"device_unique_identifier": (YES, STR)}, other=MAYBE),
        ),
        "os": (NO, struct("OsContext", {}, other=MAYBE)),
        "trace": (NO, TRACE),
        "": (YES, obj(VALUE)),
    },
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
        "status": OPAQUE,
        "tags": (MAYBE, obj(STR)),
        "origin": STR,
        "data": (YES, SPAN_DATA),
        "sentry_tags": obj(STR),
    },
    vt="span",
    other=MAYBE,
)
_ = array
