"""Transaction name clustering: the tree algorithm on synthetic names, Relay's identifier
scrubbing, and end to end from the real sentry-sdk through the digest, the scheduler's job
and the performance pages."""

from __future__ import annotations

import string
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sentry_sdk
from django.test import Client
from django.utils import timezone
from sentry_relay.processing import StoreNormalizer

from spyglass.core.scheduler import JOBS
from spyglass.digest.batch import process_batch
from spyglass.digest.tests.sdk import queued, sdk
from spyglass.digest.tests.test_items import item, run
from spyglass.events.bodies import decompress
from spyglass.performance import clustering
from spyglass.performance.clustering import Rule, cluster, scrub
from spyglass.performance.models import (
    Transaction,
    TransactionNameRule,
    TransactionNameSample,
)
from spyglass.test import World


@pytest.fixture(autouse=True)
def _fresh_caches() -> Iterator[None]:
    clustering.forget()
    yield
    clustering.forget()


def word(n: int) -> str:
    """A path segment without digits (Relay would scrub those itself): a, b, …, ba, bb, …"""
    letters = string.ascii_lowercase
    out = ""
    while True:
        out = letters[n % 26] + out
        n //= 26
        if n == 0:
            return "item-" + out


# -- the algorithm ----------------------------------------------------------------------------


def test_a_level_with_201_distinct_segments_becomes_a_rule_and_200_do_not() -> None:
    assert cluster(f"/users/{word(n)}/profile" for n in range(201)) == ["/users/*/**"]
    assert cluster(f"/users/{word(n)}/profile" for n in range(200)) == []


def test_the_threshold_counts_distinct_children_not_names() -> None:
    names = [f"/users/{word(n % 150)}/{tail}" for n in range(600) for tail in ("a", "b")]
    assert cluster(names) == []
    assert cluster(names, threshold=149) == ["/users/*/**"]


def test_merged_levels_nest_and_the_most_specific_rule_comes_first() -> None:
    names = [f"/orgs/{word(n)}/projects/{word(n * 3 + k)}" for n in range(201) for k in range(2)]
    names += [f"/orgs/{word(n)}/settings" for n in range(5)]
    assert cluster(names) == ["/orgs/*/projects/*/**", "/orgs/*/**"]


def test_a_level_merged_below_a_plain_one_keeps_its_siblings() -> None:
    names = [f"/api/users/{word(n)}" for n in range(201)] + ["/api/health", "/api/users"]
    assert cluster(names) == ["/api/users/*/**"]


def test_names_whose_identifiers_are_scrubbed_already_make_no_rule() -> None:
    names = ["/users/*", "/users/*/edit", "/orders/*/items/*", "/"] * 300
    assert cluster(names) == []


def test_a_method_before_the_path_is_kept_and_never_merged() -> None:
    assert cluster(f"GET /items/{word(n)}" for n in range(201)) == ["GET /items/*/**"]
    assert cluster(f"{word(n)} /items" for n in range(300)) == []


def test_a_rule_replaces_its_stars_and_keeps_the_rest() -> None:
    rule = Rule.of("/users/*/**")
    assert rule.apply("/users/bob") == "/users/*"
    assert rule.apply("/users/bob/") == "/users/*/"
    assert rule.apply("/users/bob/orders/x") == "/users/*/orders/x"
    assert rule.apply("/users") is None
    assert rule.apply("/members/bob") is None
    assert Rule.of("/a/*/b/*/**").apply("/a/x/b/y/z") == "/a/*/b/*/z"
    assert Rule.of("/a/*/b/*/**").apply("/a/x/c/y") is None


