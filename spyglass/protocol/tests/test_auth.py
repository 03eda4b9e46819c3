from __future__ import annotations

import base64

import pytest

from spyglass.protocol.auth import (
    Auth,
    auth_from_dsn,
    auth_from_request,
    parse_auth_header,
    parse_basic_auth,
)
from spyglass.protocol.errors import BadRequest, Unauthorized

KEY = "a" * 32


def basic(user: str) -> str:
    return "Basic " + base64.b64encode(user.encode()).decode()


@pytest.mark.parametrize(
    "value",
    [
        f"Sentry sentry_key={KEY}, sentry_version=7, sentry_client=sentry.python/2.75.0",
        f"sentry sentry_key={KEY},sentry_version=7",
        f"SENTRY sentry_key={KEY}, sentry_version=7",
        f"  Sentry   sentry_key = {KEY} ,  sentry_version = 7  ",
        f"sentry_key={KEY}, sentry_version=7",
        f"Sentry sentry_version=7, sentry_key={KEY}, sentry_unknown=x, garbage",
        f"Sentry sentry_key={KEY}, sentry_version=7, sentry_secret=s, sentry_timestamp=1.5",
    ],
)
def test_it_parses_the_auth_header_in_every_spelling(value: str) -> None:
    auth = parse_auth_header(value)
    assert auth.public_key == KEY
    assert auth.version == 7
    assert auth.project_id is None


def test_it_keeps_the_sentry_client() -> None:
    auth = parse_auth_header(f"Sentry sentry_key={KEY}, sentry_client=sentry-cli/x86_64")
    assert auth.client == "sentry-cli/x86_64"


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        ("7", 7),
        ("7.0", 7),
        ("5", 5),
        ("8", 8),
        ("8.1", 8),
        (" 7 ", 7),
        ("", 7),
        ("0", 0),
        ("0" * 5000 + "7", 7),
    ],
)
def test_it_parses_the_protocol_version(raw: str, version: int) -> None:
    assert parse_auth_header(f"Sentry sentry_key={KEY}, sentry_version={raw}").version == version


def test_it_defaults_a_missing_version_to_7() -> None:
    assert parse_auth_header(f"Sentry sentry_key={KEY}").version == 7


@pytest.mark.parametrize("raw", ["9", "10.0", "99999999999999999999", "9" * 5000])
def test_it_refuses_a_protocol_version_newer_than_8_with_400(raw: str) -> None:
    with pytest.raises(BadRequest, match="unsupported protocol version"):
        parse_auth_header(f"Sentry sentry_key={KEY}, sentry_version={raw}")


@pytest.mark.parametrize("raw", ["x", "-1", "7a", "\u00b2", "\u0663", ".7", "1e3"])
def test_it_refuses_a_malformed_protocol_version_with_401(raw: str) -> None:
    with pytest.raises(Unauthorized):
        parse_auth_header(f"Sentry sentry_key={KEY}, sentry_version={raw}")


@pytest.mark.parametrize(
    "value",
    ["Sentry sentry_version=7", "Sentry sentry_key=, sentry_version=7", "Sentry", "", "Sentry  "],
)
def test_it_refuses_a_header_without_a_key(value: str) -> None:
    with pytest.raises(Unauthorized, match="missing sentry_key"):
        parse_auth_header(value)


def test_it_reads_basic_auth_with_the_key_as_user_name() -> None:
    assert parse_basic_auth(basic(f"{KEY}:")).public_key == KEY
    assert parse_basic_auth(basic(f"{KEY}:legacy-secret")).public_key == KEY
    assert parse_basic_auth(basic(KEY)).public_key == KEY


