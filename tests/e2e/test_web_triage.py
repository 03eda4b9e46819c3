"""Triage in Debian's Chromium against a real `spyglass serve`, on issues the real sentry-sdk
made: assign and find it under `is:assigned`, bookmark, comment (hostile text stays text),
resolve in a release, merge two issues into one with the summed count, archive until 10
events and send 10 to see it come back, delete and see a new event start a new issue; an
empty project's stream points to its setup, and the organization stream's bulk actions span
projects (merge refused across them); and axe-core finds no serious or critical
accessibility violation on the main pages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.harness import Database, SpyglassServer, wait_for
from tests.e2e.test_web_pages import EMAIL, PASSWORD, sign_in, watch_for_script

pytestmark = pytest.mark.e2e

HOSTILE = '<script>window.__xss=1</script>"><img src=x onerror="window.__xss=2">'
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"

# The real sentry-sdk in a process of its own: SPEC is [[exception type, count], …]; each
# type is an issue of its own (same stack, different type).
CLIENT = """
import json, os, sentry_sdk
sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], release=os.environ["RELEASE"])
ids = []
def fail(exc):
    try:
        raise exc
    except Exception as caught:
        ids.append(sentry_sdk.capture_exception(caught))
for name, count in json.loads(os.environ["SPEC"]):
    for n in range(count):
        fail(getattr(__builtins__, name)(f"{name.lower()} {n}"))
sentry_sdk.flush()
print(json.dumps(ids))
"""
FIRST = [
    ["KeyError", 3],  # assign, bookmark, comment, resolve in a release
    ["IndexError", 2],  # merged with…
    ["AttributeError", 3],  # …this one (the most events: the one that stays)
    ["LookupError", 1],  # archived until 10 more events
    ["ZeroDivisionError", 1],  # deleted
]
STATUS = {"unresolved": 0, "resolved": 1, "ignored": 2}
TOKENS: dict[str, str] = {}  # the server's base URL -> an API token of the developer
DSNS: dict[str, str] = {}  # the server's base URL -> the DSN of its second project, api


def send(
    server: SpyglassServer, spec: list[list[Any]], release: str = "shop@1.0.0", dsn: str = ""
) -> None:
    env = dict(server.env(), SPEC=json.dumps(spec), RELEASE=release)
    env["SENTRY_DSN"] = dsn or server.dsn
    out = subprocess.run(
        [sys.executable, "-c", CLIENT], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout.strip().splitlines()[-1])) == sum(n for _, n in spec)


def api(server: SpyglassServer, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{server.base_url}/api/0/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {TOKENS[server.base_url]}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        content = response.read()
    return json.loads(content) if content else None


def issues(server: SpyglassServer) -> dict[str, list[int]]:
    """Exception type -> [number, status, events, id] of the project's issues (the API)."""
    found: dict[str, list[int]] = {}
    for issue in api(server, "GET", "projects/acme/web/issues/?query=&limit=100"):
        number = int(issue["permalink"].rstrip("/").rsplit("/", 1)[1])
        found[issue["title"].split(":")[0]] = [
            number,
            STATUS[issue["status"]],
            int(issue["count"]),
            int(issue["id"]),
        ]
    return found


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "triage server", digest=True)
    try:
        server.create_project()  # acme/web
        server.manage("createuser", "--email", EMAIL, "--password", PASSWORD)
        out = server.manage("project", "create", "--org", "acme", "--name", "api", "--owner", EMAIL)
        DSNS[server.base_url] = out.strip().splitlines()[-1]  # api's, empty until the last test
        out = server.manage("token", "create", "--email", EMAIL)
        TOKENS[server.base_url] = out.strip().splitlines()[-1].split()[-1]
        server.start()
        send(server, FIRST)
        wait_for(
            lambda: True if sum(v[2] for v in issues(server).values()) == 10 else None,
            "10 events in 5 issues",
        )
        yield server
    finally:
        server.shutdown()
        server.database.drop()