def test_the_most_specific_matching_rule_renames_whatever_its_first_segment() -> None:
    rules = clustering.RuleSet.of(["/*/**", "/users/*/**", "/users/*/posts/*/**", "GET /a/*/**"])
    assert rules.rename("/users/bob/posts/hi") == (
        "/users/*/posts/*",
        Rule.of("/users/*/posts/*/**"),
    )
    assert rules.rename("/users/bob/likes/hi") == ("/users/*/likes/hi", Rule.of("/users/*/**"))
    assert rules.rename("/teams/red/x") == ("/*/red/x", Rule.of("/*/**"))
    assert rules.rename("GET /a/b") == ("GET /a/*", Rule.of("GET /a/*/**"))
    assert rules.rename("GET /b/c") is None
    assert rules.rename("nothing") is None


RELAY_CASES = [
    "/users/123",
    "/users/7/orders",
    "/x/12/y",
    "/x/abc123/y",
    "/x/2024-01-02/y",
    "/x/0xdeadbeef/y",
    "/x/" + "a" * 40 + "/y",
    "/x/" + "b" * 32,
    "/x/9f8c2a1b-1111-2222-3333-444455556666/y",
    "/x/abcdefab-cdef-abcd-efab-cdefabcdefab/y",
    "/x/deadbeef/y",
    "/x/a1b2c3/v2/file.js",
    "/x/user_42/12.5",
    "GET /api/items/77?page=2",
    "/a\\12\\b",
]


@pytest.mark.parametrize("name", RELAY_CASES)
def test_identifiers_are_scrubbed_as_relay_scrubs_them(name: str) -> None:
    event = {
        "type": "transaction",
        "event_id": "c" * 32,
        "transaction": name,
        "transaction_info": {"source": "url"},
        "start_timestamp": time.time() - 1,
        "timestamp": time.time(),
        "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16, "op": "pageload"}},
    }
    normalizer = StoreNormalizer(json_dumps=orjson.dumps, project_id=1)
    relay = normalizer.normalize_event(raw_event=orjson.dumps(event), json_loads=orjson.loads)
    assert scrub(name) == relay["transaction"]


# -- discovery and its rules ------------------------------------------------------------------


def samples(world: World, names: list[str], seen: datetime) -> None:
    TransactionNameSample.objects.bulk_create(
        TransactionNameSample(project=world.project, name=n, last_seen=seen) for n in names
    )


@pytest.mark.django_db
def test_discovery_adds_rules_refreshes_known_ones_and_drops_expired_ones(world: World) -> None:
    now = timezone.now()
    samples(world, [f"/users/{word(n)}" for n in range(201)], now - timedelta(hours=1))
    samples(world, [f"/old/{word(n)}" for n in range(201)], now - timedelta(hours=25))
    known = TransactionNameRule.objects.create(
        project=world.project,
        pattern="/users/*/**",
        created_at=now - timedelta(days=80),
        last_used=now - timedelta(days=80),
    )
    TransactionNameRule.objects.create(
        project=world.project,
        pattern="/gone/*/**",
        created_at=now - timedelta(days=100),
        last_used=now - timedelta(days=91),
    )
    clustering.discover(now)
    rules = {r.pattern: r for r in TransactionNameRule.objects.filter(project=world.project)}
    assert set(rules) == {"/users/*/**"}  # the 25-hour-old names are no input any more
    assert rules["/users/*/**"].id == known.id and rules["/users/*/**"].last_used == now
    assert not TransactionNameSample.objects.filter(name__startswith="/old/").exists()


@pytest.mark.django_db
def test_the_scheduler_runs_discovery_hourly(world: World) -> None:
    job = next(job for job in JOBS if job.name == "cluster-transaction-names")
    assert job.every == 3600
    samples(world, [f"/p/{word(n)}/q" for n in range(300)], timezone.now())
    job.run()
    assert list(TransactionNameRule.objects.values_list("pattern", flat=True)) == ["/p/*/**"]


# -- end to end -------------------------------------------------------------------------------


def send_url_named(names: list[str], status: int = 200) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(minutes=2)
    with sdk(traces_sample_rate=1.0, environment="production") as sent:
        for name in names:
            with sentry_sdk.start_transaction(
                op="http.server", name=name, source="url", start_timestamp=start
            ) as tx:
                tx.set_http_status(status)
                tx.finish(end_timestamp=start + timedelta(milliseconds=30))
    return sent.envelopes


