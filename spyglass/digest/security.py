"""Browser security reports (``raw_security`` items from /security/) -> Sentry events.

CSP reports become events with Sentry's ``csp`` interface (``report-uri`` format and the
Reporting API's ``csp-violation``); Expect-CT, Expect-Staple and HPKP reports keep their
report under the interface of their name.
"""

from __future__ import annotations

from typing import Any

import orjson

_CSP_KEYS = {
    # report-uri (kebab-case) and Reporting API (camelCase) -> Sentry's csp interface
    "document-uri": "document_uri",
    "documentURL": "document_uri",
    "blocked-uri": "blocked_uri",
    "blockedURL": "blocked_uri",
    "effective-directive": "effective_directive",
    "effectiveDirective": "effective_directive",
    "violated-directive": "violated_directive",
    "original-policy": "original_policy",
    "originalPolicy": "original_policy",
    "referrer": "referrer",
    "status-code": "status_code",
    "statusCode": "status_code",
    "source-file": "source_file",
    "sourceFile": "source_file",
    "line-number": "line_number",
    "lineNumber": "line_number",
    "column-number": "column_number",
    "columnNumber": "column_number",
    "script-sample": "script_sample",
    "sample": "script_sample",
    "disposition": "disposition",
}


def security_event(
    payload: bytes, item_headers: dict[str, Any], event_id: str, user_agent: str
) -> bytes | None:
    """The event for a security report, or None when it is not one we can read."""
    try:
        report = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if isinstance(report, list) and report and isinstance(report[0], dict):
        report = report[0]  # Reporting API: a list of reports; one event per request
    if not isinstance(report, dict):
        return None
    event: dict[str, Any] = {"event_id": event_id, "platform": "javascript"}
    if "csp-report" in report or report.get("type") == "csp-violation":
        body = report.get("csp-report") or report.get("body") or {}
        if not isinstance(body, dict):
            return None
        csp = {_CSP_KEYS[k]: v for k, v in body.items() if k in _CSP_KEYS}
        csp.setdefault("effective_directive", csp.get("violated_directive", "").split(" ")[0])
        event["csp"] = csp
        url = csp.get("document_uri")
    else:
        kind = next((k for k in ("expect-ct-report", "expect-staple-report") if k in report), None)
        name = {"expect-ct-report": "expectct", "expect-staple-report": "expectstaple"}
        event[name[kind] if kind else "hpkp"] = report.get(kind) if kind else report
        url = None
    for source, target in (("sentry_release", "release"), ("sentry_environment", "environment")):
        if isinstance(item_headers.get(source), str):
            event[target] = item_headers[source]
    if isinstance(url, str):
        event["request"] = {"url": url, "headers": [["User-Agent", user_agent]]}
    return orjson.dumps(event)
