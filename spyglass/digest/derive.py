"""Sentry's derived fields of a normalized event: type, metadata, title, culprit, location, tags.

Behaviour follows Sentry's ``eventtypes/*``, ``culprit.py``, ``event_manager`` (tags) and
``interfaces/contexts.py``; security reports that did not go through Relay's report parsing get
Relay's CSP message, culprit and tags here. Everything is pure and tolerant of odd shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MAX_CULPRIT_LENGTH = 200
MAX_TAG_KEY_LENGTH = 200
MAX_TAG_VALUE_LENGTH = 200
TITLE_LENGTH = 100
SECURITY_TYPES = ("csp", "hpkp", "expectct", "expectstaple")
NATIVE_PLATFORMS = ("objc", "cocoa", "native")
# The frame Sentry names as crash location has a usable function name.
_NO_FUNCTION = (None, "<redacted>", "<unknown>")
# Tag formats of Sentry's context types: tag suffix -> format over the context's fields.
_CONTEXT_TAGS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "device": (("", ("model",)), ("family", ("family",))),
    "runtime": (("", ("name", "version")), ("name", ("name",))),
    "browser": (("", ("name", "version")), ("name", ("name",))),
    "os": (("", ("name", "version")), ("name", ("name",)), ("rooted", ("rooted",))),
    "gpu": (("name", ("name",)), ("vendor", ("vendor_name",))),
    "app": (("device", ("device_app_hash",)),),
    "monitor": (("id", ("id",)), ("slug", ("slug",))),
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def truncatechars(value: str, length: int) -> str:
    """Sentry's truncation: at most ``length`` characters, the last three ``...``."""
    return value[: max(0, length - 3)] + "..." if len(value) > length else value


def _exceptions(event: dict[str, Any]) -> list[Any]:
    exception = event.get("exception")
    if isinstance(exception, list):  # not normalized: sentry-go's bare list
        return exception
    return _list(_dict(exception).get("values"))


def event_type(event: dict[str, Any]) -> str:
    """Relay's event type (``type`` once normalized; inferred like Relay otherwise)."""
    ty = event.get("type")
    if isinstance(ty, str) and ty:
        return ty
    for kind in SECURITY_TYPES:
        if event.get(kind):
            return kind
    return "error" if any(_exceptions(event)) else "default"


# --- metadata ---------------------------------------------------------------------------


def event_metadata(event: dict[str, Any]) -> dict[str, Any]:
    """Sentry's ``metadata`` for the event (what issue lists and titles are built from)."""
    kind = event_type(event)
    if kind == "error":
        metadata = _error_metadata(event)
    elif kind == "transaction":
        trace = _dict(_dict(event.get("contexts")).get("trace"))
        name = event.get("transaction")
        metadata = {"title": trace.get("description") or name, "location": name}
    elif kind in SECURITY_TYPES:
        metadata = _security_metadata(event, kind)
    elif kind == "feedback":
        feedback = _dict(_dict(event.get("contexts")).get("feedback"))
        keys = ("contact_email", "message", "name", "source")
        metadata = {key: feedback.get(key) for key in keys}
    else:
        metadata = {"title": _message_title(event)}
        if kind == "nel":
            metadata["uri"] = _dict(event.get("request")).get("url")
    if kind in ("error", "default"):  # set while grouping, which only these go through
        mix = in_app_frame_mix(event)
        if mix is not None:
            metadata["in_app_frame_mix"] = mix
    return metadata


def _message_title(event: dict[str, Any]) -> str:
    logentry = _dict(event.get("logentry"))
    message = _str(logentry.get("formatted") or logentry.get("message")).strip()
    if not message:
        return "<unlabeled event>"
    return truncatechars(message.splitlines()[0], TITLE_LENGTH)


def main_exception(event: dict[str, Any]) -> dict[str, Any] | None:
    """The exception titles come from: ``main_exception_id``'s, else the last one."""
    exceptions = _exceptions(event)
    if not exceptions:
        return None
    main_id = event.get("main_exception_id")
    if main_id:  # Sentry ignores a falsy id
        for exception in exceptions:
            if _dict(_dict(exception).get("mechanism")).get("exception_id") == main_id:
                return _dict(exception)
    last = exceptions[-1]
    return last if isinstance(last, dict) else None