@pytest.mark.parametrize("value", ["Basic !!!notbase64", "Basic " + "//79", basic(":secret")])
def test_it_refuses_malformed_basic_auth(value: str) -> None:
    with pytest.raises(Unauthorized):
        parse_basic_auth(value)


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}, sentry_version=7"}, []),
        ({"authorization": f"Sentry sentry_key={KEY}, sentry_version=7"}, []),
        ({"authorization": f"sentry sentry_key={KEY}"}, []),
        ({"authorization": basic(f"{KEY}:")}, []),
        ({"authorization": basic(f"{KEY}:").replace("Basic", "BASIC")}, []),
        ({}, [("sentry_key", KEY), ("sentry_version", "7"), ("sentry_client", "js/1")]),
        # Query parameters that start with sentry_ but carry no key are no auth of their own.
        (
            {"x-sentry-auth": f"Sentry sentry_key={KEY}"},
            [("sentry_data", "{}"), ("sentry_release", "1.0"), ("sentry_environment", "p")],
        ),
        # Other authorization schemes are not Sentry auth.
        ({"authorization": "Bearer token", "x-sentry-auth": f"Sentry sentry_key={KEY}"}, []),
    ],
)
def test_it_finds_the_one_auth_payload_of_a_request(
    headers: dict[str, str], query: list[tuple[str, str]]
) -> None:
    auth = auth_from_request(headers, query)
    assert auth is not None
    assert auth.public_key == KEY


def test_it_reads_the_version_and_client_from_the_query_string() -> None:
    auth = auth_from_request(
        {}, [("sentry_key", KEY), ("sentry_version", "7.0"), ("sentry_client", "browser/11")]
    )
    assert auth == Auth(public_key=KEY, version=7, client="browser/11")


def test_it_answers_none_when_a_request_has_no_auth() -> None:
    assert auth_from_request({}, []) is None
    assert auth_from_request({"authorization": "Bearer x"}, [("sentry_data", "{}")]) is None


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        (
            {
                "x-sentry-auth": f"Sentry sentry_key={KEY}",
                "authorization": f"Sentry sentry_key={KEY}",
            },
            [],
        ),
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}"}, [("sentry_key", KEY)]),
        ({"authorization": basic(f"{KEY}:")}, [("sentry_key", KEY)]),
        ({"x-sentry-auth": f"Sentry sentry_key={KEY}", "authorization": basic("other:")}, []),
    ],
)
def test_it_refuses_more_than_one_auth_payload(
    headers: dict[str, str], query: list[tuple[str, str]]
) -> None:
    with pytest.raises(Unauthorized, match="multiple authorization payloads"):
        auth_from_request(headers, query)


def test_it_refuses_an_empty_key_in_the_query_string() -> None:
    with pytest.raises(Unauthorized):
        auth_from_request({}, [("sentry_key", ""), ("sentry_version", "7")])


def test_it_refuses_a_too_new_version_in_the_query_string() -> None:
    with pytest.raises(BadRequest):
        auth_from_request({}, [("sentry_key", KEY), ("sentry_version", "9")])


@pytest.mark.parametrize(
    ("dsn", "key", "project"),
    [
        (f"https://{KEY}@o1.ingest.example.com/42", KEY, 42),
        (f"http://{KEY}:secret@localhost:9000/sub/path/7", KEY, 7),
        (f"http://{KEY}@localhost:9000/7/", KEY, 7),
    ],
)
def test_it_reads_auth_from_an_envelope_dsn(dsn: str, key: str, project: int) -> None:
    assert auth_from_dsn(dsn) == Auth(public_key=key, project_id=project)


@pytest.mark.parametrize(
    "dsn",
    [
        "",
        "not a dsn",
        "https://o1.ingest.example.com/42",
        f"https://{KEY}@example.com/",
        f"https://{KEY}@example.com/project",
        f"https://{KEY}@example.com/\u00b2",
        f"https://{KEY}@example.com/{'9' * 5000}",
        f"http://{KEY}@[::1/1",
        f"http://{KEY}@[not-ipv6]/1",
    ],
)
def test_it_refuses_a_malformed_envelope_dsn_with_401(dsn: str) -> None:
    with pytest.raises(Unauthorized):
        auth_from_dsn(dsn)
