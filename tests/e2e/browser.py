"""What the browser tests share: Debian's Chromium under Playwright, a page that records its
console errors, and signing in through the real form."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.e2e.test_browser_sdk import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (import this fixture into the module)."""
    assert Path(CHROMIUM).exists(), "install Debian's chromium package"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, **options: object) -> tuple[BrowserContext, Page, list[str]]:
    """A page in a context of its own, and the list its console errors and exceptions go to."""
    context = browser.new_context(**options)  # type: ignore[arg-type]
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def sign_in_as(page: Page, base_url: str, email: str, password: str, lands: str = "/acme/") -> None:
    """Sign in with the form and check where it lands (the user's organization)."""
    page.goto(f"{base_url}/accounts/sign-in/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{base_url}{lands}")