@pytest.fixture(scope="module")
def signed_in(server: SpyglassServer, browser: Browser) -> Any:
    """The developer's session (cookies), signed in once for the module."""
    context = browser.new_context()
    sign_in(context.new_page(), server)
    state = context.storage_state()
    context.close()
    return state


@pytest.fixture
def page(browser: Browser, signed_in: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=signed_in)
    page = context.new_page()
    dialogs = watch_for_script(page)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield page
    assert dialogs == [] and page.evaluate("window.__xss") is None
    assert not errors, errors  # no CSP violation, no missing file, no script error
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("web-triage", numbered=False)


def open_issue(page: Page, server: SpyglassServer, title: str) -> None:
    page.goto(f"{server.base_url}/acme/web/issues/?tab=unresolved&query=")
    page.locator(".issue .title", has_text=title).click()
    expect(page.locator(".issue-head h1")).to_contain_text(title)


def test_assign_bookmark_comment_and_resolve_in_a_release(
    server: SpyglassServer, page: Page, shots: Path
) -> None:
    open_issue(page, server, "KeyError")
    page.get_by_label("Assignee").select_option(label=EMAIL)  # submits on change
    expect(page.locator(".messages")).to_contain_text(f"Assigned to {EMAIL}.")
    expect(page.locator(".assignee-fact")).to_have_text(f"assigned to {EMAIL}")
    page.get_by_role("button", name="☆ Bookmark").click()
    expect(page.get_by_role("button", name="★ Bookmarked")).to_be_visible()
    page.get_by_label("Add a comment").fill(f"Looks like the cart. {HOSTILE}")
    page.get_by_role("button", name="Comment", exact=True).click()
    comment = page.locator(".timeline .note .comment-text").first
    expect(comment).to_have_text(f"Looks like the cart. {HOSTILE}")  # text, not markup
    expect(page.locator(".timeline")).to_contain_text(f"assigned this issue to {EMAIL}")
    page.screenshot(path=str(shots / "issue-triaged.png"), full_page=True)

    # The stream finds it by the triage searches.
    for query in ["is:assigned", "is:bookmarked", "assigned:me"]:
        page.goto(f"{server.base_url}/acme/web/issues/?query={query}")
        expect(page.locator(".issue .title")).to_have_text([re.compile(r"^KeyError: ")])
        expect(page.locator(".issue .meta")).to_contain_text(f"assigned to {EMAIL}")
    page.goto(f"{server.base_url}/acme/web/issues/?query=is:unassigned")
    expect(page.locator(".issue .title")).to_have_count(4)
    page.screenshot(path=str(shots / "stream-unassigned.png"), full_page=True)

    open_issue(page, server, "KeyError")
    page.locator(".action-menu summary", has_text="Resolve in").click()
    page.get_by_label("A release").select_option("shop@1.0.0")
    page.screenshot(path=str(shots / "issue-resolve-menu.png"))
    page.get_by_role("button", name="Resolve in this release").click()
    expect(page.locator(".messages")).to_contain_text("Resolved in shop@1.0.0.")
    expect(page.locator(".resolution-note")).to_have_text("Resolved in release shop@1.0.0.")
    expect(page.locator(".timeline")).to_contain_text("resolved this issue in release shop@1.0.0")
    assert issues(server)["KeyError"][1] == 1  # resolved


def test_merge_two_issues_into_one_with_the_summed_count(
    server: SpyglassServer, page: Page, shots: Path
) -> None:
    page.goto(f"{server.base_url}/acme/web/issues/?query=")
    for title in ["IndexError", "AttributeError"]:
        page.locator(".issue", has_text=title).locator("input[type=checkbox]").check()
    expect(page.locator(".bulk .count")).to_have_text("2 selected")
    page.screenshot(path=str(shots / "stream-merge-selected.png"), full_page=True)
    page.get_by_role("button", name="Merge").click()
    expect(page.locator(".messages")).to_contain_text("2 issues merged into WEB-")
    expect(page.locator(".issue", has_text="IndexError")).to_have_count(0)
    merged = page.locator(".issue", has_text="AttributeError")
    expect(merged.locator(".num.events")).to_contain_text("5")
    merged.locator(".title").click()
    expect(page.locator(".stats")).to_contain_text("5")
    expect(page.locator(".timeline")).to_contain_text("merged WEB-")
    expect(page.locator(".hashes li")).to_have_count(2)  # both fingerprints
    page.screenshot(path=str(shots / "issue-merged.png"), full_page=True)


