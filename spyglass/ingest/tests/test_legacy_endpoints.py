"""store, security and minidump: wrapped into envelopes for the queue."""

from __future__ import annotations

import base64
import gzip
import re
import uuid
import zlib
from typing import Any

import httpx
import orjson
import pytest

from spyglass.ingest.app import TRANSPARENT_GIF
from spyglass.ingest.tests.conftest import EVENT_ID, auth_header, queued, queued_envelopes
from spyglass.protocol.envelope import Envelope
from spyglass.test import World

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.anyio]

EVENT = {"event_id": EVENT_ID, "message": "legacy", "level": "error", "platform": "go"}
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def store_url(world: World) -> str:
    return f"/api/{world.project.id}/store/"


async def store(
    client: httpx.AsyncClient, world: World, body: bytes, **headers: str
) -> httpx.Response:
    return await client.post(
        store_url(world), content=body, headers={**auth_header(world.key.public_key), **headers}
    )


async def only_envelope() -> Envelope:
    [envelope] = await queued_envelopes()
    return envelope


async def assert_stored_event(response: httpx.Response, expected: dict[str, Any]) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"id": EVENT_ID}
    envelope = await only_envelope()
    assert envelope.event_id == EVENT_ID
    [event] = envelope.items
    assert event.type == "event"
    assert orjson.loads(event.payload) == expected
    [row] = await queued()
    assert row.event_id == EVENT_ID


async def test_it_stores_a_plain_json_event(client: httpx.AsyncClient, ingest_world: World) -> None:
    response = await store(
        client, ingest_world, orjson.dumps(EVENT), **{"Content-Type": "application/json"}
    )
    await assert_stored_event(response, EVENT)


async def test_it_stores_a_base64_event(client: httpx.AsyncClient, ingest_world: World) -> None:
    response = await store(client, ingest_world, base64.b64encode(orjson.dumps(EVENT)))
    await assert_stored_event(response, EVENT)


async def test_it_stores_a_base64_zlib_event(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = base64.b64encode(zlib.compress(orjson.dumps(EVENT)))
    response = await store(client, ingest_world, body)
    await assert_stored_event(response, EVENT)


async def test_it_stores_a_gzip_encoded_event(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = gzip.compress(orjson.dumps(EVENT))
    response = await store(client, ingest_world, body, **{"Content-Encoding": "gzip"})
    await assert_stored_event(response, EVENT)


async def test_it_turns_legacy_nan_and_infinity_into_null(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = b'{"event_id": "%s", "extra": {"a": NaN, "b": [Infinity, -Infinity, 1.5]}}' % (
        EVENT_ID.encode()
    )
    response = await store(client, ingest_world, body)
    await assert_stored_event(
        response, {"event_id": EVENT_ID, "extra": {"a": None, "b": [None, None, 1.5]}}
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            b'{"a": NaN, "big": 123456789012345678901234567890}',
            {"a": None, "big": 1.2345678901234568e29},
        ),
        (b'{"a": NaN, "deep": ' + b"[" * 400 + b"]" * 400 + b"}", None),
        (
            '{"a": NaN, "text": "h\u00e9llo \u2713"}'.encode(),
            {"a": None, "text": "h\u00e9llo \u2713"},
        ),
    ],
)
async def test_it_keeps_legacy_json_that_only_the_lenient_parser_reads(
    client: httpx.AsyncClient, ingest_world: World, body: bytes, expected: dict[str, Any] | None
) -> None:
    response = await store(client, ingest_world, body)
    assert response.status_code == 200, response.text
    [event] = (await only_envelope()).items
    stored = orjson.loads(event.payload)  # what the digest will read
    assert stored["a"] is None
    if expected is not None:
        assert stored == expected


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'"just a string"',
        b"null",
        b"{not json",
        b"",
        base64.b64encode(b"[1]"),
        base64.b64encode(zlib.compress(b"[1]")),
        base64.b64encode(b"garbage that is not zlib"),
        b"!!!! not base64 !!!!",
        b'{"event_id": "not-a-uuid"}',
        b"[" * 100_000,
    ],
)
async def test_it_refuses_a_store_body_that_is_not_an_event_object_with_400(
    client: httpx.AsyncClient, ingest_world: World, body: bytes
) -> None:
    response = await store(client, ingest_world, body)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == response.headers["x-sentry-error"]
    assert await queued() == []


