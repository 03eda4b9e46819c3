"""The issue page and its event view: access, content, event navigation, escaping, raw JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from spyglass.events.bodies import compress
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.events.views import tag_query, web_url
from spyglass.issues.models import Issue, Status
from spyglass.projects.models import Organization, Project
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 12, 30, tzinfo=UTC)
PAGE = "/acme/backend/issues/1/"
XSS = "<script>window.__xss=1</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "<svg onload=alert(1)>"


def make_issue(project: Project, number: int = 1, **fields: object) -> Issue:
    values: dict[str, object] = {
        "title": "ValueError: bad input",
        "culprit": "app.views in checkout",
        "first_seen": NOW - timedelta(days=3),
        "last_seen": NOW - timedelta(minutes=5),
        "times_seen": 4,
        "users_seen": 2,
        "first_release": "api@1.0.0",
        "platform": "python",
    }
    values.update(fields)
    return Issue.objects.create(project=project, number=number, **values)


def body(**extra: Any) -> dict[str, Any]:
    frames = [
        {
            "filename": "django/core/handlers.py",
            "function": "inner",
            "lineno": 55,
            "in_app": False,
            "context_line": "    response = get_response(request)",
        },
        {
            "filename": "app/views.py",
            "abs_path": "/srv/app/views.py",
            "function": "checkout",
            "module": "app.views",
            "lineno": 12,
            "in_app": True,
            "pre_context": ["def checkout(request):", "    total = compute()"],
            "context_line": "    raise ValueError('bad input')",
            "post_context": ["", "def other():"],
            "vars": {"total": "42", "request": "<WSGIRequest: POST '/checkout'>"},
        },
    ]
    data: dict[str, Any] = {
        "event_id": "a" * 32,
        "platform": "python",
        "exception": {
            "values": [
                {"type": "KeyError", "value": "'price'", "mechanism": {"type": "chained"}},
                {
                    "type": "ValueError",
                    "value": "bad input",
                    "mechanism": {"type": "django", "handled": False},
                    "stacktrace": {"frames": frames},
                },
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "timestamp": "2026-11-22T12:24:00Z",
                    "category": "query",
                    "level": "info",
                    "message": "SELECT 1",
                    "data": {"rows": 1},
                }
            ]
        },
        "request": {
            "method": "POST",
            "url": "https://shop.example/checkout",
            "query_string": [["step", "2"]],
            "headers": {"User-Agent": "Firefox"},
            "cookies": {"session": "[Filtered]"},
            "data": {"card": "[Filtered]"},
        },
        "user": {"id": "42", "email": "u@example.com"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.12.1"}},
        "tags": [["environment", "production"], ["server_name", "web-1"]],
        "extra": {"batch": 7},
        "sdk": {"name": "sentry.python", "version": "2.19.0"},
        "errors": [{"type": "invalid_data", "name": "contexts.gpu", "value": 3}],
        "_meta": {"request": {"data": {"card": {"": {"rem": [["@creditcard", "s"]]}}}}},
    }
    data.update(extra)
    return data


def make_event(issue: Issue, event_id: str, at: datetime, data: dict[str, Any]) -> Event:
    return Event.objects.create(
        project=issue.project,
        issue=issue,
        event_id=event_id,
        timestamp=at,
        received_at=at,
        title=issue.title,
        environment="production",
        release="api@1.0.0",
        body=compress(issue.project_id, orjson.dumps(data)),
    )


def html(client: Client, path: str = PAGE) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


# -- access ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        PAGE,
        PAGE + "?event=" + "a" * 32,
        PAGE + "events/" + "a" * 32 + "/json/",
        "/umbrella/secret/issues/1/",
        "/umbrella/secret/issues/1/events/" + "b" * 32 + "/json/",
    ],
)
def test_outsiders_get_404_for_issues_events_and_raw_json(
    client: Client, world: World, path: str
) -> None:
    umbrella = Organization.get_or_create_named("Umbrella")
    secret = make_issue(make_project(umbrella, "Secret"))
    make_event(secret, "b" * 32, NOW, body())
    make_event(make_issue(world.project), "a" * 32, NOW, body())
    assert client.get(path)["Location"].startswith("/accounts/sign-in/")
    client.force_login(world.charlie)
    assert client.get(path).status_code == 404
    client.force_login(world.bob)
    assert client.get(path).status_code == (404 if "umbrella" in path else 200)


def test_an_event_id_of_another_issue_or_project_is_404_here(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    other = make_issue(world.project, 2)
    make_event(other, "c" * 32, NOW, body())
    elsewhere = make_issue(world.other_project, 1)
    make_event(elsewhere, "d" * 32, NOW, body())
    make_event(issue, "a" * 32, NOW, body())
    client.force_login(world.bob)
    for event_id in ("c" * 32, "d" * 32, "nope"):
        assert client.get(f"{PAGE}?event={event_id}").status_code == 404
        assert client.get(f"{PAGE}events/{event_id}/json/").status_code == 404
    assert client.get("/acme/backend/issues/99999999999999999999/").status_code == 404


# -- content --------------------------------------------------------------------------------
@time_machine.travel(NOW, tick=False)
def test_the_header_shows_title_culprit_ids_status_counts_times_and_actions(
    client: Client, world: World
) -> None:
    make_issue(world.project)
    client.force_login(world.bob)
    page = html(client)
    for text in ("ValueError: bad input", "app.views in checkout", "BACKEND-1", "python"):
        assert text in page
    assert "priority high" in page and "api@1.0.0" in page
    assert "3 d ago" in page and "5 min ago" in page
    assert 'value="resolve"' in page and f'name="next" value="{PAGE}"' in page
    assert "No stored event" in page


@time_machine.travel(NOW, tick=False)
def test_actions_post_to_the_bulk_endpoint_and_come_back(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    client.force_login(world.bob)
    response = client.post(
        "/acme/backend/issues/bulk/", {"issue": issue.id, "action": "resolve", "next": PAGE}
    )
    assert response["Location"] == PAGE
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    assert 'value="reopen"' in html(client)


@time_machine.travel(NOW, tick=False)
def test_charts_count_hours_and_days_from_the_hourly_buckets(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    hour = int(NOW.timestamp()) // 3600 * 3600
    for hours_ago, count in ((0, 3), (5, 2), (24 * 10, 7), (24 * 40, 100)):
        IssueCount.objects.create(
            issue=issue, resolution=3600, bucket=hour - hours_ago * 3600, count=count
        )
    client.force_login(world.bob)
    response = client.get(PAGE)
    assert sum(response.context["hours"]["values"]) == 5
    assert response.context["hours"]["values"][-1] == 3
    assert sum(response.context["days"]["values"]) == 12
    page = response.content.decode()
    assert 'aria-label="5 events in 24 hours"' in page
    assert 'aria-label="12 events in 30 days"' in page
    assert "style=" not in page


def test_tag_distributions_show_top_values_per_key_with_shares(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project, times_seen=10)
    for key, value, seen in [
        ("environment", "production", 8),
        ("environment", "staging", 2),
        *[("browser", f"Browser {n}", 1) for n in range(7)],
    ]:
        IssueTagValue.objects.create(
            issue=issue, key=key, value=value, times_seen=seen, first_seen=NOW, last_seen=NOW
        )
    client.force_login(world.bob)
    response = client.get(PAGE)
    tags = {t["key"]: t for t in response.context["tags"]}
    assert [t["key"] for t in response.context["tags"]] == ["environment", "browser"]
    assert [(v["value"], v["percent"]) for v in tags["environment"]["values"]] == [
        ("production", 80),
        ("staging", 20),
    ]
    assert len(tags["browser"]["values"]) == 5 and tags["browser"]["count"] == 7
    assert "?query=tags%5Benvironment%5D%3Aproduction" in response.content.decode()


@time_machine.travel(NOW, tick=False)
def test_the_event_view_shows_the_chain_frames_context_vars_and_every_section(
    client: Client, world: World
) -> None:
    make_event(make_issue(world.project), "a" * 32, NOW, body())
    client.force_login(world.bob)
    page = html(client)
    # Most recent first: the ValueError raised, then the KeyError it came from.
    assert page.index("ValueError</span>") < page.index("KeyError</span>")
    assert "unhandled" in page and "django" in page
    # The crash frame (app code) is on top, open and marked; the system frame is folded.
    assert page.index("app/views.py") < page.index("django/core/handlers.py")
    assert "crashed here" in page
    assert '<details open>\n          <summary><span class="mono">app/views.py' in page
    assert '<span class="muted mono">(app.views)</span> in' in page
    assert '<details>\n          <summary><span class="mono">django/core/handlers.py' in page
    assert '<span class="ln">10</span><code>def checkout(request):</code>' in page
    assert 'class="current"><span class="ln">12</span>' in page
    assert "&lt;WSGIRequest: POST &#x27;/checkout&#x27;&gt;" in page
    for text in ("SELECT 1", "query", "https://shop.example/checkout", "step", "Firefox"):
        assert text in page
    assert "CPython" in page and "u@example.com" in page and "sentry.python 2.19.0" in page
    assert "batch" in page and "invalid_data" in page and "contexts.gpu" in page
    assert "request.data.card" in page and "replaced by @creditcard" in page
    assert "?query=tags%5Bserver_name%5D%3Aweb-1" in page
    assert 'href="https://shop.example/checkout"' in page


def test_frames_are_app_code_when_the_sdk_marks_none_and_tags_are_the_derived_ones(
    client: Client, world: World
) -> None:
    data = body(breadcrumbs=[{"timestamp": 1795379591.5, "message": "tick"}])
    for frame in data["exception"]["values"][1]["stacktrace"]["frames"]:
        del frame["in_app"]
    event = make_event(make_issue(world.project), "a" * 32, NOW, data)
    event.tags = [["environment", "production"], ["level", "error"]]
    event.save()
    client.force_login(world.bob)
    response = client.get(PAGE)
    frames = response.context["view"]["exceptions"][0].frames
    assert [f.in_app for f in frames] == [True, True]
    assert [tag[:2] for tag in response.context["view"]["tags"]] == [
        ("environment", "production"),
        ("level", "error"),
    ]
    assert response.context["view"]["breadcrumbs"][0]["timestamp"] == "20:33:11.500"


def test_older_and_newer_links_walk_the_issues_events_by_time(client: Client, world: World) -> None:
    issue = make_issue(world.project)
    for n, event_id in enumerate(("1" * 32, "2" * 32, "3" * 32)):
        make_event(issue, event_id, NOW + timedelta(minutes=n), body(event_id=event_id))
    client.force_login(world.bob)
    latest = client.get(PAGE)
    assert latest.context["event"].event_id == "3" * 32
    assert latest.context["nav"] == {"older": "2" * 32, "newer": None, "oldest": "1" * 32}
    middle = client.get(PAGE + "?event=" + "2" * 32)
    assert middle.context["nav"] == {"older": "1" * 32, "newer": "3" * 32, "oldest": "1" * 32}
    first = client.get(PAGE + "?event=" + "1" * 32)
    assert first.context["nav"] == {"older": None, "newer": "2" * 32, "oldest": None}


def test_the_raw_json_is_a_download_of_the_stored_event(client: Client, world: World) -> None:
    make_event(make_issue(world.project), "a" * 32, NOW, body())
    client.force_login(world.bob)
    response = client.get(PAGE + "events/" + "a" * 32 + "/json/")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="{"a" * 32}.json"'
    assert orjson.loads(response.content)["request"]["method"] == "POST"


def test_a_page_costs_the_same_queries_for_a_small_and_a_big_event(
    client: Client, world: World
) -> None:
    make_event(make_issue(world.project), "a" * 32, NOW, body(exception={"values": []}))
    frames = [{"filename": f"f{n}.py", "function": "f", "lineno": n} for n in range(200)]
    big = body(breadcrumbs=[{"message": f"crumb {n}"} for n in range(100)])
    big["exception"]["values"][1]["stacktrace"]["frames"] = frames
    make_event(make_issue(world.project, 2), "b" * 32, NOW, big)
    client.force_login(world.bob)

    def queries(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        return len(captured)

    # The event view is a fixed cost; the triage panels (assignee, bookmark, activity,
    # links, fingerprints, feedback, releases) add one query each.
    assert queries(PAGE) == queries("/acme/backend/issues/2/") <= 26


# -- hostile events -------------------------------------------------------------------------
def hostile_body() -> dict[str, Any]:
    data = body(
        message=XSS,
        tags=[[XSS, IMG], ["url", "javascript:alert(1)"]],
        extra={IMG: SVG},
        user={"id": XSS, "email": IMG},
        contexts={XSS: {IMG: SVG}},
    )
    exc = data["exception"]["values"][1]
    exc["type"], exc["value"] = XSS, IMG
    frame = exc["stacktrace"]["frames"][1]
    frame.update(
        filename=IMG,
        function=SVG,
        abs_path="javascript:alert(1)",
        context_line=XSS,
        vars={XSS: IMG},
    )
    data["breadcrumbs"]["values"][0].update(message=XSS, category=IMG, data={SVG: XSS})
    data["request"].update(
        url="javascript:alert(1)", headers={IMG: XSS}, data=SVG, query_string=[[XSS, IMG]]
    )
    return data


@pytest.mark.parametrize("event_url", ["javascript:alert(1)", "data:text/html,<b>x</b>"])
def test_hostile_event_data_is_escaped_everywhere_and_never_a_script_link(
    client: Client, world: World, event_url: str
) -> None:
    data = hostile_body()
    data["request"]["url"] = event_url
    issue = make_issue(world.project, title=XSS, culprit=IMG)
    make_event(issue, "a" * 32, NOW, data)
    IssueTagValue.objects.create(
        issue=issue, key=XSS, value=IMG, times_seen=1, first_seen=NOW, last_seen=NOW
    )
    client.force_login(world.bob)
    page = html(client)
    for raw in (XSS, IMG, SVG, "<img", "<svg onload"):
        assert raw not in page
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="javascript:' not in page and 'href="data:' not in page
    assert "javascript:alert(1)" in page  # shown as text


def test_tag_searches_escape_quotes_backslashes_and_wildcards() -> None:
    # A built-in key is written tags[…] so it means the tag, not the issue's field.
    assert tag_query("url", 'say "hi" \\o/*') == r'tags[url]:"say \"hi\" \\o/\*"'
    assert tag_query("browser", "Firefox") == "browser:Firefox"
    assert tag_query("k:x", "a b") == 'tags[k:x]:"a b"'


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://a.example/x?y=1", True),
        ("http://a.example", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html;base64,PHNjcmlwdD4=", False),
        ("//evil.example/x", False),
        ("/relative", False),
        ("https:///nohost", False),
        (None, False),
        (42, False),
    ],
)
def test_only_absolute_http_urls_become_links(url: object, link: bool) -> None:
    assert (web_url(url) != "") is link


def test_a_tag_link_finds_its_issue_even_for_values_with_quotes_and_stars(
    client: Client, world: World
) -> None:
    issue = make_issue(world.project)
    other = make_issue(world.project, 2)
    cases = [
        ("transaction", 'GET "/x"* \\ y'),
        ("release", "api@1.0.0"),
        ("url", "https://shop.example/a?b=c:d"),
        ("custom:key", "x:y (z)"),
        ("os.name", "Windows 11"),
    ]
    for key, value in cases:
        IssueTagValue.objects.create(
            issue=issue, key=key, value=value, times_seen=1, first_seen=NOW, last_seen=NOW
        )
        IssueTagValue.objects.create(
            issue=other, key=key, value=value + "x", times_seen=1, first_seen=NOW, last_seen=NOW
        )
    client.force_login(world.bob)
    for key, value in cases:
        response = client.get("/acme/backend/issues/", {"query": tag_query(key, value)})
        assert response.context["search_error"] is None, (key, value)
        assert [row["issue"].number for row in response.context["rows"]] == [1], (key, value)