def test_archive_until_10_events_then_10_events_bring_it_back(
    server: SpyglassServer, page: Page
) -> None:
    open_issue(page, server, "LookupError")
    page.locator(".action-menu summary", has_text="Archive").click()
    page.get_by_role("button", name="Until 10 more events").click()
    expect(page.locator(".messages")).to_contain_text("Issue archived until 10 more events.")
    page.goto(f"{server.base_url}/acme/web/issues/?tab=archived&query=")
    expect(page.locator(".issue .title")).to_have_text(["LookupError: lookuperror 0"])
    send(server, [["LookupError", 9]])
    wait_for(lambda: True if issues(server)["LookupError"][2] == 10 else None, "9 more events")
    assert issues(server)["LookupError"][1] == 2  # 9 are not enough
    send(server, [["LookupError", 1]])
    wait_for(lambda: True if issues(server)["LookupError"][1] == 0 else None, "the 10th event")
    page.goto(f"{server.base_url}/acme/web/issues/?query=LookupError")
    row = page.locator(".issue", has_text="LookupError")
    expect(row.locator(".badge")).to_have_text("escalating")
    expect(row.locator(".num.events")).to_contain_text("11")


def test_delete_asks_then_a_new_event_makes_a_new_issue(
    server: SpyglassServer, page: Page, shots: Path
) -> None:
    number = issues(server)["ZeroDivisionError"][0]
    open_issue(page, server, "ZeroDivisionError")
    page.get_by_role("link", name="Delete…").click()
    expect(page.locator("h1")).to_have_text("Delete 1 issue?")
    page.screenshot(path=str(shots / "delete-confirm.png"), full_page=True)
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("and its events were deleted.")
    expect(page.locator(".issue", has_text="ZeroDivisionError")).to_have_count(0)
    gone = page.request.get(f"{server.base_url}/acme/web/issues/{number}/")
    assert gone.status == 404
    send(server, [["ZeroDivisionError", 1]])
    wait_for(lambda: issues(server).get("ZeroDivisionError"), "a new issue")
    again = issues(server)["ZeroDivisionError"]
    assert again[0] != number and again[2] == 1


def axe_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    assert result["testEngine"]["name"] == "axe-core" and result["passes"], "axe did not run"
    return [v for v in result["violations"] if v["impact"] in ("serious", "critical")]


def summary(violations: list[dict[str, Any]]) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in violations
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_accessibility_violations(
    server: SpyglassServer, browser: Browser, signed_in: Any, shots: Path, scheme: str
) -> None:
    assert AXE.exists(), "run `npm ci` in tests/e2e/js"
    found: dict[str, list[dict[str, Any]]] = {}
    options: dict[str, Any] = {
        "viewport": {"width": 1280, "height": 900},
        "color_scheme": scheme,
        "bypass_csp": True,  # only so axe itself can be injected; the pages are unchanged
    }
    if scheme == "light":
        context = browser.new_context(**options)
        page = context.new_page()
        page.goto(f"{server.base_url}/accounts/sign-in/")
        found["sign-in"] = axe_violations(page)
        context.close()
    context = browser.new_context(**options, storage_state=signed_in)
    page = context.new_page()
    number = issues(server)["AttributeError"][0]
    issue = f"{server.base_url}/acme/web/issues/{number}/"
    pages = {
        "organization": f"{server.base_url}/acme/",
        "stream": f"{server.base_url}/acme/web/issues/?query=",
        "organization stream": f"{server.base_url}/acme/issues/",
        "issue and event": issue,
        "events": f"{issue}events/",
        "tag values": f"{issue}tags/level/",
        "similar": f"{issue}similar/",
        "delete": f"{issue}delete/",
    }
    if scheme == "dark":  # the colours differ, not the markup: the main pages suffice
        pages = {name: pages[name] for name in ("stream", "issue and event")}
    for name, url in pages.items():
        page.goto(url)
        found[name] = axe_violations(page)
        page.screenshot(path=str(shots / f"{scheme}-{name.replace(' ', '-')}.png"), full_page=True)
    context.close()
    bad = {name: summary(v) for name, v in found.items() if v}
    assert not bad, bad


