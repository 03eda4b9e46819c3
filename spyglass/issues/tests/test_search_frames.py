"""Stack frame search (`stack.*`, `location`, `error.main_thread`) over events the real
`sentry-sdk` sent through the real digest: every frame of every stack trace counts, not only
the crash frame, in issue search and in event search."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import StringIO
from typing import TYPE_CHECKING

import pytest
import sentry_sdk
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from spyglass.digest.batch import process_batch
from spyglass.digest.tests.sdk import queued, raise_and_capture, sdk
from spyglass.events.models import Event
from spyglass.events.query import event_queryset
from spyglass.issues.search import issue_queryset
from spyglass.search import Scope, parse
from spyglass.test import World, check_frames_index

if TYPE_CHECKING:
    from sentry_sdk._types import Event as SdkEvent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_texts_left() -> Iterator[None]:
    """The issues' frames texts go with the test: PostgreSQL's flush truncates the events
    without their triggers and never empties this table (no model of Django's)."""
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM events_issueframes")


APP = "/Applications/Beacon.app/Beacon"


def load_cart() -> BaseException:
    try:
        json.loads('{"cart": ')
    except ValueError as error:
        return error
    raise AssertionError("did not raise")


def native_crash(title: str, thread_id: int, main: bool) -> SdkEvent:
    """A native crash as Apple and Android SDKs send it: frames with packages, and threads
    of which one is the main thread."""
    frames = [
        {"function": "main", "package": APP, "instruction_addr": "0x1000"},
        {"function": "abort", "package": "/usr/lib/system/libsystem_c.dylib"},
    ]
    return {
        "level": "fatal",
        "exception": {
            "values": [
                {
                    "type": title,
                    "value": "crashed",
                    "thread_id": thread_id,
                    "stacktrace": {"frames": frames},
                    "mechanism": {"type": "signalhandler", "handled": False},
                }
            ]
        },
        "threads": {
            "values": [
                {"id": thread_id, "crashed": True, "main": main},
                {
                    "id": 99,
                    "main": not main,
                    "stacktrace": {"frames": [{"function": "worker_loop", "package": APP}]},
                },
            ]
        },
    }


def send(world: World) -> None:
    with sentry_sdk.isolation_scope(), sdk(release="api@3.0.0") as capture:
        raise_and_capture(load_cart)
        sentry_sdk.capture_event(native_crash("SIGABRT", 1, main=True))
        sentry_sdk.capture_event(native_crash("EXC_BAD_ACCESS", 5, main=False))
        sentry_sdk.capture_message("cache warmed", level="info")
    process_batch(queued(world.project.id, capture.envelopes, key_id=world.key.id))


def titles(world: World, query: str) -> set[str]:
    now = timezone.now()
    ast = parse(query, now=now, scope=Scope.ISSUE)
    issues = issue_queryset(ast, project_ids=[world.project.id], user=world.alice, now=now)
    return {title.split(":")[0] for title in issues.values_list("title", flat=True)}


def event_titles(world: World, query: str) -> set[str]:
    events = event_queryset([world.project], query)
    return {title.split(":")[0] for title in events.values_list("title", flat=True)}


ALL = {"JSONDecodeError", "SIGABRT", "EXC_BAD_ACCESS", "cache warmed"}
NATIVE = {"SIGABRT", "EXC_BAD_ACCESS"}
TABLE = [
    # the crash frame (innermost in-app) and frames outside the app
    ("stack.function:load_cart", {"JSONDecodeError"}),
    ("stack.function:raw_decode", {"JSONDecodeError"}),
    ("stack.module:json.decoder", {"JSONDecodeError"}),
    ("stack.filename:json/decoder.py", {"JSONDecodeError"}),
    ("location:__init__.py", {"JSONDecodeError"}),  # the SDK names json/__init__.py so
    ("stack.abs_path:*/json/decoder.py", {"JSONDecodeError"}),
    ("stack.module:spyglass.issues.tests.test_search_frames", {"JSONDecodeError"}),
    ("stack.function:RAW_*", {"JSONDecodeError"}),
    ("stack.function:raw_DECODE", set()),  # exact values are case-sensitive
    ("stack.function:[loads, abort]", {"JSONDecodeError"} | NATIVE),
    ("!stack.module:json.*", ALL - {"JSONDecodeError"}),
    ("has:stack.module", {"JSONDecodeError"}),
    ("!has:stack.function", {"cache warmed"}),
    # native frames: packages, and a thread's frames
    ("stack.package:/usr/lib/system/*", NATIVE),
    ("stack.package:*Beacon", NATIVE),
    ("has:stack.package", NATIVE),
    ("stack.function:worker_loop", NATIVE),
    ("error.main_thread:true", {"SIGABRT"}),
    ("error.main_thread:false", {"EXC_BAD_ACCESS"}),
    ("has:error.main_thread", NATIVE),
    ("!has:error.main_thread", {"JSONDecodeError", "cache warmed"}),
    ("error.main_thread:true stack.function:abort", {"SIGABRT"}),
]


def test_issue_and_event_search_read_every_frame(world: World) -> None:
    send(world)
    assert titles(world, "") == ALL
    wrong = {q: titles(world, q) for q, expected in TABLE if titles(world, q) != expected}
    assert not wrong
    wrong = {
        q: event_titles(world, q) for q, expected in TABLE if event_titles(world, q) != expected
    }
    assert not wrong


def test_the_issue_frames_follow_deleted_and_moved_events(world: World) -> None:
    send(world)
    crash = Event.objects.get(title__startswith="SIGABRT")
    other = Event.objects.get(title__startswith="cache")
    assert titles(world, "error.main_thread:true") == {"SIGABRT"}
    Event.objects.filter(pk=crash.pk).update(issue=other.issue)
    assert titles(world, "error.main_thread:true") == {"cache warmed"}
    Event.objects.filter(pk=crash.pk).delete()
    assert titles(world, "error.main_thread:true") == set()
    assert titles(world, "has:stack.package") == {"EXC_BAD_ACCESS"}
    send(world)  # the same texts again: counted into the existing rows
    assert titles(world, "stack.function:worker_loop") == {"SIGABRT", "EXC_BAD_ACCESS"}
    check_frames_index()  # the trigram table follows the rows


def test_the_search_box_suggests_frame_values(world: World, client: Client) -> None:
    send(world)
    client.force_login(world.bob)

    def labels(term: str) -> list[str]:
        response = client.get("/acme/backend/searches/autocomplete/", {"term": term})
        assert response.status_code == 200
        return [item["label"] for item in json.loads(response.content)["items"]]

    assert labels("stack.function:raw") == ["raw_decode"]
    # the two native crashes share their frames: their values first
    assert labels("stack.function:")[:3] == ["abort", "main", "worker_loop"]
    assert labels("stack.package:/usr") == ["/usr/lib/system/libsystem_c.dylib"]
    assert labels("location:json/") == ["json/decoder.py"]
    assert labels("stack.module:nosuch") == []
    assert labels("error.main_thread:") == ["true", "false"]


def test_events_stored_before_frames_get_them_from_the_backfill(world: World) -> None:
    send(world)
    Event.objects.update(frames_id=None)  # as stored before: nothing to find
    assert titles(world, "has:stack.function") == set()
    assert event_titles(world, "error.main_thread:false") == set()
    out = StringIO()
    call_command("backfill-frames", chunk=2, stdout=out)
    assert out.getvalue().strip() == "Read 4 events without a frames text; derived 3."
    assert titles(world, "has:stack.function") == ALL - {"cache warmed"}
    assert event_titles(world, "error.main_thread:false") == {"EXC_BAD_ACCESS"}
    assert titles(world, "stack.module:json.*") == {"JSONDecodeError"}
