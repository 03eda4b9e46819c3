"""Static files, as every web process answers them under STATIC_URL (spyglass/asgi.py).

The real server is tested end to end in tests/e2e/test_static_files.py; these call the ASGI
application in process, with exact paths and headers.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django.contrib.admin
import pytest

from spyglass.asgi import SpyglassApp

pytestmark = pytest.mark.anyio

ADMIN_STATIC = Path(django.contrib.admin.__file__).parent / "static"
QUEUE_STATIC = Path(__file__).resolve().parents[2] / "queue" / "static"
WEB_STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


async def call(
    app: SpyglassApp, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in {"host": "127.0.0.1:8000", **(headers or {})}.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: Any) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start, *bodies = sent
    assert not bodies[-1].get("more_body", False)
    return Answer(
        status=start["status"],
        headers={k.decode().lower(): v.decode() for k, v in start["headers"]},
        body=b"".join(message.get("body", b"") for message in bodies),
    )


@pytest.fixture(scope="module")
def app() -> SpyglassApp:
    return SpyglassApp()


@pytest.mark.parametrize(
    ("path", "source", "content_type"),
    [
        ("/static/admin/css/base.css", ADMIN_STATIC / "admin/css/base.css", "text/css"),
        ("/static/admin/js/theme.js", ADMIN_STATIC / "admin/js/theme.js", "text/javascript"),
        # Larger than one read: sent in several chunks.
        (
            "/static/admin/js/vendor/jquery/jquery.js",
            ADMIN_STATIC / "admin/js/vendor/jquery/jquery.js",
            "text/javascript",
        ),
        ("/static/queue/status.css", QUEUE_STATIC / "queue/status.css", "text/css"),
        ("/static/admin/img/search.svg", ADMIN_STATIC / "admin/img/search.svg", "image/svg+xml"),
        # Every page's icon (so browsers don't ask for a missing /favicon.ico).
        ("/static/web/favicon.svg", WEB_STATIC / "web/favicon.svg", "image/svg+xml"),
    ],
)
async def test_it_serves_the_installed_apps_static_files_with_their_type_and_cache_headers(
    app: SpyglassApp, path: str, source: Path, content_type: str
) -> None:
    answer = await call(app, path)
    assert answer.status == 200
    assert answer.body == source.read_bytes()
    assert answer.headers["content-type"].split(";")[0] == content_type
    assert answer.headers["content-length"] == str(source.stat().st_size)
    assert answer.headers["cache-control"] == "max-age=60, public"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["etag"]


async def test_a_browser_revalidating_its_copy_gets_304_without_a_body(app: SpyglassApp) -> None:
    first = await call(app, "/static/admin/css/base.css")
    again = await call(
        app, "/static/admin/css/base.css", headers={"if-none-match": first.headers["etag"]}
    )
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == first.headers["etag"]


async def test_head_answers_the_headers_only(app: SpyglassApp) -> None:
    answer = await call(app, "/static/admin/css/base.css", method="HEAD")
    assert answer.status == 200
    assert answer.body == b""
    assert answer.headers["content-length"] == str(
        (ADMIN_STATIC / "admin/css/base.css").stat().st_size
    )


async def test_a_range_request_gets_that_range(app: SpyglassApp) -> None:
    answer = await call(app, "/static/admin/css/base.css", headers={"range": "bytes=0-9"})
    assert answer.status == 206
    assert answer.body == (ADMIN_STATIC / "admin/css/base.css").read_bytes()[:10]


async def test_other_methods_are_refused(app: SpyglassApp) -> None:
    answer = await call(app, "/static/admin/css/base.css", method="POST")
    assert answer.status == 405
    assert answer.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/static/admin/css/missing.css",
        "/static/admin/css/",
        "/static/",
        "/static",
        "/static/../settings.py",
        "/static/admin/../../settings.py",
        "/static/%2e%2e/settings.py",
        "/static/admin/css/base.css/",
        "/static//etc/passwd",
        "/static/admin/static/admin/css/base.css",
    ],
)
async def test_nothing_but_a_file_of_the_static_folders_is_served(
    app: SpyglassApp, path: str
) -> None:
    answer = await call(app, path)
    assert answer.status == 404  # Django's, as for any unknown path


@pytest.mark.parametrize(
    "path", ["/static/admin/css/base.css", "/static/../settings.py", "/static/admin/css/nope.css"]
)
async def test_with_debug_on_it_looks_at_the_disk_on_every_request_and_still_only_there(
    settings: Any, path: str
) -> None:
    settings.DEBUG = True  # WhiteNoise's autorefresh: edits show without a restart
    app = SpyglassApp()
    assert app.static.whitenoise.autorefresh
    answer = await call(app, path)
    assert answer.status == (200 if path.endswith("base.css") else 404)
