"""The only outbound HTTP of Spyglass, with a guard against server-side request forgery.

Webhook URLs come from users, so a URL must not reach the machine's own services or the
private network behind it: every host is resolved here, and private, loopback, link-local,
multicast, reserved, unspecified and IPv4-mapped addresses are refused unless
``SPYGLASS_OUTBOUND_ALLOWLIST`` names the host or a network holding the address. The
connection then goes to the address that was checked (the name is never resolved twice, so a
DNS answer that changes in between cannot slip past), with TLS still verified for the name.
Redirects are followed a few times, each target checked again; bodies are capped.

Plain ``http.client``: it lets the connection be pinned to the checked address in a few lines,
and it adds no dependency.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import orjson
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

USER_AGENT = "Spyglass/0.1 (+notifications)"
DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_REDIRECTS = 3
DEFAULT_MAX_BODY = 1024 * 1024
REDIRECTS = (301, 302, 303, 307, 308)


class OutboundError(Exception):
    """A request that produced no response: refused, unreachable, timed out, too large."""


class Refused(OutboundError):
    """The SSRF guard (or the URL itself) forbids this request; retrying cannot help."""


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    url: str  # after redirects
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", "replace")


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, raw: str) -> Allowlist:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for item in (part.strip() for part in raw.split(",")):
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def permits(self, host: str, address: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        return any(address.version == net.version and address in net for net in self.networks)


def allowlist() -> Allowlist:
    return Allowlist.parse(getattr(settings, "OUTBOUND_ALLOWLIST", ""))


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address may not be contacted (None: it may)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "an IPv4-mapped address"
    checks = (
        ("is_loopback", "a loopback address"),
        ("is_unspecified", "an unspecified address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_reserved", "a reserved address"),
        ("is_private", "a private address"),
    )
    for attr, reason in checks:
        if getattr(address, attr):
            return reason
    if not address.is_global:  # shared address space (100.64/10), NAT64, 6to4 relays, …
        return "not a public address"
    return None


def resolve(host: str, port: int) -> IPAddress:
    """The address to connect to, after the guard; raises ``Refused`` for a forbidden one.

    Every address the name resolves to must pass (an attacker's name may hold a public and a
    private one); the first is used.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise OutboundError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(raw)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OutboundError(f"cannot resolve {host}")
    allowed = allowlist()
    for address in addresses:
        reason = forbidden_reason(address)
        if reason and not allowed.permits(host, address):
            raise Refused(
                f"{host} resolves to {address}, {reason}; "
                "allow it with SPYGLASS_OUTBOUND_ALLOWLIST if that is intended"
            )
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: IPAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _read_capped(response: http.client.HTTPResponse, cap: int, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() > deadline:
            raise OutboundError("timed out reading the response")
        chunk = response.read(min(65536, cap + 1 - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise OutboundError(f"response larger than {cap} bytes")


def _one_request(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    timeout: float,
    deadline: float,
    max_body: int,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"only http(s) URLs with a host can be called, not {url[:100]!r}")
    if parts.username or parts.password:
        raise Refused("URLs with credentials in them are not called")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused(f"bad port in {url[:100]!r}") from exc
    address = resolve(host, port)
    remaining = max(0.1, deadline - time.monotonic())
    conn_class = _PinnedHTTPSConnection if parts.scheme == "https" else _PinnedHTTPConnection
    conn = conn_class(host, port, address, min(timeout, remaining))
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    try:
        conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **headers})
        response = conn.getresponse()
        data = _read_capped(response, max_body, deadline)
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    except ValueError as exc:  # http.client refuses header values with line breaks
        raise Refused(f"invalid request: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        if isinstance(exc, TimeoutError | socket.timeout):
            raise OutboundError(f"timed out after {timeout:g} s") from exc
        raise OutboundError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
    max_body: int = DEFAULT_MAX_BODY,
) -> Response:
    """Make one request (following redirects, each target checked by the guard).

    Raises ``Refused`` when the guard says no and ``OutboundError`` when there is no response;
    any HTTP status is a ``Response``. ``timeout`` bounds the whole exchange.
    """
    deadline = time.monotonic() + timeout
    sent_headers = dict(headers or {})
    for _ in range(max_redirects + 1):
        status, got_headers, data = _one_request(
            method, url, body, sent_headers, timeout, deadline, max_body
        )
        location = got_headers.get("location")
        if status not in REDIRECTS or not location:
            return Response(status=status, body=data, url=url, headers=got_headers)
        url = urljoin(url, location)
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, body = "GET", None
            sent_headers.pop("Content-Type", None)
    raise OutboundError(f"more than {max_redirects} redirects")


def post_json(
    url: str, payload: Any, *, headers: Mapping[str, str] | None = None, **options: Any
) -> Response:
    body = orjson.dumps(payload)
    return request(
        "POST",
        url,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        **options,
    )
