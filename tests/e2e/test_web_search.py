"""The issue stream's search box in Debian's Chromium against a real `spyglass serve`, on
issues the real sentry-sdk made: autocomplete of a key then of its values with the keyboard
(arrows, Enter, Escape), the search it builds, saving it, pinning it as the default the
stream opens with, and recent searches; screenshots of the listbox and the saved search."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_digest import shell
from tests.e2e.test_web_pages import EMAIL, PASSWORD, sign_in, watch_for_script

pytestmark = pytest.mark.e2e

CLIENT = """
import json, os, sentry_sdk
ids = []
for environment, exc, customer, count in [
    ("production", KeyError("cart"), "acme corp", 3),
    ("staging", ValueError("bad quantity"), "globex", 2),
]:
    sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release="shop@2.0.0", environment=environment)
    sentry_sdk.set_tag("customer", customer)
    for n in range(count):
        try:
            raise exc
        except Exception as caught:
            ids.append(sentry_sdk.capture_exception(caught))
    sentry_sdk.flush()
print(json.dumps(ids))
"""
COUNT_ISSUES = "from spyglass.issues.models import Issue; print(Issue.objects.count())"


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "search server", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        server.start()
        env = dict(server.env(), SENTRY_DSN=server.dsn)
        out = subprocess.run(
            [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout.strip().splitlines()[-1])) == 5
        wait_for(
            lambda: True if shell(server, COUNT_ISSUES).strip() == "2" else None,
            "2 issues to be digested",
        )
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def options(page: Page) -> list[str]:
    return page.locator("#stream-query-listbox [role=option] .option-label").all_inner_texts()


def test_autocomplete_builds_a_search_which_is_saved_pinned_and_remembered(
    server: SpyglassServer, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("web-search", numbered=False)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = watch_for_script(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    stream = f"{server.base_url}/acme/web/issues/"
    page.goto(stream)
    box = page.get_by_role("combobox", name="Search")
    listbox = page.get_by_role("listbox")

    # keys: type a prefix, arrow to the key, Enter puts `key:` in and asks for its values
    box.click()
    box.press_sequentially("envi")
    expect(listbox).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.locator("#stream-query-listbox .option-label").first).to_have_text("environment")
    assert all(label.startswith("envi") for label in options(page))
    box.press("ArrowDown")
    expect(page.locator("#stream-query-option-0")).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "stream-query-option-0")
    page.screenshot(path=str(shots / "keys.png"))
    box.press("Enter")
    expect(box).to_have_value("environment:")
    # values: the chosen key's values, most events first
    expect(listbox).to_be_visible()
    expect(page.locator("#stream-query-listbox .option-label")).to_have_text(
        ["production", "staging"]
    )
    page.screenshot(path=str(shots / "values.png"))
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("environment:production ")
    # a tag the SDK sent, whose value needs quotes; Escape closes the list
    box.press_sequentially("custo")
    expect(page.locator("#stream-query-listbox .option-label").first).to_have_text("customer")
    box.press("ArrowDown")
    box.press("Enter")
    expect(page.locator("#stream-query-listbox .option-label").first).to_have_text("acme corp")
    box.press("Escape")
    expect(listbox).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")
    box.press_sequentially('"acme corp"')
    box.press("Enter")  # the list is closed: Enter submits the search
    expect(page).to_have_url(
        re.compile(r"\?tab=unresolved&query=environment%3Aproduction\+customer%3A%22acme\+corp%22&")
    )
    expect(page.locator(".stream")).to_contain_text("KeyError")
    expect(page.locator(".stream")).not_to_contain_text("ValueError")

    # save it, pin it: the stream then opens with it
    page.get_by_text("Save this search").click()
    page.get_by_label("Name").fill("Acme in production")
    page.get_by_role("button", name="Save", exact=True).click()
    saved = page.get_by_role("navigation", name="Saved searches")
    expect(saved).to_contain_text("Acme in production")
    saved.get_by_role("button", name="Pin as default").click()
    expect(saved).to_contain_text("default")
    page.screenshot(path=str(shots / "saved.png"), full_page=True)
    page.goto(stream)
    expect(box).to_have_value('environment:production customer:"acme corp"')
    expect(page.locator(".stream")).not_to_contain_text("ValueError")
    # another search becomes recent; unpinning opens the stream plain again
    page.goto(stream + "?query=ValueError")
    expect(page.get_by_role("navigation", name="Recent searches")).to_contain_text("ValueError")
    page.get_by_role("navigation", name="Saved searches").get_by_role(
        "button", name="Unpin"
    ).click()
    page.goto(stream)
    expect(box).to_have_value("")
    expect(page.locator(".stream")).to_contain_text("ValueError")
    page.screenshot(path=str(shots / "recent.png"), full_page=True)
    assert not dialogs
    assert not errors, errors
    print(f"screenshots in {shots}")


def test_the_organization_stream_has_the_same_search_box(
    server: SpyglassServer, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = tmp_path_factory.mktemp("web-search-org", numbered=False)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    dialogs = watch_for_script(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, server)
    stream = f"{server.base_url}/acme/issues/"
    page.goto(stream + "?query=")
    box = page.get_by_role("combobox", name="Search")
    expect(page.get_by_role("group", name="Projects")).to_be_visible()
    # autocomplete across the organization's projects: keys, then the tag's values
    box.click()
    box.press_sequentially("custo")
    expect(page.locator("#stream-query-listbox .option-label").first).to_have_text("customer")
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("customer:")
    expect(page.locator("#stream-query-listbox .option-label")).to_have_text(
        ["acme corp", "globex"]
    )
    page.screenshot(path=str(shots / "org-values.png"))
    box.press("ArrowDown")
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value("customer:globex ")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".stream")).to_contain_text("ValueError")
    expect(page.locator(".stream")).not_to_contain_text("KeyError")
    # save it here: it is listed on the organization's stream and the project's
    page.get_by_text("Save this search").click()
    page.get_by_label("Name").fill("Globex everywhere")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page).to_have_url(re.compile(r"/acme/issues/\?query=customer%3Aglobex"))
    saved = page.get_by_role("navigation", name="Saved searches")
    expect(saved).to_contain_text("Globex everywhere")
    expect(page.get_by_role("navigation", name="Recent searches")).to_contain_text(
        "customer:globex"
    )
    page.screenshot(path=str(shots / "org-saved.png"), full_page=True)
    page.goto(f"{server.base_url}/acme/web/issues/?query=")
    expect(page.get_by_role("navigation", name="Saved searches")).to_contain_text(
        "Globex everywhere"
    )
    assert not dialogs
    assert not errors, errors
    print(f"screenshots in {shots}")
