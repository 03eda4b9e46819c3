"""An event as the issue page shows it, and its raw JSON.

Everything in a body is untrusted: this module only reshapes it into plain values for
templates, which escape it; links are made only from http(s) URLs (``web_url``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse

from spyglass.events.bodies import read_body
from spyglass.events.models import Event
from spyglass.issues.models import Issue
from spyglass.projects.access import get_project
from spyglass.search.nodes import Filter, Key, Op, TextValue
from spyglass.search.render import render


def web_url(value: object) -> str:
    """``value`` if it is an absolute http(s) URL (safe to link), else ""."""
    if not isinstance(value, str) or any(c in value for c in "\x00\r\n\t "):
        return ""
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else ""


def tag_query(key: str, value: str) -> str:
    """The stream search for exactly one tag value, rendered by the search language itself:
    the key as ``tags[…]`` when it is not a plain name (spaces, colons) or is a built-in
    key, the value quoted and escaped when it needs it (quotes, wildcards, spaces)."""
    node = Filter(Key(key, tag=True), Op.EQ, (TextValue.literal(value),))
    return render(node)


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _values(value: object) -> list[Any]:
    """Sentry's interfaces come as ``{"values": [...]}`` or as a bare list."""
    if isinstance(value, dict):
        return _list(value.get("values"))
    return _list(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def pairs(value: object) -> list[tuple[str, str]]:
    """Key/value rows from a mapping or a list of pairs (headers, cookies, tags, data)."""
    if isinstance(value, dict):
        return [(str(k), _text(v)) for k, v in value.items()]
    rows = []
    for item in _list(value):
        if isinstance(item, list | tuple) and len(item) == 2:
            rows.append((_text(item[0]), _text(item[1])))
    return rows


@dataclass
class Frame:
    filename: str
    module: str  # shown beside the file name when the SDK sends both (Python, Java)
    function: str
    lineno: object
    in_app: bool
    pre_context: list[tuple[int | None, str]]
    context_line: tuple[int | None, str] | None
    post_context: list[tuple[int | None, str]]
    vars: list[tuple[str, str]]
    crashed: bool = False


@dataclass
class Exception_:
    type: str
    value: str
    module: str
    handled: object  # True, False or None (unknown)
    mechanism: str
    frames: list[Frame] = field(default_factory=list)


def _numbered(lines: object, first: object) -> list[tuple[int | None, str]]:
    start = first if isinstance(first, int) else None
    return [
        (None if start is None else start + n, _text(line)) for n, line in enumerate(_list(lines))
    ]


def frame(data: dict[str, Any]) -> Frame:
    lineno = data.get("lineno")
    pre = _list(data.get("pre_context"))
    first = lineno - len(pre) if isinstance(lineno, int) else None
    context = data.get("context_line")
    return Frame(
        filename=_text(data.get("filename") or data.get("abs_path") or data.get("module") or "?"),
        module=_text(data.get("module")) if data.get("filename") else "",
        function=_text(data.get("function") or "?"),
        lineno=lineno,
        in_app=data.get("in_app") is True,
        pre_context=_numbered(pre, first),
        context_line=None if context is None else (_int(lineno), _text(context)),
        post_context=_numbered(data.get("post_context"), _int(lineno, 1)),
        vars=pairs(data.get("vars")),
    )


def _int(value: object, plus: int = 0) -> int | None:
    return value + plus if isinstance(value, int) and not isinstance(value, bool) else None


def exceptions(body: dict[str, Any]) -> list[Exception_]:
    """The chain, most recent first (the exception that was raised on top, its causes below):
    Sentry stores it oldest first and its UI shows it newest first by default."""
    chain = []
    for data in map(_dict, _values(body.get("exception"))):
        mechanism = _dict(data.get("mechanism"))
        raw_frames = [_dict(f) for f in _list(_dict(data.get("stacktrace")).get("frames"))]
        frames = [frame(f) for f in raw_frames]
        if not any(f.get("in_app") is True for f in raw_frames):
            # No frame claims to be app code (SDKs leave in_app unset outside a project root):
            # every frame not marked as a library's counts as the app's, as Sentry shows it.
            for shown, f in zip(frames, raw_frames, strict=True):
                shown.in_app = f.get("in_app") is not False
        # Sentry stores frames oldest call first; show the crash frame on top.
        frames.reverse()
        if frames:
            frames[0].crashed = True
        chain.append(
            Exception_(
                type=_text(data.get("type")),
                value=_text(data.get("value")),
                module=_text(data.get("module")),
                handled=mechanism.get("handled"),
                mechanism=_text(mechanism.get("type")),
                frames=frames,
            )
        )
    chain.reverse()
    return chain


def breadcrumbs(body: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for crumb in map(_dict, _values(body.get("breadcrumbs"))):
        rows.append(
            {
                "timestamp": _clock(crumb.get("timestamp")),
                "category": _text(crumb.get("category") or crumb.get("type") or ""),
                "level": _text(crumb.get("level") or "info"),
                "message": _text(crumb.get("message")),
                "data": pairs(crumb.get("data")),
            }
        )
    return rows


def _clock(value: object) -> str:
    """A breadcrumb's time as HH:MM:SS.mmm UTC (SDKs send unix seconds or RFC 3339)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).strftime("%H:%M:%S.%f")[:-3]
        except (OverflowError, OSError, ValueError):
            return str(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return parsed.astimezone(UTC).strftime("%H:%M:%S.%f")[:-3] if parsed.tzinfo else value
    return ""


def request_of(body: dict[str, Any]) -> dict[str, Any] | None:
    request = _dict(body.get("request"))
    if not request:
        return None
    url = _text(request.get("url"))
    return {
        "method": _text(request.get("method")),
        "url": url,
        "link": web_url(url),
        "query": pairs(request.get("query_string"))
        if not isinstance(request.get("query_string"), str)
        else [("", request["query_string"])],
        "headers": pairs(request.get("headers")),
        "cookies": pairs(request.get("cookies"))
        if not isinstance(request.get("cookies"), str)
        else [("", request["cookies"])],
        "data": _text(request.get("data")),
        "env": pairs(request.get("env")),
    }


def meta_notes(meta: object, path: str = "") -> list[tuple[str, str]]:
    """(field path, what was done) for every field ``_meta`` says was trimmed or filtered."""
    notes: list[tuple[str, str]] = []
    for key, value in _dict(meta).items():
        here = f"{path}.{key}" if path and key else (path or str(key))
        if key == "":
            remarks = _list(_dict(value).get("rem"))
            length = _dict(value).get("len")
            for remark in remarks:
                rule = _text(remark[0]) if isinstance(remark, list) and remark else "?"
                kind = _text(remark[1]) if isinstance(remark, list) and len(remark) > 1 else ""
                notes.append((path, f"{_REMARKS.get(kind, 'changed')} by {rule}"))
            if length is not None and not remarks:
                notes.append((path, f"trimmed (was {_text(length)} long)"))
            for error in _list(_dict(value).get("err")):
                notes.append((path, f"invalid: {_text(error)}"))
        else:
            notes.extend(meta_notes(value, here))
    return notes


_REMARKS = {"x": "removed", "s": "replaced", "m": "masked", "p": "pseudonymized", "e": "encrypted"}


def event_context(event: Event) -> dict[str, Any]:
    """What the event view renders, from the stored body."""
    body = read_body(event.body)
    message = _dict(body.get("logentry")) or _dict(body.get("message"))
    sdk = _dict(body.get("sdk"))
    return {
        "exceptions": exceptions(body),
        "message": _text(message.get("formatted") or message.get("message"))
        if message
        else _text(body.get("message")),
        "breadcrumbs": breadcrumbs(body),
        "request": request_of(body),
        "user": pairs(body.get("user")),
        "contexts": [(str(k), pairs(v)) for k, v in _dict(body.get("contexts")).items()],
        # The tags as derived at digest (environment, release, level…), else as sent.
        "tags": [
            (key, value, tag_query(key, value))
            for key, value in pairs(event.tags) or pairs(body.get("tags"))
        ],
        "extra": pairs(body.get("extra")),
        "sdk": {
            "name": _text(sdk.get("name")),
            "version": _text(sdk.get("version")),
            "integrations": ", ".join(map(_text, _list(sdk.get("integrations")))),
            "packages": [
                f"{_text(_dict(p).get('name'))} {_text(_dict(p).get('version'))}"
                for p in _list(sdk.get("packages"))
            ],
        },
        "errors": [
            (_text(_dict(e).get("type")), _text(_dict(e).get("name")), _text(_dict(e).get("value")))
            for e in _list(body.get("errors"))
        ],
        "meta": meta_notes(body.get("_meta")),
    }


@login_required
def raw(
    request: HttpRequest, org_slug: str, project_slug: str, number: int, event_id: str
) -> HttpResponse:
    """The stored event as JSON, as a download; same access rules as the issue page."""
    project, _member = get_project(request, org_slug, project_slug)
    issue = Issue.objects.filter(project=project, number=number).first() if number < 2**63 else None
    event = (
        Event.objects.filter(project=project, issue=issue, event_id=event_id[:32]).first()
        if issue
        else None
    )
    if event is None:
        raise Http404("No such event")
    response = HttpResponse(
        orjson.dumps(read_body(event.body), option=orjson.OPT_INDENT_2),
        content_type="application/json",
    )
    name = "".join(c for c in event.event_id if c.isalnum()) or "event"
    response["Content-Disposition"] = f'attachment; filename="{name}.json"'
    return response
