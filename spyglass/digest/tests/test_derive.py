"""Sentry's derived fields (``digest.derive``), checked against what Sentry shows.

The expectations for the real SDK events were written down by reading Sentry's
``eventtypes/error.py``, ``eventtypes/base.py``, ``culprit.py`` and ``event_manager.py`` and
applying them by hand to each payload.
"""

from __future__ import annotations

from typing import Any

import pytest

from spyglass.digest import derive
from spyglass.digest.tests.test_normalize import normalized, run, sdk_event, sdk_events

# name prefix -> (type, title, culprit, location)
EXPECTED = {
    "browser/handled_error/003": (
        "error",
        "TypeError: Cannot read properties of undefined (reading 'value')",
        "/index.html",  # the transaction wins over the stack trace
        "/app.js",
    ),
    "cli/send_event/001": ("default", "hello", "", None),
    "go/store_errors_gin_panic/001": (
        "error",
        "*errors.errorString: job runner: provider timeout",
        "main in main",
        "/srv/app/main.go",
    ),
    "go/store_errors_gin_panic/003": (
        "default",
        "job submission failed",
        "http://api/v1/jobs",  # no stack trace: the request URL
        None,
    ),
    # captureMessage with attachStacktrace: a synthetic exception, so the title is the
    # crash function and there is no culprit.
    "node/attachment/002": ("error", "Object.attachment", "", "/srv/app/scripts/node_capture.cjs"),
    "node/exception_chained/002": (
        "error",
        "Error: checkout failed for order ord-1001",
        "checkout(node_capture)",  # JavaScript: function(module)
        "/srv/app/scripts/node_capture.cjs",
    ),
    "python/attachment/001": ("default", "event with attachments", "", None),
    "python/exception_chained/001": (
        "error",
        "PaymentError: checkout failed for order ord-1001",
        "__main__ in checkout",  # module in function, innermost in-app frame
        "py_capture.py",
    ),
    "python/session/001": (
        "error",
        "ZeroDivisionError: division by zero",
        "__main__ in case_session",
        "py_capture.py",
    ),
    "browser-message_logs_feedback-003-event": ("error", "Sr", "/index.html", "/app.js"),
    "browser-message_logs_feedback-009-feedback": (
        "feedback",
        "User Feedback",
        "/index.html",
        None,
    ),
    "browser-fetch_tracing_static-002-transaction": (
        "transaction",
        "/index.html",
        "/index.html",
        "/index.html",
    ),
    "node-express_500-001-event": (
        "error",
        "Error: no orders for user 7",
        "POST /users/:uid/orders",
        # The in-app frame's function is "?" (dropped by Relay), so the crash frame is the
        # innermost frame with a function.
        "/srv/app/node/node_modules/router/lib/layer.js",
    ),
    "node-feedback-001-feedback": ("feedback", "User Feedback", "", None),
    "node-message_warning-002-event": (
        "error",
        "Object.message_warning",
        "",
        "/srv/app/scripts/node_capture.cjs",
    ),
    "node-transaction_spans_static-001-transaction": (
        "transaction",
        "GET /downstream/api/items",
        "GET /downstream/api/items",
        "GET /downstream/api/items",
    ),
    "node-unhandled_rejection-002-event": (
        "error",
        "TypeError: async boom",
        "Object.unhandled_rejection(node_capture)",
        "/srv/app/scripts/node_capture.cjs",
    ),
    "python-fastapi_500-001-event": (
        "error",
        "RuntimeError: item 5 exploded",
        "/items/{item_id}",
        "py_capture.py",
    ),
    "python-flask_500-001-event": (
        "error",
        "KeyError: 'no orders for user 7'",
        "orders",
        "py_capture.py",
    ),
    "python-flask_500-002-transaction": ("transaction", "orders", "orders", "orders"),
    "python-message_warning-001-event": ("default", "Disk usage above 90%", "", None),
    "python-unhandled_exception-001-event": (
        "error",
        "PaymentError: checkout failed for order ord-crash",
        "__main__ in checkout",
        "py_capture.py",
    ),
}


