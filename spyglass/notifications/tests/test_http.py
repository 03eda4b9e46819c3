"""The outbound HTTP client: the SSRF guard refuses what it must, the allowlist opens it."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from django.test import override_settings

from spyglass.lib import http
from spyglass.notifications.tests.receivers import http_receiver


def fake_dns(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("100.64.0.1", "not a public address"),
    ],
)
def test_it_refuses_names_resolving_to_non_public_addresses(
    monkeypatch: pytest.MonkeyPatch, address: str, reason: str
) -> None:
    fake_dns(monkeypatch, address)
    with override_settings(OUTBOUND_ALLOWLIST=""), pytest.raises(http.Refused, match=reason):
        http.request("POST", "http://hooks.example.com/x", body=b"{}")


def test_it_refuses_when_any_resolved_address_is_forbidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, "93.184.216.34", "10.0.0.1")
    with (
        override_settings(OUTBOUND_ALLOWLIST=""),
        pytest.raises(http.Refused, match=r"10\.0\.0\.1"),
    ):
        http.request("GET", "http://hooks.example.com/")


def test_public_addresses_pass_the_guard(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, "93.184.216.34")
    with override_settings(OUTBOUND_ALLOWLIST=""):
        assert http.resolve("hooks.example.com", 443) == ipaddress.ip_address("93.184.216.34")


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/", "http:///nohost", "gopher://x/"]
)
def test_it_refuses_urls_other_than_http(url: str) -> None:
    with pytest.raises(http.Refused):
        http.request("GET", url)


def test_it_refuses_credentials_in_the_url() -> None:
    with pytest.raises(http.Refused, match="credentials"):
        http.request("GET", "http://user:pw@example.com/")


def test_a_literal_loopback_address_is_refused_without_the_allowlist() -> None:
    with http_receiver() as receiver, override_settings(OUTBOUND_ALLOWLIST=""):
        with pytest.raises(http.Refused, match="loopback"):
            http.request("POST", receiver.url + "/hook", body=b"{}")
        assert receiver.requests == []


@pytest.mark.parametrize("allow", ["127.0.0.1", "127.0.0.0/8", "10.0.0.0/8, 127.0.0.1/32"])
def test_the_allowlist_permits_a_host_or_network(allow: str) -> None:
    with http_receiver() as receiver, override_settings(OUTBOUND_ALLOWLIST=allow):
        response = http.post_json(receiver.url + "/hook?a=1", {"hello": "world"})
    assert response.status == 200
    assert receiver.requests[0].path == "/hook?a=1"
    assert receiver.requests[0].json() == {"hello": "world"}
    assert receiver.requests[0].headers["Content-Type"] == "application/json"


def test_the_allowlist_names_hosts_too(monkeypatch: pytest.MonkeyPatch) -> None:
    with http_receiver() as receiver:
        port = receiver.server.server_address[1]
        fake_dns(monkeypatch, "127.0.0.1")
        with override_settings(OUTBOUND_ALLOWLIST="receiver.internal"):
            response = http.request("GET", f"http://receiver.internal:{port}/")
        assert response.status == 200
        # The name was resolved once and the connection went to that address; Host is the name.
        assert receiver.requests[0].headers["Host"] == f"receiver.internal:{port}"
        with override_settings(OUTBOUND_ALLOWLIST="other.internal"), pytest.raises(http.Refused):
            http.request("GET", f"http://receiver.internal:{port}/")


def test_a_redirect_target_is_checked_again() -> None:
    with http_receiver() as receiver:
        receiver.script = [302]
        receiver.extra_headers = {"Location": "http://10.0.0.1/steal"}
        with (
            override_settings(OUTBOUND_ALLOWLIST="127.0.0.1"),
            pytest.raises(http.Refused, match="private"),
        ):
            http.request("GET", receiver.url + "/")
        assert len(receiver.requests) == 1


def test_redirects_are_followed_a_few_times_only() -> None:
    with http_receiver() as receiver:
        receiver.default_status = 307
        receiver.extra_headers = {"Location": "/again"}
        with (
            override_settings(OUTBOUND_ALLOWLIST="127.0.0.1"),
            pytest.raises(http.OutboundError, match="redirects"),
        ):
            http.request("POST", receiver.url + "/", body=b"x", max_redirects=2)
        assert [r.path for r in receiver.requests] == ["/", "/again", "/again"]
        assert all(r.method == "POST" and r.body == b"x" for r in receiver.requests)


def test_a_header_with_a_line_break_is_refused_not_sent() -> None:
    with http_receiver() as receiver, override_settings(OUTBOUND_ALLOWLIST="127.0.0.1"):
        with pytest.raises(http.Refused, match="invalid request"):
            http.request("GET", receiver.url + "/", headers={"X-A": "a\r\nX-Injected: 1"})
        assert receiver.requests == []


def test_a_large_response_is_cut_off() -> None:
    with http_receiver() as receiver:
        receiver.response_body = b"x" * 5000
        with (
            override_settings(OUTBOUND_ALLOWLIST="127.0.0.1"),
            pytest.raises(http.OutboundError, match="larger than 1000"),
        ):
            http.request("GET", receiver.url + "/", max_body=1000)


def test_a_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection, never answers
        port = listener.getsockname()[1]
        with (
            override_settings(OUTBOUND_ALLOWLIST="127.0.0.1"),
            pytest.raises(http.OutboundError, match="timed out"),
        ):
            http.request("GET", f"http://127.0.0.1:{port}/", timeout=0.3)
