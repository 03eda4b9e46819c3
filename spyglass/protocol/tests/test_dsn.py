from __future__ import annotations

import pytest

from spyglass.protocol.dsn import Dsn, parse_dsn


def test_it_parses_a_plain_dsn() -> None:
    dsn = parse_dsn("https://abc123@o1.ingest.example.com/42")
    assert dsn == Dsn("https", "abc123", "o1.ingest.example.com", None, "", 42)
    assert dsn.origin == "https://o1.ingest.example.com"
    assert dsn.endpoint("envelope") == "https://o1.ingest.example.com/api/42/envelope/"


def test_it_parses_a_dsn_with_secret_port_and_path_prefix() -> None:
    dsn = parse_dsn("  http://pub:legacysecret@127.0.0.1:9000/sentry/sub/7/  ")
    assert dsn.public_key == "pub"
    assert dsn.port == 9000
    assert dsn.path_prefix == "/sentry/sub"
    assert dsn.project_id == 7
    assert dsn.endpoint("store") == "http://127.0.0.1:9000/sentry/sub/api/7/store/"


def test_it_parses_the_dsn_the_sdk_fixtures_used() -> None:
    dsn = parse_dsn("http://publickey@127.0.0.1:40687/1")
    assert dsn.endpoint("envelope") == "http://127.0.0.1:40687/api/1/envelope/"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "ftp://key@example.com/1",
        "https://example.com/1",
        "https://key@/1",
        "https://key@example.com",
        "https://key@example.com/",
        "https://key@example.com/abc",
        "https://key@example.com/\u00b2",
        "https://key@[::1/1",
    ],
)
def test_it_refuses_what_is_not_a_dsn(text: str) -> None:
    with pytest.raises(ValueError):
        parse_dsn(text)
