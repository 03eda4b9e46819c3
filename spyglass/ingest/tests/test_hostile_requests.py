"""Whatever arrives, the ingest edge answers it: never a 500, errors always as Relay's JSON."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections import Counter

import brotli
import httpx
import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.ingest.app import IngestApp
from spyglass.ingest.tests.conftest import client_for, event_envelope
from spyglass.protocol.tests.test_envelope_fuzz import hostile_envelopes, json_values
from spyglass.test import World

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ENCODERS = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}
Request = tuple[str, str, dict[str, str], bytes]


def multipart(parts: list[tuple[str, str | None, bytes]]) -> bytes:
    out = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += b"--x\r\nContent-Disposition: " + disposition.encode() + b"\r\n\r\n" + data + b"\r\n"
    return out + b"--x--\r\n"


def json_body(value: object) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return repr(value).encode()


@st.composite
def bodies(draw: st.DrawFn, kind: str) -> tuple[bytes, str | None]:
    """A body and its content type, mostly of the kind the endpoint expects."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=300)), draw(st.sampled_from([None, "text/html"]))
    if kind == "envelope":
        body = draw(st.sampled_from([event_envelope(), b"{}\n"])) if draw(st.booleans()) else b""
        return body or draw(hostile_envelopes()), None
    if kind == "store":
        value = draw(st.one_of(st.dictionaries(st.text(max_size=5), json_values), json_values))
        body = json_body(value)
        if draw(st.booleans()):
            body = body.replace(b"null", b"NaN", 1)
        return body, "application/json"
    if kind in ("security", "csp-report"):
        return json_body(draw(json_values)), "application/csp-report"
    dump = draw(st.sampled_from([b"MDMP" + draw(st.binary(max_size=30)), b"nope", b""]))
    parts: list[tuple[str, str | None, bytes]] = []
    if draw(st.booleans()):
        parts.append(("upload_file_minidump", "a.dmp", dump))
    if draw(st.booleans()):
        parts.append(("sentry", None, json_body(draw(json_values))))
    parts += [
        (
            draw(
                st.text(min_size=1, max_size=8).filter(
                    lambda t: '"' not in t and "\r" not in t and "\n" not in t
                )
            ),
            draw(st.sampled_from([None, "f.txt"])),
            draw(st.binary(max_size=20)),
        )
    ]
    return multipart(parts), "multipart/form-data; boundary=x"


@st.composite
def requests(draw: st.DrawFn, key: str, project_id: int) -> Request:
    kind = draw(st.sampled_from(["envelope", "envelope", "store", "security", "minidump"]))
    method = draw(st.sampled_from(["POST"] * 8 + ["GET", "PUT"]))
    pid = project_id if draw(st.integers(0, 9)) else project_id + 1000
    headers: dict[str, str] = {}
    query = ""
    auth = draw(st.sampled_from(["header", "header", "query", "query", "none", "both", "bad"]))
    if auth in ("header", "both"):
        headers["X-Sentry-Auth"] = f"Sentry sentry_key={key}, sentry_version=7"
    if auth in ("query", "both"):
        query = f"sentry_key={key}&sentry_version=7"
    if auth == "bad":
        headers["X-Sentry-Auth"] = draw(st.sampled_from(["Sentry x=y", "Sentry sentry_key=zz"]))
    if kind == "store" and method == "GET":
        query += "&sentry_data=" + draw(st.sampled_from(["%7B%7D", "%5B1", "", "x"]))
    body, content_type = draw(bodies(kind))
    if content_type is not None:
        headers["Content-Type"] = content_type
    encoding = draw(st.sampled_from([None] * 4 + ["gzip", "deflate", "br", "zstd", "bogus"]))
    if encoding is not None:
        headers["Content-Encoding"] = encoding
        if encoding in ENCODERS and draw(st.integers(0, 4)):
            body = ENCODERS[encoding](body)
            if draw(st.integers(0, 3)) == 0:
                body = body[: draw(st.integers(0, len(body)))]
    return method, f"/api/{pid}/{kind}/?{query}", headers, body


async def send(app: IngestApp, request: Request) -> httpx.Response:
    method, path, headers, body = request
    async with client_for(app) as client:
        return await client.request(
            method, path, headers={**headers, "Origin": "http://example.test"}, content=body
        )


def test_it_answers_every_request_without_a_server_error(
    ingest_app: IngestApp, ingest_world: World
) -> None:
    statuses: Counter[int] = Counter()

    # Derandomized: the coverage check at the end must not depend on the draw.
    @settings(
        max_examples=200,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(requests(ingest_world.key.public_key, ingest_world.project.id))
    def check(request: Request) -> None:
        # An exception inside the app would surface here: httpx re-raises it.
        response = asyncio.run(send(ingest_app, request))
        statuses[response.status_code] += 1
        assert response.status_code < 500 or response.status_code == 503
        assert response.headers["access-control-allow-origin"] == "http://example.test"
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/json"
            detail = response.json()["detail"]
            assert isinstance(detail, str)
            assert detail
            assert response.headers["x-sentry-error"] == detail

    check()
    # The requests got past auth into every kind of answer, not only refusals.
    assert {200, 400, 401} <= set(statuses), statuses
