"""The performance pages, from transactions a real sentry-sdk sent through the digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sentry_sdk
from django.test import Client

from spyglass.digest.batch import process_batch
from spyglass.digest.tests.sdk import queued, sdk
from spyglass.events.models import Event
from spyglass.issues.models import Issue
from spyglass.perfissues.models import DetectorSettings
from spyglass.performance.models import Transaction, apdex_thresholds
from spyglass.projects.models import Member, Organization, Role
from spyglass.test import World, make_project

pytestmark = pytest.mark.django_db

BOOKS = "SELECT id, title FROM books WHERE author_id = ?"


def checkout(fail: bool = False) -> None:
    start = datetime.now(UTC) - timedelta(minutes=2)
    with sentry_sdk.start_transaction(
        op="http.server", name="GET /authors", start_timestamp=start
    ) as tx:
        tx.set_tag("region", "eu-west")
        at = start
        parent = tx.start_child(op="function", name="load_authors", start_timestamp=at)
        for n in range(6):
            span = parent.start_child(op="db", name=BOOKS, start_timestamp=at)
            span.set_data("db.system", "sqlite")
            at += timedelta(milliseconds=15 + n)
            span.finish(end_timestamp=at)
        call = tx.start_child(
            op="http.client", name="GET https://api.test/rates", start_timestamp=at
        )
        if fail:
            with sentry_sdk.get_current_scope().start_span(op="function", name="fail") as inner:
                del inner
                try:
                    raise ValueError("rates unavailable <script>")
                except ValueError as exc:
                    sentry_sdk.capture_exception(exc)
            tx.set_status("internal_error")
        at += timedelta(milliseconds=40)
        call.finish(end_timestamp=at)
        parent.finish(end_timestamp=at)
        tx.finish(end_timestamp=at + timedelta(milliseconds=5))


def page_load(lcp: float) -> None:
    start = datetime.now(UTC) - timedelta(minutes=3)
    with sentry_sdk.start_transaction(op="pageload", name="/checkout", start_timestamp=start) as tx:
        tx.set_measurement("lcp", lcp, "millisecond")  # the browser SDKs still send these
        tx.set_measurement("fcp", 900, "millisecond")
        tx.set_measurement("cls", 0.3, "")
        span = tx.start_child(
            op="resource.script", name="https://cdn.test/app.js", start_timestamp=start
        )
        span.finish(end_timestamp=start + timedelta(milliseconds=30))
        tx.finish(end_timestamp=start + timedelta(milliseconds=1200))


@pytest.fixture
def data(world: World, django_capture_on_commit_callbacks: Any) -> World:
    with sdk(traces_sample_rate=1.0, environment="production") as sent:
        checkout()
        checkout(fail=True)
        for lcp in (1000, 2000, 3000, 5000):
            page_load(lcp)
    with django_capture_on_commit_callbacks(execute=True):
        process_batch(queued(world.project.id, sent.envelopes, key_id=world.key.id))
    return world


def get(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.content.decode()


def base(world: World) -> str:
    return f"/{world.org.slug}/{world.project.slug}/performance/"


def test_the_overview_lists_transactions_with_their_numbers_and_charts(
    data: World, client: Client
) -> None:
    client.force_login(data.bob)
    page = get(client, base(data))
    assert "GET /authors" in page and "/checkout" in page
    assert "50.0 %" in page  # one of two checkouts failed
    assert page.count("<svg") >= 3
    sorted_page = get(client, base(data) + "?sort=name")
    assert sorted_page.index("/checkout") < sorted_page.index("GET /authors")


def test_the_overview_searches_with_the_search_language(data: World, client: Client) -> None:
    client.force_login(data.bob)
    page = get(client, base(data) + "?query=transaction.op:pageload")
    assert "/checkout" in page and "GET /authors" not in page
    bad = get(client, base(data) + "?query=transaction.duration:%3Efast")
    assert 'role="alert"' in bad


def test_the_summary_shows_histogram_slowest_statuses_tags_spans_and_related_issues(
    data: World, client: Client
) -> None:
    client.force_login(data.bob)
    page = get(client, base(data) + "summary/?transaction=GET%20/authors")
    assert "Duration histogram" in page and "internal_error" in page
    assert "eu-west" in page
    assert ">db<" in page and ">http<" in page
    issue = Issue.objects.get(category="error")
    assert issue.title in page.replace("&lt;", "<").replace("&gt;", ">")
    assert "<script>" not in page.split("<body>")[1].replace("<script src", "")
    for tx in Transaction.objects.filter(name="GET /authors"):
        assert f"performance/events/{tx.event_id}/" in page


def test_the_event_page_draws_the_waterfall_with_the_error_inside(
    data: World, client: Client
) -> None:
    client.force_login(data.bob)
    failed = Transaction.objects.get(name="GET /authors", status="internal_error")
    page = get(client, base(data) + f"events/{failed.event_id}/")
    assert page.count('class="wf-row') == failed.span_count + 1
    assert BOOKS in page and "Self time" in page and "sqlite" in page
    error = Event.objects.get()
    assert f"?event={error.event_id}" in page
    assert f"/{data.org.slug}/traces/{failed.trace_id}/" in page


def test_the_trace_view_shows_transactions_and_errors_across_projects(
    data: World, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    backend = Transaction.objects.get(name="GET /authors", status="internal_error")
    start = backend.start - timedelta(milliseconds=50)
    with sdk(traces_sample_rate=1.0) as sent:
        browser = sentry_sdk.continue_trace(
            {"sentry-trace": f"{backend.trace_id}-{'b' * 16}-1"}, op="pageload", name="/books"
        )
        with sentry_sdk.start_transaction(browser, start_timestamp=start) as tx:
            tx.finish(end_timestamp=start + timedelta(milliseconds=400))
    with django_capture_on_commit_callbacks(execute=True):
        process_batch(queued(data.other_project.id, sent.envelopes, key_id=data.other_key.id))
    client.force_login(data.bob)
    page = get(client, f"/{data.org.slug}/traces/{backend.trace_id}/")
    assert "/books" in page and "GET /authors" in page and "rates unavailable" in page
    assert data.project.name in page and data.other_project.name in page


def test_the_trace_view_finds_an_error_of_the_trace_hours_away_from_its_transactions(
    data: World, client: Client
) -> None:
    backend = Transaction.objects.get(name="GET /authors", status="internal_error")
    Event.objects.filter(trace_id=backend.trace_id).update(
        timestamp=backend.start + timedelta(hours=5)
    )
    client.force_login(data.bob)
    page = get(client, f"/{data.org.slug}/traces/{backend.trace_id}/")
    assert "rates unavailable" in page


def test_web_vitals_are_p75_per_page_rated_at_sentrys_thresholds(
    data: World, client: Client
) -> None:
    client.force_login(data.bob)
    page = get(client, base(data) + "vitals/")
    assert "/checkout" in page
    assert "3.00 s" in page  # p75 of 1, 2, 3 and 5 s
    assert "rating-meh" in page and "rating-poor" in page and "rating-good" in page


def test_detector_settings_are_saved_by_admins_and_read_only_for_members(
    data: World, client: Client
) -> None:
    client.force_login(data.bob)
    page = get(client, base(data) + "settings/")
    assert "N+1 Query" in page and "disabled" in page
    assert client.post(base(data) + "settings/", {}).status_code == 403
    client.force_login(data.alice)
    form: dict[str, Any] = {}
    from spyglass.perfissues.detectors import DETECTORS

    for key, detector in DETECTORS.items():
        form[f"{key}__enabled"] = "on"
        for threshold in detector.thresholds:
            form[f"{key}__{threshold.name}"] = threshold.default
    del form["slow_db_query__enabled"]
    form["n_plus_one_db_queries__count"] = 8
    form["apdex_threshold_ms"] = 500
    response = client.post(base(data) + "settings/", form)
    assert response.status_code == 302
    saved = DetectorSettings.objects.get(project=data.project)
    assert saved.disabled == ["slow_db_query"]
    assert saved.thresholds == {"n_plus_one_db_queries": {"count": 8.0}}
    assert apdex_thresholds([data.project.id]) == {data.project.id: 500.0}
    form["n_plus_one_db_queries__count"] = -1
    assert "field-error" in client.post(base(data) + "settings/", form).content.decode()
    form["n_plus_one_db_queries__count"] = 8
    form["apdex_threshold_ms"] = 0
    assert "field-error" in client.post(base(data) + "settings/", form).content.decode()
    assert apdex_thresholds([data.project.id]) == {data.project.id: 500.0}
    page = get(client, base(data) + "settings/")
    assert 'value="500"' in page and "read-only-note" not in page


def test_performance_is_a_section_of_the_project_settings(data: World, client: Client) -> None:
    client.force_login(data.bob)
    general = get(client, f"/{data.org.slug}/{data.project.slug}/settings/")
    assert f'href="{base(data)}settings/"' in general and ">Performance<" in general
    page = get(client, base(data) + "settings/")
    assert 'aria-current="page">Performance<' in page and "Apdex threshold" in page
    assert "read-only-note" in page  # a member sees it read-only
    other = Organization.get_or_create_named("Elsewhere")
    Member.objects.create(organization=other, user=data.charlie, role=Role.OWNER)
    client.force_login(data.charlie)
    get(client, base(data) + "settings/", 404)
    assert client.post(base(data) + "settings/", {"apdex_threshold_ms": 1}).status_code == 404


def test_nobody_outside_the_organization_sees_any_page_even_by_guessing(
    data: World, client: Client
) -> None:
    tx = Transaction.objects.filter(name="GET /authors").first()
    assert tx is not None
    urls = [
        base(data),
        base(data) + "summary/?transaction=GET%20/authors",
        base(data) + f"events/{tx.event_id}/",
        base(data) + "vitals/",
        base(data) + "settings/",
        f"/{data.org.slug}/traces/{tx.trace_id}/",
    ]
    other = Organization.get_or_create_named("Umbrella")
    Member.objects.create(organization=other, user=data.charlie, role=Role.OWNER)
    theirs = make_project(other, "Theirs")
    client.force_login(data.charlie)
    for url in urls:
        get(client, url, 404)
    assert client.post(base(data) + "settings/", {}).status_code == 404
    mine = f"/{other.slug}/{theirs.slug}/performance/"
    get(client, mine + f"events/{tx.event_id}/", 404)
    get(client, f"/{other.slug}/traces/{tx.trace_id}/", 404)
    get(client, mine + "events/not-hex/", 404)
    get(client, f"/{other.slug}/traces/zz/", 404)
    get(client, mine)  # their own page works


def test_performance_issue_pages_show_the_span_evidence(data: World, client: Client) -> None:
    issue = Issue.objects.get(category="performance")
    client.force_login(data.bob)
    page = get(client, f"/{data.org.slug}/{data.project.slug}/issues/{issue.number}/")
    assert "Span evidence" in page and BOOKS in page
    assert "Repeating spans (6)" in page
    # Only the evidence's own styles: the performance pages' would restyle the issue page.
    assert "performance/waterfall.css" in page and "performance/performance.css" not in page


def test_the_detector_found_the_n_plus_one_once_for_both_transactions(data: World) -> None:
    issue = Issue.objects.get(category="performance")
    assert issue.times_seen == 2 and issue.title == "N+1 Query"
    assert not DetectorSettings.objects.exists()


def test_an_error_links_to_its_trace_and_transaction(data: World, client: Client) -> None:
    error = Event.objects.get()
    client.force_login(data.bob)
    page = get(client, f"/{data.org.slug}/{data.project.slug}/issues/{error.issue.number}/")
    assert f"/{data.org.slug}/traces/{error.trace_id}/" in page
    assert error.transaction == "GET /authors", error.transaction
    assert "performance/summary/?transaction=GET%20%2Fauthors" in page


def test_web_vitals_sent_as_spans_of_their_own_count_for_their_page(
    data: World, client: Client
) -> None:
    from spyglass.digest.tests.test_items import item, run

    spans = []
    for n, load in enumerate(Transaction.objects.filter(op="pageload")):
        at = load.start.timestamp()
        spans.append(
            {
                "trace_id": load.trace_id,
                "span_id": f"{n + 1:016x}",
                "parent_span_id": load.span_id,
                "name": "Layout shift",
                "start_timestamp": at,
                "end_timestamp": at,
                "is_segment": False,
                "attributes": {
                    "sentry.op": {"type": "string", "value": "ui.webvital.cls"},
                    "sentry.segment.id": {"type": "string", "value": load.span_id},
                    "browser.web_vital.cls.value": {"type": "double", "value": 0.05},
                },
            }
        )
    run([item(data, "span", {"items": spans})])
    client.force_login(data.bob)
    page = get(client, base(data) + "vitals/")
    # The spans' CLS (0.05) replaced the 0.3 the loads measured themselves: read once each.
    assert "4 measured" in page and "8 measured" not in page
    assert {t.measurements["cls"]["value"] for t in Transaction.objects.filter(op="pageload")} == {
        0.05
    }
