"""`make run`'s steps on a fresh data directory, then the admin's stylesheets and scripts from
the real server: every web process serves static files, with nothing collected beforehand."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import django.contrib.admin
import httpx
import pytest

from tests.e2e.envelopes import event_envelope
from tests.e2e.harness import Database, SpyglassServer

pytestmark = pytest.mark.e2e

ADMIN_STATIC = Path(django.contrib.admin.__file__).parent / "static"


@pytest.fixture
def server() -> Iterator[SpyglassServer]:
    """What `make run` does after installing: migrate, bootstrap, serve (with a digest worker)."""
    server = SpyglassServer(Database(), "make run server", digest=True)
    try:
        server.manage("migrate", "--noinput", "-v0")
        out = server.manage("bootstrap")
        dsn = re.search(r"DSN +(\S+)", out)
        assert dsn, out
        server.dsn = dsn.group(1)
        server.public_key = httpx.URL(server.dsn).username
        server.project_id = int(httpx.URL(server.dsn).path.strip("/"))
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def test_the_admin_login_page_gets_its_stylesheets_and_scripts_and_a_missing_file_is_404(
    server: SpyglassServer,
) -> None:
    assert not (server.database.data_dir / "static").exists()  # nothing was collected
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        page = client.get("/admin/login/")
        assert page.status_code == 200
        stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
        scripts = re.findall(r'<script src="([^"]+)"', page.text)
        assert "/static/admin/css/base.css" in stylesheets
        assert scripts

        for url in stylesheets + scripts:
            response = client.get(url)
            assert response.status_code == 200, url
            expected = "text/css" if url.endswith(".css") else "text/javascript"
            assert response.headers["content-type"].split(";")[0] == expected, url
            source = ADMIN_STATIC / url.removeprefix("/static/")
            assert response.content == source.read_bytes(), url

        base = client.get("/static/admin/css/base.css")
        again = client.get(
            "/static/admin/css/base.css", headers={"If-None-Match": base.headers["etag"]}
        )
        assert again.status_code == 304

        assert client.get("/static/admin/css/no-such-file.css").status_code == 404
        assert client.get("/static/queue/no-such-file.js").status_code == 404

        # The ingest edge beside it answers as before.
        event_id = uuid.uuid4().hex
        response = client.post(
            server.envelope_url,
            content=event_envelope(event_id, "static files e2e"),
            headers=server.auth_headers(),
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"id": event_id}