async def test_it_makes_up_an_event_id_when_the_event_has_none(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await store(client, ingest_world, b'{"message": "no id"}')
    assert response.status_code == 200
    event_id = response.json()["id"]
    assert HEX32.match(event_id)
    assert (await only_envelope()).event_id == event_id


async def test_it_stores_a_transaction_as_a_transaction_item(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = orjson.dumps({"event_id": EVENT_ID, "type": "transaction", "transaction": "/x"})
    response = await store(client, ingest_world, body)
    assert response.status_code == 200
    assert [item.type for item in (await only_envelope()).items] == ["transaction"]


async def test_it_refuses_a_store_event_over_the_event_limit_with_413(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = orjson.dumps({**EVENT, "extra": {"blob": "x" * (1024 * 1024)}})
    response = await store(client, ingest_world, body)
    assert response.status_code == 413
    assert await queued() == []


async def test_it_answers_get_store_with_a_transparent_gif(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.get(
        store_url(ingest_world),
        params={
            "sentry_key": ingest_world.key.public_key,
            "sentry_version": "7",
            "sentry_data": orjson.dumps(EVENT).decode(),
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content == TRANSPARENT_GIF
    assert response.content.startswith(b"GIF89a")
    [event] = (await only_envelope()).items
    assert orjson.loads(event.payload) == EVENT


async def test_it_refuses_get_store_without_sentry_data_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.get(
        store_url(ingest_world), params={"sentry_key": ingest_world.key.public_key}
    )
    assert response.status_code == 400
    assert await queued() == []


async def test_it_refuses_get_store_without_auth_with_401(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.get(
        store_url(ingest_world), params={"sentry_data": orjson.dumps(EVENT).decode()}
    )
    assert response.status_code == 401


async def test_it_refuses_a_store_request_without_auth_even_with_a_dsn_in_the_body(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    body = orjson.dumps({**EVENT, "dsn": ingest_world.key.dsn})
    response = await client.post(store_url(ingest_world), content=body)
    assert response.status_code == 401


# -- security reports ---------------------------------------------------------------------

CSP = {
    "csp-report": {
        "document-uri": "https://example.com/page",
        "violated-directive": "script-src",
        "blocked-uri": "https://evil.example/x.js",
    }
}


@pytest.mark.parametrize("kind", ["security", "csp-report"])
@pytest.mark.parametrize(
    "content_type", ["application/csp-report", "application/json; charset=utf-8"]
)
async def test_it_accepts_a_csp_report_with_201(
    client: httpx.AsyncClient, ingest_world: World, kind: str, content_type: str
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/{kind}/",
        params={
            "sentry_key": ingest_world.key.public_key,
            "sentry_release": "web@1.2.3",
            "sentry_environment": "staging",
        },
        headers={"Content-Type": content_type},
        content=orjson.dumps(CSP),
    )
    assert response.status_code == 201, response.text
    assert response.content == b""
    envelope = await only_envelope()
    assert envelope.event_id is not None
    [report] = envelope.items
    assert report.type == "raw_security"
    assert report.headers["sentry_release"] == "web@1.2.3"
    assert report.headers["sentry_environment"] == "staging"
    assert orjson.loads(report.payload) == CSP


async def test_it_leaves_out_release_and_environment_when_the_query_has_none(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/security/",
        params={"sentry_key": ingest_world.key.public_key},
        headers={"Content-Type": "application/csp-report"},
        content=orjson.dumps(CSP),
    )
    assert response.status_code == 201
    [report] = (await only_envelope()).items
    assert "sentry_release" not in report.headers
    assert "sentry_environment" not in report.headers


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", None])
async def test_it_refuses_a_security_report_of_another_content_type_with_415(
    client: httpx.AsyncClient, ingest_world: World, content_type: str | None
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/security/",
        params={"sentry_key": ingest_world.key.public_key},
        headers={"Content-Type": content_type} if content_type else {},
        content=orjson.dumps(CSP),
    )
    assert response.status_code == 415
    assert response.json()["detail"] == response.headers["x-sentry-error"]
    assert await queued() == []


async def test_it_refuses_a_security_report_that_is_not_json_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        f"/api/{ingest_world.project.id}/security/",
        params={"sentry_key": ingest_world.key.public_key},
        headers={"Content-Type": "application/csp-report"},
        content=b"<html>",
    )
    assert response.status_code == 400
    assert await queued() == []


# -- minidumps -------------------------------------------------------------------------------

MINIDUMP = b"MDMP\x93\xa7\x00\x00" + bytes(range(256)) * 4


def minidump_url(world: World) -> str:
    return f"/api/{world.project.id}/minidump/?sentry_key={world.key.public_key}"


async def test_it_accepts_a_multipart_minidump_and_answers_a_uuid(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    sentry = {"release": "native@1.0", "tags": {"os": "linux"}, "event_id": "0" * 32}
    response = await client.post(
        minidump_url(ingest_world),
        data={"sentry": orjson.dumps(sentry).decode(), "sentry[environment]": "prod"},
        files={
            "upload_file_minidump": ("crash.dmp", MINIDUMP, "application/octet-stream"),
            "log": ("app.log", b"last words\n", "text/plain"),
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain"
    answered = uuid.UUID(response.text)
    assert str(answered) == response.text  # hyphenated, as Crashpad expects
    envelope = await only_envelope()
    assert envelope.event_id == answered.hex
    event, dump, log = envelope.items
    assert event.type == "event"
    payload = orjson.loads(event.payload)
    assert payload["event_id"] == answered.hex
    assert payload["release"] == "native@1.0"
    assert payload["tags"] == {"os": "linux"}
    assert payload["environment"] == "prod"
    assert payload["platform"] == "native"
    assert (dump.type, dump.headers["attachment_type"]) == ("attachment", "event.minidump")
    assert dump.headers["filename"] == "crash.dmp"
    assert dump.payload == MINIDUMP
    assert (log.type, log.headers["filename"], log.payload) == (
        "attachment",
        "app.log",
        b"last words\n",
    )
    assert log.headers.get("attachment_type", "event.attachment") == "event.attachment"
    [row] = await queued()
    assert row.event_id == answered.hex


async def test_it_accepts_a_gzipped_minidump_part(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        minidump_url(ingest_world),
        files={"upload_file_minidump": ("crash.dmp.gz", gzip.compress(MINIDUMP))},
    )
    assert response.status_code == 200, response.text
    dump = (await only_envelope()).items[1]
    assert dump.payload == MINIDUMP


async def test_it_accepts_a_raw_minidump_body(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        minidump_url(ingest_world),
        headers={"Content-Type": "application/octet-stream"},
        content=MINIDUMP,
    )
    assert response.status_code == 200, response.text
    assert (await only_envelope()).items[1].payload == MINIDUMP


async def test_it_refuses_a_minidump_upload_without_the_minidump_part_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        minidump_url(ingest_world),
        data={"sentry": "{}"},
        files={"other": ("crash.dmp", MINIDUMP)},
    )
    assert response.status_code == 400
    assert "upload_file_minidump" in response.json()["detail"]
    assert await queued() == []


async def test_it_refuses_a_minidump_without_the_mdmp_magic_with_400(
    client: httpx.AsyncClient, ingest_world: World
) -> None:
    response = await client.post(
        minidump_url(ingest_world),
        files={"upload_file_minidump": ("crash.dmp", b"ELF\x7f not a minidump")},
    )
    assert response.status_code == 400
    assert "MDMP" in response.json()["detail"]
    assert await queued() == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n\r\n--x--"),
        ("multipart/form-data; boundary=x", b"no parts at all"),
        ("multipart/form-data; boundary=x", b"--x\r\nno blank line--x--"),
        (
            "multipart/form-data; boundary=x",
            b"--x\r\nContent-Disposition: form-data\r\n\r\nv\r\n--x--",
        ),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="sentry"\r\n\r\n{bad\r\n'
            b'--x\r\nContent-Disposition: form-data; name="upload_file_minidump"; filename="a"'
            b"\r\n\r\nMDMP\r\n--x--",
        ),
    ],
)
async def test_it_refuses_a_malformed_multipart_body_with_400(
    client: httpx.AsyncClient, ingest_world: World, content_type: str, body: bytes
) -> None:
    response = await client.post(
        minidump_url(ingest_world), headers={"Content-Type": content_type}, content=body
    )
    assert response.status_code == 400, response.text
    assert await queued() == []
