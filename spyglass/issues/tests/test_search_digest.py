"""Issue search over events that went through the real digest, sent by the real `sentry-sdk`:
the tags the digest derives are the ones the search keys read."""

from __future__ import annotations

import pytest
import sentry_sdk
from django.utils import timezone

from spyglass.digest.batch import process_batch
from spyglass.digest.tests.sdk import queued, raise_and_capture, sdk
from spyglass.issues.search import issue_queryset
from spyglass.search import Scope, parse
from spyglass.test import World

pytestmark = pytest.mark.django_db(transaction=True)


def checkout_failure() -> BaseException:
    cart: dict[str, int] = {}
    try:
        cart["cart"]
    except KeyError as error:
        return error
    raise AssertionError("did not raise")


def send(world: World) -> None:
    options = {"release": "api@3.0.0", "environment": "production", "server_name": "web-7"}
    with sentry_sdk.isolation_scope(), sdk(**options) as capture:
        sentry_sdk.set_user({"email": "erin@example.com"})
        sentry_sdk.set_tag("customer", "initech")
        sentry_sdk.get_current_scope().set_transaction_name("POST /api/checkout")
        raise_and_capture(checkout_failure)
    with sdk(release="api@3.0.1", environment="staging") as more:
        sentry_sdk.capture_message("cache warmed", level="info")
    process_batch(queued(world.project.id, capture.envelopes + more.envelopes, key_id=world.key.id))


def titles(world: World, query: str) -> set[str]:
    now = timezone.now()
    ast = parse(query, now=now, scope=Scope.ISSUE)
    issues = issue_queryset(ast, project_ids=[world.project.id], user=world.alice, now=now)
    return set(issues.values_list("title", flat=True))


KEY_ERROR, MESSAGE = "KeyError: 'cart'", "cache warmed"
TABLE = [
    ("environment:production", {KEY_ERROR}),
    ("!environment:production", {MESSAGE}),
    ("release:api@3.0.0", {KEY_ERROR}),
    ("release:latest", {MESSAGE}),
    ("firstRelease:api@3.*", {KEY_ERROR, MESSAGE}),
    ("server_name:web-7", {KEY_ERROR}),
    ('transaction:"POST /api/checkout"', {KEY_ERROR}),
    ("user.email:erin@example.com", {KEY_ERROR}),
    ("has:user.email", {KEY_ERROR}),
    ("customer:initech", {KEY_ERROR}),
    ("error.type:KeyError", {KEY_ERROR}),
    ("error.value:*cart*", {KEY_ERROR}),
    ("stack.function:checkout_failure", {KEY_ERROR}),
    ("has:error.mechanism", {KEY_ERROR}),
    ("level:info", {MESSAGE}),
    ("sdk.name:sentry.python", {KEY_ERROR, MESSAGE}),
    ("is:unresolved is:new firstSeen:-1h timesSeen:1", {KEY_ERROR, MESSAGE}),
    ("cache", {MESSAGE}),
    ("platform:python", {KEY_ERROR, MESSAGE}),
]


def test_searches_find_what_the_digest_stored(world: World) -> None:
    send(world)
    wrong = {q: titles(world, q) for q, expected in TABLE if titles(world, q) != expected}
    assert not wrong