def derived(event: dict[str, Any]) -> tuple[str, str, str, str | None]:
    metadata = derive.event_metadata(event)
    return (
        derive.event_type(event),
        derive.event_title(event, metadata),
        derive.event_culprit(event),
        derive.event_location(event, metadata),
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_sdk_events_derive_what_sentry_shows(name: str) -> None:
    assert derived(normalized(sdk_event(name)).event) == EXPECTED[name]


@pytest.mark.parametrize("sdk", sdk_events(), ids=lambda e: e.name)
def test_every_real_event_derives_without_surprises(sdk: Any) -> None:
    event = normalized(sdk).event
    _, title, culprit, _ = derived(event)
    assert title and title not in ("<unknown>", "<untitled>")
    assert len(culprit) <= 200
    tags = derive.event_tags(event)
    assert len({key for key, _ in tags}) == len(tags)
    assert all(value and len(value) <= 200 and len(key) <= 200 for key, value in tags)
    assert dict(tags)["level"] == event["level"]


def test_error_metadata_of_a_python_exception() -> None:
    event = normalized(sdk_event("python/session/001")).event
    assert derive.event_metadata(event) == {
        "type": "ZeroDivisionError",
        "value": "division by zero",
        "filename": "py_capture.py",
        "function": "case_session",
        "in_app_frame_mix": "in-app-only",
    }


def test_the_go_sdks_bare_exception_list_derives_even_unnormalized() -> None:
    event = {
        "platform": "go",
        "exception": [{"type": "*errors.errorString", "value": "boom", "module": "errors"}],
    }
    assert derive.event_type(event) == "error"
    assert derive.event_title(event) == "*errors.errorString: boom"


def test_tags_of_a_browser_error() -> None:
    event = normalized(sdk_event("browser-unhandled_error-003-event")).event
    tags = derive.event_tags(event)
    assert tags == [
        ("level", "error"),
        ("environment", "production"),
        ("transaction", "/index.html"),
        ("release", "web@1.0.0"),
        ("dist", "build-7"),
        ("user", "ip:203.0.113.9"),
        ("url", tags[6][1]),
        ("mechanism", "auto.browser.browserapierrors.addEventListener"),
        ("handled", "no"),
        ("browser", "HeadlessChrome 156.0.0"),
        ("browser.name", "HeadlessChrome"),
        ("os.name", "Linux"),
    ]
    assert tags[6][1].startswith("http://127.0.0.1:")


def test_tags_of_a_python_transaction() -> None:
    tags = dict(derive.event_tags(normalized(sdk_event("python-flask_500-002")).event))
    assert tags["http.status_code"] == "500"
    assert tags["transaction"] == "orders"
    assert tags["level"] == "info"
    assert tags["server_name"] == "capture-host"
    assert tags["runtime"] == "CPython 3.11.7"


def test_sdk_tags_come_first_and_derived_tags_replace_them() -> None:
    event = {
        "level": "warning",
        "environment": "prod",
        "transaction": "/a",
        "tags": [["level", "debug"], ["team", "payments"], ["transaction", "/b"]],
    }
    assert derive.event_tags(event) == [
        ("team", "payments"),
        ("level", "warning"),
        ("environment", "prod"),
        ("transaction", "/a"),
    ]


def test_tag_limits_like_sentry() -> None:
    event = {
        "level": "error",
        "tags": [["k" * 201, "v"], ["long", "x" * 300], ["empty", ""], ["ok", "fine"]],
    }
    tags = dict(derive.event_tags(event))
    assert "k" * 201 not in tags
    assert tags["long"] == "x" * 197 + "..."
    assert "empty" not in tags
    assert tags["ok"] == "fine"


def test_dist_is_a_tag_only_with_a_release() -> None:
    assert "dist" not in dict(derive.event_tags({"dist": "7"}))
    assert dict(derive.event_tags({"release": "1.0", "dist": "7"}))["dist"] == "7"


def test_the_url_tag_never_replaces_an_sdk_url_tag() -> None:
    event = {"request": {"url": "https://example.com/a"}, "tags": [["url", "mine"]]}
    assert dict(derive.event_tags(event))["url"] == "mine"


@pytest.mark.parametrize(
    ("user", "key"),
    [
        ({"id": "42", "username": "bob", "email": "b@x.io", "ip_address": "192.0.2.1"}, "id:42"),
        ({"username": "bob", "email": "b@x.io", "ip_address": "192.0.2.1"}, "username:bob"),
        ({"email": "b@x.io", "ip_address": "192.0.2.1"}, "email:b@x.io"),
        ({"ip_address": "192.0.2.1"}, "ip:192.0.2.1"),
        ({"ip_address": "{{auto}}"}, None),
        ({"name": "Bob"}, None),
        ({}, None),
    ],
)
def test_user_key_is_the_first_of_id_username_email_ip(
    user: dict[str, Any], key: str | None
) -> None:
    assert derive.user_key({"user": user}) == key
    assert dict(derive.event_tags({"user": user})).get("user") == key


def test_context_tags_follow_sentrys_context_types() -> None:
    event = {
        "contexts": {
            "os": {"type": "os", "name": "iOS", "version": "17.0", "rooted": False},
            "device": {"type": "device", "family": "iPhone", "model": "iPhone15,2"},
            "rt": {"type": "runtime", "name": "CPython"},  # no version: no "rt" tag
            "gpu": {"type": "gpu", "name": "M1", "vendor_name": "Apple"},
            "app": {"type": "app", "device_app_hash": "abc"},
            "custom": {"type": "default", "name": "x"},
        }
    }
    assert derive.context_tags(event) == [
        ("os", "iOS 17.0"),
        ("os.name", "iOS"),
        ("os.rooted", "no"),
        ("device", "iPhone15,2"),
        ("device.family", "iPhone"),
        ("rt.name", "CPython"),
        ("gpu.name", "M1"),
        ("gpu.vendor", "Apple"),
        ("app.device", "abc"),
    ]


def test_mechanism_tags_come_from_the_last_exception() -> None:
    event = {
        "exception": {
            "values": [
                {"type": "A", "mechanism": {"type": "chained", "handled": True}},
                {"type": "B", "mechanism": {"type": "excepthook", "handled": False}},
            ]
        }
    }
    tags = dict(derive.event_tags(event))
    assert (tags["mechanism"], tags["handled"]) == ("excepthook", "no")


# --- titles -----------------------------------------------------------------------------


def error(value: Any = "boom", ty: Any = "ValueError", **exception: Any) -> dict[str, Any]:
    return {"exception": {"values": [{"type": ty, "value": value, **exception}]}}


def test_error_titles_take_the_first_line_of_the_value_cut_at_100() -> None:
    assert derive.event_title(error("first\nsecond")) == "ValueError: first"
    assert derive.event_title(error("v" * 150)) == "ValueError: " + "v" * 97 + "..."
    assert derive.event_title(error("")) == "ValueError"
    assert derive.event_title(error(None)) == "ValueError"
    assert derive.event_title(error("x", ty=None)) == "Error: x"


def test_metadata_trims_type_and_value_like_sentry() -> None:
    metadata = derive.event_metadata(error("v" * 2000, ty="T" * 200))
    assert metadata["value"] == "v" * 1021 + "..."
    assert metadata["type"] == "T" * 125 + "..."


def test_a_synthetic_exception_is_titled_by_its_function() -> None:
    frames = [
        {"function": "outer", "in_app": True},
        {"function": "captureMessage", "in_app": False},
    ]
    event = error("message", mechanism={"type": "generic", "synthetic": True})
    event["exception"]["values"][0]["stacktrace"] = {"frames": frames}
    assert derive.event_title(event) == "outer"
    assert derive.event_culprit(event) == ""
    bare = error("message", mechanism={"type": "generic", "synthetic": True})
    assert derive.event_title(bare) == "<unknown>"


def test_the_main_exception_id_picks_the_titled_exception() -> None:
    event = {
        "main_exception_id": 2,
        "exception": {
            "values": [
                {"type": "Group", "value": "g", "mechanism": {"type": "x", "exception_id": 1}},
                {"type": "Inner", "value": "i", "mechanism": {"type": "x", "exception_id": 2}},
                {"type": "Last", "value": "l", "mechanism": {"type": "x", "exception_id": 3}},
            ]
        },
    }
    assert derive.event_title(event) == "Inner: i"
    event["main_exception_id"] = 0  # falsy: Sentry falls back to the last exception
    assert derive.event_title(event) == "Last: l"


@pytest.mark.parametrize(
    ("logentry", "title"),
    [
        ({"formatted": "  line one\nline two"}, "line one"),
        ({"message": "template %s"}, "template %s"),
        ({"formatted": "m" * 120}, "m" * 97 + "..."),
        ({"formatted": "   "}, "<unlabeled event>"),
        (None, "<unlabeled event>"),
    ],
)
def test_default_event_titles(logentry: dict[str, Any] | None, title: str) -> None:
    assert derive.event_title({"type": "default", "logentry": logentry}) == title


def test_message_events_normalize_to_a_titled_default_event() -> None:
    event = run({"logentry": {"message": "Disk %s full", "params": ["/"]}}).event
    assert derive.event_title(event) == "Disk / full"
    assert derive.event_title(run({"message": "plain"}).event) == "plain"


def test_transaction_title_is_its_name() -> None:
    event = {"type": "transaction", "transaction": "GET /api/items"}
    assert derive.event_title(event) == "GET /api/items"
    assert derive.event_location(event) == "GET /api/items"
    assert derive.event_culprit(event) == "GET /api/items"


def test_feedback_metadata_and_title() -> None:
    feedback = {"message": "It broke", "contact_email": "a@b.c", "name": "A", "source": "widget"}
    event = {"type": "feedback", "contexts": {"feedback": feedback}}
    assert derive.event_metadata(event) == feedback
    assert derive.event_title(event) == "User Feedback"


def test_nel_events_are_default_events_with_the_uri() -> None:
    event = {
        "type": "nel",
        "logentry": {"formatted": "DNS failure"},
        "request": {"url": "https://x.io"},
    }
    assert derive.event_metadata(event) == {"title": "DNS failure", "uri": "https://x.io"}
    assert derive.event_title(event) == "DNS failure"


# --- culprits ---------------------------------------------------------------------------


def stack(platform: str, *frames: dict[str, Any]) -> dict[str, Any]:
    return {"platform": platform, **error(stacktrace={"frames": list(frames)})}


def test_culprit_is_module_in_function_of_the_innermost_in_app_frame() -> None:
    event = stack(
        "python",
        {"module": "app.views", "function": "index", "in_app": True},
        {"module": "django.core", "function": "handle", "in_app": False},
    )
    assert derive.event_culprit(event) == "app.views in index"


def test_culprit_falls_back_to_the_innermost_frame_and_filename() -> None:
    event = stack("python", {"filename": "a.py", "function": "f"}, {"filename": "b.py"})
    assert derive.event_culprit(event) == "b.py in ?"


def test_javascript_and_native_culprits() -> None:
    js = stack("javascript", {"filename": "app.js", "function": "onClick", "in_app": True})
    assert derive.event_culprit(js) == "onClick(app.js)"
    native = stack("cocoa", {"function": "-[Foo bar]", "in_app": True, "filename": "Foo.m"})
    assert derive.event_culprit(native) == "-[Foo bar]"
    mixed = stack("python", {"function": "main", "platform": "native", "in_app": True})
    assert derive.event_culprit(mixed) == "main"


def test_the_events_own_culprit_and_transaction_come_first() -> None:
    event = stack("python", {"module": "m", "function": "f", "in_app": True})
    assert derive.event_culprit({**event, "transaction": "/t"}) == "/t"
    assert derive.event_culprit({**event, "culprit": "mine", "transaction": "/t"}) == "mine"
    assert derive.event_culprit({"culprit": "c" * 300}) == "c" * 197 + "..."


def test_culprit_uses_the_last_exception_with_frames() -> None:
    event = {
        "platform": "python",
        "exception": {
            "values": [
                {"type": "A", "stacktrace": {"frames": [{"module": "a", "function": "fa"}]}},
                {"type": "B"},
            ]
        },
    }
    assert derive.event_culprit(event) == "a in fa"


def test_in_app_frame_mix() -> None:
    def mix(*in_app: Any) -> str | None:
        frames = [{"function": "f", "in_app": flag} for flag in in_app]
        return derive.in_app_frame_mix(error(stacktrace={"frames": frames}))

    assert mix(True, True) == "in-app-only"
    assert mix(False, None) == "system-only"
    assert mix(True, False) == "mixed"
    assert derive.in_app_frame_mix(error()) is None


# --- security reports -------------------------------------------------------------------


def csp(**report: Any) -> dict[str, Any]:
    event = {"type": "csp", "platform": "javascript", "csp": report}
    event["request"] = {"url": report.get("document_uri")}
    return event


def test_csp_report_title_culprit_location_and_tags_like_relay_and_sentry() -> None:
    event = csp(
        document_uri="http://example.com",
        violated_directive="style-src cdn.example.com",
        blocked_uri="http://example.com/lol.css",
        effective_directive="style-src",
    )
    metadata = derive.event_metadata(event)
    assert metadata == {
        "message": "Blocked 'style' from 'example.com'",
        "uri": "example.com",
        "directive": "style-src",
    }
    assert derive.event_title(event, metadata) == "Blocked 'style' from 'example.com'"
    assert derive.event_culprit(event) == "style-src cdn.example.com"
    assert derive.event_location(event, metadata) == "example.com"
    assert derive.event_tags(event)[:3] == [
        ("effective-directive", "style-src"),
        ("blocked-uri", "http://example.com/lol.css"),
        ("blocked-host", "example.com"),
    ]


def test_csp_directive_falls_back_to_the_violated_one_and_sources_normalize_to_self() -> None:
    event = csp(
        document_uri="https://example.com/foo/bar",
        violated_directive="default-src self https://example.com",
        blocked_uri="http://evilhackerscripts.com",
    )
    assert derive.event_title(event) == "Blocked 'default-src' from 'evilhackerscripts.com'"
    assert derive.event_culprit(event) == "default-src self 'self'"


@pytest.mark.parametrize(
    ("report", "title"),
    [
        ({"effective_directive": "script-src"}, "Blocked unsafe (eval() or inline) 'script'"),
        (
            {"effective_directive": "script-src", "blocked_uri": "eval"},
            "Blocked unsafe eval() 'script'",
        ),
        ({"effective_directive": "img-src", "blocked_uri": "data"}, "Blocked 'image' from 'data:'"),
        (
            {"effective_directive": "connect-src", "blocked_uri": "https://api.x.io:8443/a"},
            "Blocked 'connect' from 'api.x.io:8443'",
        ),
        (
            {"effective_directive": "frame-ancestors", "blocked_uri": "https://a.io"},
            "Blocked 'frame-ancestors' from 'a.io'",
        ),
    ],
)
def test_csp_messages(report: dict[str, Any], title: str) -> None:
    assert derive.event_title(csp(**report)) == title


def test_a_csp_message_from_relay_is_used_as_is() -> None:
    event = csp(effective_directive="script-src", blocked_uri="https://x.io")
    event["logentry"] = {"formatted": "Blocked 'script' from 'x.io'"}
    event["tags"] = [["effective-directive", "script-src"]]
    assert derive.event_title(event) == "Blocked 'script' from 'x.io'"
    assert ("blocked-uri", "https://x.io") not in derive.event_tags(event)


def test_stripe_query_strings_stay_out_of_csp_tags() -> None:
    event = csp(effective_directive="connect-src", blocked_uri="https://api.stripe.com/v1?key=sk")
    assert ("blocked-uri", "https://api.stripe.com/v1") in derive.event_tags(event)


@pytest.mark.parametrize(
    ("kind", "title"),
    [
        ("hpkp", "Public key pinning validation failed for 'example.com'"),
        ("expectct", "Expect-CT failed for 'example.com'"),
        ("expectstaple", "Expect-Staple failed for 'example.com'"),
    ],
)
def test_other_security_reports(kind: str, title: str) -> None:
    event = {"type": kind, kind: {"hostname": "example.com", "port": 443}}
    assert derive.event_title(event) == title
    assert derive.event_location(event) == "example.com"
