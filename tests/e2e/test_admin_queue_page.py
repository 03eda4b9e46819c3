"""The queue status page in Debian's Chromium: sign in to the admin, find the page from the
index, see a set-aside envelope (with a hostile error, shown as text), retry it."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Dialog, Page, expect, sync_playwright

from tests.e2e.envelopes import event_envelope
from tests.e2e.harness import SpyglassServer
from tests.e2e.test_browser_sdk import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

EMAIL = "ops@example.com"
PASSWORD = "a long admin password"
HOSTILE = "<script>alert('owned')</script> RuntimeError('digest exploded')"


def execute(server: SpyglassServer, statement: str, params: tuple[object, ...]) -> list[Any]:
    """Run one statement on the server's queue database behind its back; its rows, if any."""
    database = server.database
    if database.pg_url:
        with psycopg.connect(database.pg_url) as pg:
            cursor = pg.execute(statement, params)
            return cursor.fetchall() if cursor.description else []
    lite = sqlite3.connect(database.data_dir / "queue.sqlite3", timeout=20)
    try:
        with lite:
            return lite.execute(statement.replace("%s", "?"), params).fetchall()
    finally:
        lite.close()


@pytest.fixture
def server(make_server: Callable[[], SpyglassServer]) -> SpyglassServer:
    """A server of its own (no digest worker), with an admin and one set-aside envelope."""
    server = make_server()
    server.manage("createuser", "--email", EMAIL, "--password", PASSWORD, "--superuser")
    event_id = uuid.uuid4().hex
    response = httpx.post(
        server.envelope_url,
        content=event_envelope(event_id, "queue page e2e"),
        headers=server.auth_headers(),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    [row] = server.wait_for_events([event_id]).values()
    # What a digest that keeps failing leaves behind.
    execute(
        server,
        "UPDATE spyglass_queue SET failed_at = %s, attempts = 6, last_error = %s WHERE id = %s",
        (time.time(), HOSTILE, row.id),
    )
    return server


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def test_an_admin_finds_the_queue_page_sees_the_set_aside_envelope_and_retries_it(
    server: SpyglassServer, page: Page, tmp_path: Path
) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    [row_id] = [row.id for row in server.queue_rows()]

    page.goto(f"{server.base_url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("input[type=submit]")
    page.click("#queue-status-module caption a")

    expect(page.locator("h1")).to_have_text("Queue status")
    # Styled: the admin's stylesheet (its header colour) and the page's own queue/status.css.
    expect(page.locator("#header")).to_have_css("background-color", "rgb(65, 118, 144)")
    expect(page.locator(".queue-summary")).to_have_css("display", "flex")
    row = page.locator(f"#dead-letter-{row_id}")
    expect(row).to_contain_text(HOSTILE)  # shown as text, never run
    expect(row).to_contain_text("acme/web")
    expect(page.locator("#queue-depth")).to_contain_text("Set aside (failed)")
    page.screenshot(path=str(tmp_path / "queue-status.png"), full_page=True)

    row.get_by_role("button", name="Retry").click()

    expect(page.locator(".messagelist")).to_contain_text(
        "1 envelope sent back to the queue, attempts reset."
    )
    expect(page.locator("#queue-dead-letters")).to_contain_text("Nothing is set aside")
    expect(page.locator("#queue-depth")).to_contain_text("Waiting")
    page.screenshot(path=str(tmp_path / "queue-status-after-retry.png"), full_page=True)
    assert execute(
        server,
        "SELECT failed_at, attempts, last_error FROM spyglass_queue WHERE id = %s",
        (row_id,),
    ) == [(None, 0, "")]
    assert dialogs == []