def test_the_write_api_and_the_page_agree(server: SpyglassServer, page: Page) -> None:
    """A comment made through the API shows on the page, escaped."""
    number, _, _, issue_id = issues(server)["AttributeError"]
    note = api(server, "POST", f"issues/{issue_id}/comments/", {"text": f"From the API {HOSTILE}"})
    assert note["data"]["text"] == f"From the API {HOSTILE}"
    changed = api(server, "PUT", f"issues/{issue_id}/", {"priority": "low", "isBookmarked": True})
    assert changed["priority"] == "low" and changed["isBookmarked"] is True
    page.goto(f"{server.base_url}/acme/web/issues/{number}/")
    expect(page.locator(".timeline .note .comment-text").first).to_have_text(
        f"From the API {HOSTILE}"
    )
    expect(page.get_by_label("Priority")).to_have_value("priority-low")
    expect(page.get_by_role("button", name="★ Bookmarked")).to_be_visible()
    assert re.search(r"set the priority to low", page.locator(".timeline").inner_text())


def test_an_empty_project_then_bulk_actions_across_projects_on_the_organization_stream(
    server: SpyglassServer, page: Page, shots: Path
) -> None:
    base = server.base_url
    page.goto(f"{base}/acme/api/issues/")
    hint = page.locator("#no-issues-yet")
    expect(hint).to_contain_text("No events yet.")
    expect(hint.locator(".dsn")).to_have_text(DSNS[base])
    expect(page.locator(".bulk")).to_have_count(0)  # nothing to act on yet
    page.screenshot(path=str(shots / "stream-empty-project.png"), full_page=True)
    hint.get_by_role("link", name="Set up the SDK").click()
    expect(page.locator("body")).to_contain_text("Waiting for the first event")
    send(server, [["TimeoutError", 2]], dsn=DSNS[base])
    page.goto(f"{base}/acme/")
    page.get_by_role("link", name="Issues of all projects").click()

    def listed() -> bool | None:
        page.reload()
        return page.locator(".issue", has_text="TimeoutError").count() == 1 or None

    wait_for(listed, "the api project's issue in the organization stream")
    for title in ["TimeoutError", "AttributeError"]:
        page.locator(".issue", has_text=title).locator("input.check").check()
    expect(page.locator(".bulk .count")).to_have_text("2 selected")
    page.get_by_role("button", name="Merge").click()
    expect(page.locator(".messages .error")).to_have_text(
        "Only issues of one project can be merged; the selected ones are in api, web."
    )
    for title in ["TimeoutError", "AttributeError"]:
        page.locator(".issue", has_text=title).locator("input.check").check()
    page.locator(".bulk summary", has_text="Assign").click()
    page.locator(".bulk").get_by_role("button", name=EMAIL).click()
    expect(page.locator(".messages")).to_contain_text(f"2 issues assigned to {EMAIL}.")
    timeout = page.locator(".issue", has_text="TimeoutError")
    expect(timeout.locator(".assigned")).to_have_text(f"assigned to {EMAIL}")
    expect(timeout.locator(".project-name")).to_have_text("api")
    page.screenshot(path=str(shots / "organization-stream-bulk.png"), full_page=True)
    timeout.locator("input.check").check()
    page.get_by_role("button", name="Resolve", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("1 issue resolved.")
    expect(page.locator(".issue", has_text="TimeoutError")).to_have_count(0)