def digest(world: World, envelopes: list[bytes], capture: Any) -> None:
    with capture(execute=True):
        process_batch(queued(world.project.id, envelopes, key_id=world.key.id))


@pytest.mark.django_db
def test_url_named_transactions_from_the_sdk_land_under_the_discovered_rule(
    world: World, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    # Relay scrubs the numeric id on its own; the product slugs need a discovered rule.
    sent = [f"/shop/{word(n)}/reviews" for n in range(201)] + ["/shop/item-42/reviews"]
    digest(world, send_url_named(sent), django_capture_on_commit_callbacks)
    names = set(Transaction.objects.values_list("name", flat=True))
    assert "/shop/*/reviews" in names and "/shop/item-a/reviews" in names
    assert TransactionNameSample.objects.filter(project=world.project).count() == 202

    clustering.discover()
    assert list(TransactionNameRule.objects.values_list("pattern", flat=True)) == ["/shop/*/**"]

    later = ["/shop/item-new/reviews", "/shop/item-other", "/about"]
    digest(world, send_url_named(later), django_capture_on_commit_callbacks)
    renamed = Transaction.objects.exclude(name__startswith="/shop/item-")
    assert sorted(renamed.values_list("name", flat=True)) == sorted(
        ["/shop/*/reviews"] * 2 + ["/shop/*", "/about"]
    )
    event = orjson.loads(decompress_body(Transaction.objects.get(name="/shop/*")))
    assert event["transaction"] == "/shop/*"
    assert event["transaction_info"]["source"] == "sanitized"

    client.force_login(world.bob)
    page = client.get(f"/{world.org.slug}/{world.project.slug}/performance/").content.decode()
    assert "/shop/*/reviews" in page and "/shop/*</" in page


def decompress_body(tx: Transaction) -> bytes:
    body: bytes = decompress(bytes(tx.body))
    return body


@pytest.mark.django_db
def test_names_of_other_sources_and_of_404s_are_not_discovered(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    TransactionNameRule.objects.create(
        project=world.project,
        pattern="/shop/*/**",
        created_at=timezone.now(),
        last_used=timezone.now(),
    )
    missing = [f"/missing/{word(n)}" for n in range(3)] + ["/shop/item-a"]
    digest(world, send_url_named(missing, status=404), django_capture_on_commit_callbacks)
    start = datetime.now(UTC) - timedelta(minutes=2)
    with (
        sdk(traces_sample_rate=1.0) as sent,
        sentry_sdk.start_transaction(
            op="http.server", name="/shop/item-b", source="route", start_timestamp=start
        ) as tx,
    ):
        tx.finish(end_timestamp=start + timedelta(milliseconds=30))
    digest(world, sent.envelopes, django_capture_on_commit_callbacks)
    assert not TransactionNameSample.objects.exists()
    names = set(Transaction.objects.values_list("name", flat=True))
    assert "/shop/*" in names  # a 404 is still renamed, as Relay does
    assert "/shop/item-b" in names  # a route is the application's own name


def streamed_segment(span_id: str, name: str, source: str, **extra: Any) -> dict[str, Any]:
    now = time.time() - 60
    attributes = {
        "sentry.op": {"type": "string", "value": "http.server"},
        "sentry.segment.name": {"type": "string", "value": name},
        "sentry.segment.name.source": {"type": "string", "value": source},
    }
    attributes.update({k: {"type": "integer", "value": v} for k, v in extra.items()})
    return {
        "trace_id": "a" * 32,
        "span_id": span_id,
        "name": name,
        "start_timestamp": now,
        "end_timestamp": now + 0.2,
        "is_segment": True,
        "status": "ok",
        "attributes": attributes,
    }


@pytest.mark.django_db
def test_streamed_segments_are_scrubbed_and_renamed_like_transactions(world: World) -> None:
    TransactionNameRule.objects.create(
        project=world.project,
        pattern="/shop/*/**",
        created_at=timezone.now(),
        last_used=timezone.now() - timedelta(days=2),
    )
    segments = [
        streamed_segment("1" * 16, "/orders/123/items/9f8c2a1b-1111-2222-3333-444455556666", "url"),
        streamed_segment("2" * 16, "/shop/item-a/reviews", "url"),
        streamed_segment("3" * 16, "/shop/item-b", "route"),
        streamed_segment("4" * 16, "/nothing/item-c", "url", **{"http.response.status_code": 404}),
    ]
    run([item(world, "span", {"items": segments})])
    assert sorted(Transaction.objects.values_list("name", flat=True)) == [
        "/nothing/item-c",
        "/orders/*/items/*",
        "/shop/*/reviews",
        "/shop/item-b",
    ]
    assert sorted(TransactionNameSample.objects.values_list("name", flat=True)) == [
        "/orders/*/items/*",
        "/shop/*/reviews",
    ]
    rule = TransactionNameRule.objects.get()
    assert rule.last_used > timezone.now() - timedelta(minutes=1)  # used: its life goes on


@pytest.mark.django_db
def test_a_streamed_server_span_named_by_its_method_is_named_by_method_and_path(
    world: World,
) -> None:
    segment = streamed_segment("6" * 16, "GET", "url")
    segment["attributes"]["http.request.method"] = {"type": "string", "value": "GET"}
    segment["attributes"]["url.path"] = {"type": "string", "value": "/orders/123/items"}
    custom = streamed_segment("7" * 16, "GET", "custom")
    custom["attributes"]["url.path"] = segment["attributes"]["url.path"]
    custom["attributes"]["http.request.method"] = segment["attributes"]["http.request.method"]
    run([item(world, "span", {"items": [segment, custom]})])
    assert sorted(Transaction.objects.values_list("name", flat=True)) == [
        "GET",
        "GET /orders/*/items",
    ]


@pytest.mark.django_db
def test_an_expired_rule_renames_nothing(world: World) -> None:
    TransactionNameRule.objects.create(
        project=world.project,
        pattern="/shop/*/**",
        created_at=timezone.now() - timedelta(days=200),
        last_used=timezone.now() - timedelta(days=91),
    )
    run([item(world, "span", {"items": [streamed_segment("5" * 16, "/shop/item-a", "url")]})])
    assert Transaction.objects.get().name == "/shop/item-a"


@pytest.mark.django_db
def test_the_rules_load_once_per_process_and_minute(
    world: World, django_assert_num_queries: Any
) -> None:
    clustering.rename_segment(world.project.id, "/a/b", {"sentry.segment.name.source": "url"})
    with django_assert_num_queries(0):
        for n in range(50):
            clustering.rename_segment(
                world.project.id, f"/a/{word(n)}", {"sentry.segment.name.source": "url"}
            )


# -- the settings page ------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_settings_page_lists_the_rules_and_an_owner_deletes_one(
    world: World, client: Client
) -> None:
    now = timezone.now()
    rule = TransactionNameRule.objects.create(
        project=world.project, pattern="/users/*/**", created_at=now, last_used=now
    )
    url = f"/{world.org.slug}/{world.project.slug}/performance/settings/"
    client.force_login(world.bob)  # a member: reads, cannot delete
    page = client.get(url).content.decode()
    assert "<code>/users/*/**</code>" in page and "delete_name_rule" not in page
    assert client.post(url, {"delete_name_rule": str(rule.id)}).status_code == 403
    assert TransactionNameRule.objects.filter(id=rule.id).exists()

    client.force_login(world.alice)
    assert 'name="delete_name_rule"' in client.get(url).content.decode()
    response = client.post(url, {"delete_name_rule": str(rule.id)}, follow=True)
    assert "Transaction name rule deleted." in response.content.decode()
    assert not TransactionNameRule.objects.exists()
    assert "No rules yet" in response.content.decode()
