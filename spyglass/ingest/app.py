"""The ingest edge: a plain ASGI app for /api/<project_id>/{envelope,store,security,...}/.

No Django middleware runs here. Auth comes from an in-process key cache; the body is read
(and decompressed, within limits) only after auth has passed, unless the only auth is the
envelope header's DSN. The answer is sent only once the envelope is committed to the queue.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass
from urllib.parse import parse_qsl

from django.conf import settings

from spyglass.ingest import endpoints
from spyglass.ingest.io import (
    Headers,
    Receive,
    Scope,
    Send,
    cors_headers,
    preflight_headers,
    read_body,
    request_headers,
    send_error,
    send_json,
    send_response,
)
from spyglass.projects.keycache import KeyCache, KeyInfo
from spyglass.protocol.auth import Auth, auth_from_dsn, auth_from_request
from spyglass.protocol.envelope import EVENT_ITEM_TYPES, Envelope
from spyglass.protocol.errors import (
    BadRequest,
    Forbidden,
    IngestError,
    TooManyRequests,
    Unauthorized,
)
from spyglass.queue.writer import GroupCommitWriter, QueueUnavailable, RateLimit, Submission

log = logging.getLogger(__name__)

# ASCII digits only (a Unicode \d also matches digits int() reads); \Z as "$" allows a "\n".
ROUTE = re.compile(r"^/api/([0-9]{1,18})/(envelope|store|security|csp-report|minidump)/?\Z")
METHODS = {
    "envelope": ("POST",),
    "store": ("POST", "GET"),
    "security": ("POST",),
    "csp-report": ("POST",),
    "minidump": ("POST",),
}
# Categories a DSN key's rate limit covers, announced to SDKs in X-Sentry-Rate-Limits.
KEY_LIMITED_CATEGORIES = "error;default;security;transaction"
KEY_LIMITED_ITEMS = EVENT_ITEM_TYPES | {"attachment"}
QUEUE_FULL_RETRY_AFTER = 10
TRANSPARENT_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


@dataclass
class Request:
    scope: Scope
    receive: Receive
    project_id: int
    kind: str
    headers: dict[str, str]
    query: list[tuple[str, str]]


def client_ip(scope: Scope, headers: dict[str, str]) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip().replace("\x00", "")
        if forwarded:
            return forwarded[:64]
    client = scope.get("client")
    return str(client[0])[:64] if client else ""


class IngestApp:
    def __init__(
        self, writer: GroupCommitWriter | None = None, keys: KeyCache | None = None
    ) -> None:
        self.writer = writer or GroupCommitWriter()
        self.keys = keys or KeyCache()
        self.limits = endpoints.Limits(
            max_envelope_size=settings.MAX_ENVELOPE_SIZE,
            max_event_size=settings.MAX_EVENT_SIZE,
            max_attachment_size=settings.MAX_ATTACHMENT_SIZE,
        )

    def startup(self) -> None:
        # The event loop thread rarely blocks, so the queue writer thread would wait for the
        # GIL up to the default 5 ms after each commit before it can answer; 1 ms cuts the
        # tail latency of acknowledgements.
        sys.setswitchinterval(0.001)
        self.writer.start()

    def shutdown(self) -> None:
        self.writer.stop()

    @staticmethod
    def match(path: str) -> re.Match[str] | None:
        return ROUTE.match(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = ROUTE.match(scope["path"])
        assert match is not None
        headers = request_headers(scope)
        cors = cors_headers(headers.get("origin"))
        kind = match.group(2)
        if scope["method"] == "OPTIONS":
            methods = ", ".join(METHODS[kind]).encode()
            await send_response(
                send, 200, b"", b"text/plain", preflight_headers(headers.get("origin"), methods)
            )
            return
        request = Request(
            scope,
            receive,
            int(match.group(1)),
            kind,
            headers,
            parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True),
        )
        try:
            await self._handle(request, send, cors)
        except IngestError as error:
            await send_error(send, error, cors)
        except QueueUnavailable:
            await send_error(
                send, IngestError("queue unavailable", status=503, retry_after=5), cors
            )

    async def _authenticate(self, auth: Auth, project_id: int) -> KeyInfo:
        try:
            info = await self.keys.get(auth.public_key)
        except Exception:
            # No keys loaded and the database unreachable: say "try again", not "bad key".
            log.exception("loading DSN keys failed")
            raise IngestError("service unavailable", status=503, retry_after=5) from None
        if info is None:
            raise Unauthorized("unknown public key")
        if not info.is_active:
            raise Forbidden("event submission rejected with_reason: key disabled")
        if info.project_id != project_id or (
            auth.project_id is not None and auth.project_id != project_id
        ):
            raise Forbidden("event submission rejected with_reason: ProjectId")
        return info

    async def _handle(self, request: Request, send: Send, cors: Headers) -> None:
        if request.scope["method"] not in METHODS[request.kind]:
            raise IngestError(f"method {request.scope['method']} not allowed", status=405)
        auth = auth_from_request(request.headers, request.query)
        if auth is None and request.kind != "envelope":
            raise Unauthorized("missing authorization information")
        key = await self._authenticate(auth, request.project_id) if auth is not None else None
        if self.writer.full:
            raise TooManyRequests("queue is full", retry_after=QUEUE_FULL_RETRY_AFTER)

        prepared = await self._prepare(request)
        if key is None:
            dsn = prepared.envelope.headers.get("dsn")
            if not isinstance(dsn, str):
                raise Unauthorized("missing authorization information")
            key = await self._authenticate(auth_from_dsn(dsn), request.project_id)

        submission = Submission(
            project_id=key.project_id,
            key_id=key.key_id,
            event_id=prepared.event_id or "",
            client_ip=client_ip(request.scope, request.headers),
            # PostgreSQL text can't hold NUL: one such row would fail the whole group commit.
            user_agent=request.headers.get("user-agent", "").replace("\x00", "")[:512],
            content_encoding=prepared.content_encoding,
            body=prepared.body,
        )
        if key.rate_limit_count is not None and key.rate_limit_window:
            _apply_rate_limit(submission, key, prepared.envelope)
        outcome = await self.writer.submit(submission)

        headers = list(cors)
        if outcome.rate_limited_for is not None:
            limits = f"{outcome.rate_limited_for}:{KEY_LIMITED_CATEGORIES}:key:key_quota"
            if not outcome.queued:
                error = TooManyRequests(
                    "event submission rejected with_reason: key_quota",
                    retry_after=outcome.rate_limited_for,
                )
                error.rate_limits = limits
                raise error
            headers.append((b"x-sentry-rate-limits", limits.encode()))
        await _respond(send, prepared, headers)

    async def _prepare(self, request: Request) -> endpoints.Prepared:
        kind, headers = request.kind, request.headers
        if kind == "store" and request.scope["method"] == "GET":
            data = dict(request.query).get("sentry_data")
            if not data:
                raise BadRequest("missing sentry_data")
            return endpoints.prepare_store_get(data, self.limits)
        limit = (
            self.limits.max_attachment_size if kind == "minidump" else self.limits.max_envelope_size
        )
        raw, decoded = await read_body(request.receive, headers, limit)
        content_type = headers.get("content-type", "")
        if kind == "envelope":
            encoding = headers.get("content-encoding", "")
            return endpoints.prepare_envelope(raw, decoded, encoding, self.limits)
        if kind == "store":
            return endpoints.prepare_store(decoded, self.limits)
        if kind in ("security", "csp-report"):
            return endpoints.prepare_security(
                decoded, content_type, dict(request.query), self.limits
            )
        return endpoints.prepare_minidump(decoded, content_type, self.limits)


def _apply_rate_limit(submission: Submission, key: KeyInfo, envelope: Envelope) -> None:
    limited = [item for item in envelope.items if item.type in KEY_LIMITED_ITEMS]
    if not any(item.type in EVENT_ITEM_TYPES for item in limited):
        return  # sessions, check-ins, logs, … don't count against the key's event limit
    assert key.rate_limit_count is not None and key.rate_limit_window is not None
    submission.rate_limit = RateLimit(key.key_id, key.rate_limit_count, key.rate_limit_window)
    rest = [item for item in envelope.items if item.type not in KEY_LIMITED_ITEMS]
    if rest:
        headers = {k: v for k, v in envelope.headers.items() if k != "event_id"}
        submission.limited_body = Envelope(headers, rest).serialize()


async def _respond(send: Send, prepared: endpoints.Prepared, headers: Headers) -> None:
    if prepared.response == "gif":
        await send_response(send, 200, TRANSPARENT_GIF, b"image/gif", headers)
    elif prepared.response == "created":
        await send_response(send, 201, b"", b"text/plain", headers)
    elif prepared.response == "uuid":
        import uuid

        text = str(uuid.UUID(prepared.event_id)) if prepared.event_id else ""
        await send_response(send, 200, text.encode(), b"text/plain", headers)
    else:
        body = {"id": prepared.event_id} if prepared.event_id else {}
        await send_json(send, 200, body, headers)
