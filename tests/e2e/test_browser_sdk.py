"""@sentry/browser in Debian's Chromium (driven by Playwright), from a page on another origin."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Response, sync_playwright

from tests.e2e.harness import HERE, SpyglassServer, free_port, wait_for

pytestmark = pytest.mark.e2e

JS = HERE / "js"
CHROMIUM = "/usr/bin/chromium"
# The flags this sandbox needs (no network beyond loopback, no GPU, running as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
BROWSER_VERSION = json.loads((JS / "package.json").read_text())["dependencies"]["@sentry/browser"]


@pytest.fixture(scope="module")
def page_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """index.html plus @sentry/browser and the app bundled by esbuild."""
    out = tmp_path_factory.mktemp("browser_app")
    esbuild = JS / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), f"run `npm ci` in {JS}"
    subprocess.run(
        [
            *(str(esbuild), "browser_app/app.js", "--bundle", "--format=iife"),
            *("--target=es2020", "--log-level=warning", f"--outfile={out / 'app.js'}"),
        ],
        cwd=JS,
        check=True,
        timeout=120,
    )
    shutil.copy(JS / "browser_app" / "index.html", out / "index.html")
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin(page_dir: Path) -> Iterator[str]:
    """The page's own HTTP server: another port than Spyglass's, so every call is CORS."""
    handler = functools.partial(_QuietHandler, directory=str(page_dir))
    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_it_queues_browser_errors_and_answers_the_cross_origin_fetch(
    spyglass_server: SpyglassServer, page: Page, page_origin: str
) -> None:
    console: list[str] = []
    failed: list[str] = []
    responses: list[Response] = []

    def on_console(message: ConsoleMessage) -> None:
        console.append(f"{message.type}: {message.text}")

    def on_request_failed(request: Request) -> None:
        failed.append(f"{request.url}: {request.failure}")

    def on_response(response: Response) -> None:
        if "/envelope/" in response.url:
            responses.append(response)

    page.on("console", on_console)
    page.on("requestfailed", on_request_failed)
    page.on("response", on_response)
    query = urlencode({"dsn": spyglass_server.dsn, "release": f"e2e@{uuid.uuid4().hex}"})
    page.goto(f"{page_origin}/index.html?{query}")
    page.wait_for_function("document.getElementById('status').textContent === 'ready'")

    page.click("#handled")
    page.wait_for_function("document.getElementById('status').textContent === 'flushed'")
    handled_id = page.text_content("#event-id")
    page.click("#unhandled")
    page.click("#flush")
    page.wait_for_function("document.getElementById('status').textContent === 'flushed'")
    sent: list[str] = page.evaluate("window.sentEventIds")

    assert handled_id and handled_id in sent
    assert len(sent) == 2
    rows = spyglass_server.wait_for_events(sent)

    # Every envelope call got a response the page could read: a 200 that passes CORS.
    assert not failed, failed
    assert not [line for line in console if "cors" in line.lower() or "access-control" in line]

    # Playwright delivers page events while it is called: pump it until both responses are in.
    def both_responses() -> bool | None:
        page.wait_for_timeout(50)
        return True if len(responses) >= 2 else None

    wait_for(both_responses, "the envelope responses")
    for response in responses:
        assert response.status == 200
        headers = response.all_headers()
        assert headers.get("access-control-allow-origin") in (page_origin, "*")
        request = response.request
        assert request.method == "POST"
        assert request.headers["content-type"] == "text/plain;charset=UTF-8"
        assert f"sentry_key={spyglass_server.public_key}" in request.url

    user_agent = page.evaluate("navigator.userAgent")
    for row in rows.values():
        assert row.project_id == spyglass_server.project_id
        assert row.user_agent == user_agent
    handled = rows[handled_id].envelope()
    assert handled.headers["sdk"]["version"] == BROWSER_VERSION
    event = handled.item("event").json()
    assert event["exception"]["values"][-1]["type"] == "TypeError"
    assert event["request"]["url"].startswith(page_origin)
    unhandled_id = next(event_id for event_id in sent if event_id != handled_id)
    unhandled = rows[unhandled_id].envelope().item("event").json()
    assert unhandled["exception"]["values"][-1]["mechanism"]["handled"] is False