def _error_metadata(event: dict[str, Any]) -> dict[str, Any]:
    exception = main_exception(event)
    if not exception:
        return {}
    value = exception.get("value")
    metadata: dict[str, Any] = {"value": truncatechars(_str(value), 1024)}
    if not _dict(exception.get("mechanism")).get("synthetic"):
        ty = exception.get("type")
        metadata["type"] = truncatechars(_str("Error" if ty is None else ty), 128)
    frame = crash_frame(event)
    if frame is not None:
        filename = frame.get("filename") or frame.get("abs_path")
        function = frame.get("function")
        if filename:
            metadata["filename"] = filename
        if function:
            metadata["function"] = function
    return metadata


def crash_frame(event: dict[str, Any]) -> dict[str, Any] | None:
    """Sentry's crash frame: the innermost in-app frame with a function, else the innermost."""
    exceptions = _exceptions(event)
    last = exceptions[-1] if exceptions else None
    frames = _list(_dict(_dict(last).get("stacktrace")).get("frames"))
    if not frames:
        frames = _list(_dict(event.get("stacktrace")).get("frames"))
    if not frames:
        threads = _list(_dict(event.get("threads")).get("values"))
        if len(threads) == 1:
            frames = _list(_dict(_dict(threads[0]).get("stacktrace")).get("frames"))
    fallback = None
    for frame in reversed(frames):
        if not isinstance(frame, dict) or frame.get("function") in _NO_FUNCTION:
            continue
        if frame.get("in_app"):
            return frame
        if fallback is None:
            fallback = frame
    return fallback


def _stacktraces(event: dict[str, Any]) -> Iterator[list[Any]]:
    containers = [_dict(e) for e in _exceptions(event)]
    containers += [_dict(t) for t in _list(_dict(event.get("threads")).get("values"))]
    containers.append(event)
    for container in containers:
        for key in ("stacktrace", "raw_stacktrace"):
            frames = _list(_dict(container.get(key)).get("frames"))
            if frames:
                yield frames


def in_app_frame_mix(event: dict[str, Any]) -> str | None:
    """``in-app-only``, ``system-only`` or ``mixed`` over all stack traces; None without any."""
    mixes = set()
    for frames in _stacktraces(event):
        in_app = {bool(_dict(frame).get("in_app")) for frame in frames}
        mixes.add(
            "mixed" if len(in_app) == 2 else "in-app-only" if True in in_app else "system-only"
        )
    if not mixes:
        return None
    return mixes.pop() if len(mixes) == 1 else "mixed"


