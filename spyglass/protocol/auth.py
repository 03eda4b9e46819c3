"""Where a request says who it is: X-Sentry-Auth, Authorization, the query string or a DSN."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from spyglass.protocol.dsn import parse_dsn
from spyglass.protocol.errors import BadRequest, Unauthorized

# Relay refuses protocol versions it does not know yet.
MAX_PROTOCOL_VERSION = 8


@dataclass(frozen=True)
class Auth:
    public_key: str
    version: int = 7
    client: str | None = None
    # Only set when the auth came from an envelope header's DSN.
    project_id: int | None = None


def _parse_version(raw: str | None) -> int:
    if raw is None or raw == "":
        return 7
    head = raw.split(".", 1)[0].strip()
    # ASCII only: str.isdigit() also accepts "²", which int() refuses.
    if not (head.isascii() and head.isdigit()):
        raise Unauthorized("bad x-sentry-auth header: invalid sentry_version")
    # Too many digits to convert (int() refuses 4300+) is too new all the same.
    digits = head.lstrip("0") or "0"
    version = int(digits) if len(digits) < 4 else MAX_PROTOCOL_VERSION + 1
    if version > MAX_PROTOCOL_VERSION:
        raise BadRequest(f"unsupported protocol version ({version})")
    return version


def _from_pairs(pairs: Mapping[str, str], what: str) -> Auth:
    key = pairs.get("sentry_key", "").strip()
    if not key:
        raise Unauthorized(f"bad {what}: missing sentry_key")
    return Auth(
        public_key=key,
        version=_parse_version(pairs.get("sentry_version")),
        client=pairs.get("sentry_client") or None,
    )


def parse_auth_header(value: str) -> Auth:
    """``Sentry sentry_key=…, sentry_version=7, …`` (the prefix is optional, any case)."""
    text = value.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    pairs: dict[str, str] = {}
    for piece in text.split(","):
        name, sep, val = piece.partition("=")
        if sep:
            pairs[name.strip()] = val.strip()
    return _from_pairs(pairs, "x-sentry-auth header")


def parse_basic_auth(value: str) -> Auth:
    """``Basic base64("<public_key>:")``, used by some integrations."""
    try:
        decoded = base64.b64decode(value.strip()[6:], validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthorized("bad authorization header") from None
    return _from_pairs({"sentry_key": decoded.partition(":")[0]}, "authorization header")


def auth_from_dsn(dsn: str) -> Auth:
    try:
        parsed = parse_dsn(dsn)  # urlsplit raises ValueError on e.g. "http://[x/1"
    except ValueError:
        raise Unauthorized("bad dsn in envelope header") from None
    return Auth(public_key=parsed.public_key, project_id=parsed.project_id)


def auth_from_request(headers: Mapping[str, str], query: Sequence[tuple[str, str]]) -> Auth | None:
    """The one auth payload of a request, or None when there is none.

    More than one source is an error, as in Relay ("multiple authorization payloads").
    ``headers`` has lower-case names.
    """
    found: list[Auth] = []
    sentry_auth = headers.get("x-sentry-auth")
    if sentry_auth is not None:
        found.append(parse_auth_header(sentry_auth))
    authorization = headers.get("authorization")
    if authorization is not None:
        scheme = authorization.strip()[:7].lower()
        if scheme == "sentry ":
            found.append(parse_auth_header(authorization))
        elif scheme.startswith("basic "):
            found.append(parse_basic_auth(authorization))
    query_pairs = {name: value for name, value in query if name.startswith("sentry_")}
    if "sentry_key" in query_pairs:
        found.append(_from_pairs(query_pairs, "query string"))
    if len(found) > 1:
        raise Unauthorized("multiple authorization payloads")
    return found[0] if found else None