def _security_metadata(event: dict[str, Any], kind: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {"message": _security_message(event, kind)}
    report = _dict(event.get(kind))
    if kind == "csp":
        metadata["uri"] = _normalized_blocked_uri(_str(report.get("blocked_uri")))
        metadata["directive"] = report.get("effective_directive")
    else:
        metadata["origin"] = report.get("hostname")
    return metadata


def _security_message(event: dict[str, Any], kind: str) -> str:
    logentry = _dict(event.get("logentry"))
    message = _str(logentry.get("formatted") or logentry.get("message")).strip()
    if message:
        return message
    report = _dict(event.get(kind))
    if kind == "csp":
        return _csp_message(report)
    host = _str(report.get("hostname"))
    return {
        "hpkp": f"Public key pinning validation failed for '{host}'",
        "expectct": f"Expect-CT failed for '{host}'",
        "expectstaple": f"Expect-Staple failed for '{host}'",
    }[kind]


def _normalized_blocked_uri(value: str) -> str:
    # Sentry's Csp interface (Python's urlsplit), which differs from Relay's in details.
    if value in ("", "'self'", "self"):
        return "'self'"
    if ":" not in value:
        return urlunsplit((value, "", "", None, None))
    try:
        scheme, netloc = urlsplit(value)[:2]
    except ValueError:
        return value
    if scheme in ("http", "https"):
        return netloc
    return urlunsplit((scheme, netloc, "", None, None))


# --- title, culprit, location -----------------------------------------------------------


def event_title(event: dict[str, Any], metadata: dict[str, Any] | None = None) -> str:
    if metadata is None:
        metadata = event_metadata(event)
    kind = event_type(event)
    if kind == "error":
        title = metadata.get("type")
        value = metadata.get("value")
        if title is not None and value:
            title = f"{title}: {truncatechars(_str(value).splitlines()[0], TITLE_LENGTH)}"
        return _str(title or metadata.get("function")) or "<unknown>"
    if kind in SECURITY_TYPES:
        return _str(metadata.get("message") or metadata.get("title")) or "<untitled>"
    if kind == "feedback":
        return "User Feedback"  # the title Sentry gives feedback issues
    return _str(metadata.get("title")) or "<untitled>"


def event_location(event: dict[str, Any], metadata: dict[str, Any] | None = None) -> str | None:
    if metadata is None:
        metadata = event_metadata(event)
    kind = event_type(event)
    if kind == "error":
        location = metadata.get("filename")
    elif kind == "transaction":
        location = metadata.get("location")
    elif kind in SECURITY_TYPES:
        location = metadata.get("uri") or metadata.get("origin")
    else:
        return None
    return _str(location) or None


def event_culprit(event: dict[str, Any]) -> str:
    """The event's culprit, else its transaction, else one from the stack trace or URL."""
    culprit = _str(event.get("culprit"))
    if not culprit and event_type(event) == "csp":
        culprit = _csp_culprit(_dict(event.get("csp")))
    culprit = culprit or _str(event.get("transaction")) or _generate_culprit(event)
    return truncatechars(culprit, MAX_CULPRIT_LENGTH)


def _generate_culprit(event: dict[str, Any]) -> str:
    platform = event.get("platform")
    exceptions = [e for e in _exceptions(event) if isinstance(e, dict)]
    stacktraces: list[list[Any]] = []
    if exceptions:
        if _dict(exceptions[-1].get("mechanism")).get("synthetic"):
            return ""  # synthetic exceptions get no culprit
        for exception in exceptions:
            frames = _list(_dict(exception.get("stacktrace")).get("frames"))
            if frames:
                stacktraces.append(frames)
    else:
        frames = _list(_dict(event.get("stacktrace")).get("frames"))
        if frames:
            stacktraces.append(frames)
    culprit: str | None = None
    if stacktraces:
        culprit = _stacktrace_culprit(stacktraces[-1], platform)
    if not culprit:
        culprit = _str(_dict(event.get("request")).get("url"))
    return culprit or ""


def _stacktrace_culprit(frames: list[Any], platform: Any) -> str | None:
    fallback: str | None = None
    for frame in reversed(frames):
        if not isinstance(frame, dict) or not frame:
            continue
        if frame.get("in_app"):
            culprit = _frame_culprit(frame, platform)
            if culprit:
                return culprit
        elif fallback is None:
            fallback = _frame_culprit(frame, platform)
    return fallback


def _frame_culprit(frame: dict[str, Any], platform: Any) -> str:
    platform = frame.get("platform") or platform
    function = _str(frame.get("function")) or "?"
    if platform in NATIVE_PLATFORMS:
        return function
    fileloc = _str(frame.get("module") or frame.get("filename"))
    if not fileloc:
        return ""
    if platform in ("javascript", "node"):
        return f"{function}({fileloc})"
    return f"{fileloc} in {function}"


# --- tags ---------------------------------------------------------------------------------


def user_key(event: dict[str, Any]) -> str | None:
    """Sentry's ``user`` tag value: ``id:``, ``username:``, ``email:`` or ``ip:`` (first set)."""
    user = _dict(event.get("user"))
    for key, prefix in (("id", "id"), ("username", "username"), ("email", "email")):
        value = _str(user.get(key))
        if value:
            return f"{prefix}:{value}"
    ip = _str(user.get("ip_address"))
    return f"ip:{ip}" if ip and _is_ip(ip) else None


def _is_ip(value: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class _Tags:
    """Sentry's tag list semantics: ``set`` replaces a key (moving it last), ``add`` doesn't."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}

    def set(self, key: str, value: Any) -> None:
        text = _str(value).strip() if isinstance(value, str) else _tag_text(value)
        if not key or len(key) > MAX_TAG_KEY_LENGTH or not text:
            return
        self.items.pop(key, None)
        self.items[key] = truncatechars(text, MAX_TAG_VALUE_LENGTH)

    def add(self, key: str, value: Any) -> None:
        if key not in self.items:
            self.set(key, value)


def _tag_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None or isinstance(value, dict | list) else str(value)


def event_tags(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The event's tags as Sentry stores them: the SDK's, then the ones Sentry derives."""
    tags = _Tags()
    kind = event_type(event)
    if kind == "csp" and not event.get("tags"):
        for key, value in _csp_tags(_dict(event.get("csp"))):
            tags.set(key, value)
    for pair in _list(event.get("tags")):
        if isinstance(pair, list | tuple) and len(pair) == 2 and isinstance(pair[0], str):
            tags.add(pair[0], pair[1])
    tags.set("level", event.get("level"))
    for key in ("logger", "environment", "transaction"):
        if event.get(key):
            tags.set(key, event[key])
    if event.get("release"):
        tags.set("release", event["release"])
        if event.get("dist"):
            tags.set("dist", event["dist"])
    tags.set("user", user_key(event))
    url = _dict(event.get("request")).get("url")
    if url:
        tags.add("url", url)
    _mechanism_tags(event, tags)
    for key, value in context_tags(event):
        tags.set(key, value)
    if kind == "transaction":
        status = _dict(_dict(event.get("contexts")).get("response")).get("status_code")
        if status is not None:
            tags.add("http.status_code", status)
    return list(tags.items.items())


def _mechanism_tags(event: dict[str, Any], tags: _Tags) -> None:
    exceptions = _exceptions(event)
    mechanism = _dict(_dict(exceptions[-1]).get("mechanism")) if exceptions else {}
    if mechanism:
        tags.set("mechanism", mechanism.get("type"))
        handled = mechanism.get("handled")
        if isinstance(handled, bool):
            tags.set("handled", "yes" if handled else "no")


def context_tags(event: dict[str, Any]) -> list[tuple[str, str]]:
    """Tags from contexts, as Sentry's context types index them (``browser``, ``os.name``, ...)."""
    found: list[tuple[str, str]] = []
    for alias, context in _dict(event.get("contexts")).items():
        if not isinstance(context, dict):
            continue
        formats = _CONTEXT_TAGS.get(_str(context.get("type") or alias))
        for suffix, fields in formats or ():
            values = [context.get(field) for field in fields]
            if any(value is None or value == "" for value in values):
                continue
            text = " ".join(_tag_text(value) for value in values).strip()
            if text:
                found.append((f"{alias}.{suffix}" if suffix else alias, text))
    return found


# --- CSP reports that did not go through Relay's report parsing ---------------------------


# Schemes Python's urlunsplit writes with "//" (Relay mimics it), and Relay's CSP directives.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SCHEMES_WITH_HOST = _words(
    "ftp http gopher nntp telnet imap wais file mms https shttp snews prospero rtsp rtspu rsync "
    "svn svn+ssh sftp nfs git git+ssh ws wss"
)
_CSP_DIRECTIVES = _words(
    "base-uri child-src connect-src default-src fenced-frame-src font-src form-action "
    "frame-ancestors frame-src img-src manifest-src media-src object-src plugin-types "
    "prefetch-src referrer script-src script-src-attr script-src-elem style-src style-src-elem "
    "style-src-attr upgrade-insecure-requests worker-src sandbox navigate-to report-uri "
    "report-to block-all-mixed-content require-sri-for require-trusted-types-for "
    "trusted-types"
)
# Relay's wording by directive, for blocked local content and for a blocked URI.
_CSP_LOCAL = {
    "child-src": "Blocked inline 'child'",
    "connect-src": "Blocked inline 'connect'",
    "font-src": "Blocked inline 'font'",
    "img-src": "Blocked inline 'image'",
    "manifest-src": "Blocked inline 'manifest'",
    "media-src": "Blocked inline 'media'",
    "object-src": "Blocked inline 'object'",
    "script-src-attr": "Blocked unsafe 'script' element",
    "script-src-elem": "Blocked inline script attribute",
    "style-src": "Blocked inline 'style'",
    "style-src-elem": "Blocked 'style' or 'link' element",
    "style-src-attr": "Blocked style attribute",
    "script-src": "Blocked unsafe (eval() or inline) 'script'",
}
_CSP_REMOTE = {
    "child-src": "Blocked 'child' from '{}'",
    "connect-src": "Blocked 'connect' from '{}'",
    "font-src": "Blocked 'font' from '{}'",
    "form-action": "Blocked 'form' action to '{}'",
    "img-src": "Blocked 'image' from '{}'",
    "manifest-src": "Blocked 'manifest' from '{}'",
    "media-src": "Blocked 'media' from '{}'",
    "object-src": "Blocked 'object' from '{}'",
    "script-src": "Blocked 'script' from '{}'",
    "script-src-attr": "Blocked inline script attribute from '{}'",
    "script-src-elem": "Blocked 'script' from '{}'",
    "style-src": "Blocked 'style' from '{}'",
    "style-src-elem": "Blocked 'style' from '{}'",
    "style-src-attr": "Blocked style attribute from '{}'",
}


def _csp_directive(report: dict[str, Any]) -> str:
    for key in ("effective_directive", "violated_directive"):
        words = _str(report.get(key)).split(" ", 1)
        if words[0] in _CSP_DIRECTIVES:
            return words[0]
    return _str(report.get("effective_directive")) or "default-src"


def _csp_blocked_uri(report: dict[str, Any]) -> str:
    value = report.get("blocked_uri")
    return "self" if value is None else _str(value)


def _relay_uri(value: str) -> str:
    """Relay's ``normalize_uri``: the host (and port) of web URIs, ``'self'`` for local ones."""
    if value in ("", "self", "'self'"):
        return "'self'"
    if ":" not in value:
        return _unsplit(value, "")
    try:
        parts = urlsplit(value)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return value
    if not parts.scheme:
        return value
    scheme = parts.scheme.lower()
    normalized = host if scheme in ("http", "https") else _unsplit(scheme, host)
    if port is not None and port != {"http": 80, "https": 443}.get(scheme):
        return f"{normalized}:{port}"
    return normalized


def _unsplit(scheme: str, host: str) -> str:
    if host or scheme in _SCHEMES_WITH_HOST:
        return f"{scheme}://{host}"
    return f"{scheme}:{host}" if scheme else ""


def _csp_message(report: dict[str, Any]) -> str:
    directive = _csp_directive(report)
    blocked = _csp_blocked_uri(report)
    if directive == "script-src" and blocked in ("inline", "eval"):
        return (
            "Blocked unsafe inline 'script'"
            if blocked == "inline"
            else ("Blocked unsafe eval() 'script'")
        )
    if blocked in ("", "self", "'self'"):
        return _CSP_LOCAL.get(directive, f"Blocked inline '{directive}'")
    uri = _relay_uri(blocked)
    return _CSP_REMOTE.get(directive, f"Blocked '{directive}' from '{{}}'").format(uri)


def _csp_culprit(report: dict[str, Any]) -> str:
    bits = _str(report.get("violated_directive")).split()
    if not bits:
        return ""
    document_uri = _str(report.get("document_uri"))
    normalized = _relay_uri(document_uri)
    values = [_csp_source(bit, normalized, document_uri) for bit in bits[1:]]
    return " ".join([bits[0], *values])


def _csp_source(value: str, document: str, document_uri: str) -> str:
    if value in ("'none'", "'self'", "'unsafe-inline'", "'unsafe-eval'"):
        return value
    schemes = ("data:", "mediastream:", "blob:", "filesystem:", "http:", "https:", "file:")
    if value.startswith(schemes):
        return "'self'" if document == _relay_uri(value) else value
    if value == document:
        return "'self'"
    if ":" not in document_uri:
        return value
    scheme = document_uri.split(":", 1)[0]
    return value if scheme in ("http", "https") else _unsplit(scheme, value)


def _csp_tags(report: dict[str, Any]) -> list[tuple[str, str]]:
    blocked = _csp_blocked_uri(report)
    sanitized = blocked
    if blocked.startswith("https://api.stripe.com/"):
        sanitized = blocked.split("#", 1)[0].split("?", 1)[0]  # secrets in the query string
    tags = [("effective-directive", _csp_directive(report)), ("blocked-uri", sanitized)]
    try:
        parts = urlsplit(blocked)
        if parts.scheme in ("http", "https") and parts.hostname:
            tags.append(("blocked-host", parts.hostname))
    except ValueError:
        pass
    return tags
