"""Event bodies: compressed with the project's dictionary once it has one, always readable."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import zstandard

from spyglass.digest.store import store_events
from spyglass.digest.types import ProcessedEvent
from spyglass.events import bodies
from spyglass.events.models import CompressionDictionary, Event
from spyglass.issues.models import Issue
from spyglass.projects.models import Project
from spyglass.test import World

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Compressors are cached per process by project id; ids are reused between tests."""
    bodies.forget()
    yield
    bodies.forget()


def python_event(rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(10**6)
    return {
        "event_id": f"{rng.getrandbits(128):032x}",
        "platform": "python",
        "level": "error",
        "exception": {
            "values": [
                {
                    "type": rng.choice(["ValueError", "KeyError", "PaymentError"]),
                    "value": f"charge failed for order ord-{n}",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": f"app/{name}.py",
                                "function": name,
                                "lineno": rng.randrange(1, 400),
                                "context_line": f"    result = {name}(order_id={n})",
                                "in_app": True,
                            }
                            for name in ("views", "checkout", "charge_card", "gateway")
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "category": "query",
                    "message": "SELECT orders.id, orders.total FROM orders WHERE user_id = %s"
                    f" /* {rng.randrange(10**6)} */",
                    "timestamp": 1.8e9 + rng.random(),
                }
                for _ in range(rng.randrange(5, 15))
            ]
        },
        "modules": {f"package-{i}": f"{i}.{i % 7}.0" for i in range(60)},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"}},
    }


def node_event(rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(10**6)
    return {
        "event_id": f"{rng.getrandbits(128):032x}",
        "platform": "node",
        "level": "fatal",
        "exception": {
            "values": [
                {
                    "type": "TypeError",
                    "value": f"Cannot read properties of undefined (reading 'id{n}')",
                    "mechanism": {"type": "auto.node.onuncaughtexception", "handled": False},
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": f"/srv/api/dist/{name}.js",
                                "function": f"Router.{name}",
                                "lineno": rng.randrange(1, 900),
                                "colno": rng.randrange(1, 80),
                                "pre_context": ["  const user = await users.find(req.params.id);"],
                            }
                            for name in ("handle", "dispatch", "next", "orders")
                        ]
                    },
                }
            ]
        },
        "request": {"url": f"https://api.example.com/orders/{n}", "method": "POST"},
        "contexts": {"os": {"name": "Debian", "version": "12.11"}, "runtime": {"name": "node"}},
    }


def random_event(rng: random.Random) -> dict[str, Any]:
    """Nothing a dictionary could learn."""
    return {
        "event_id": f"{rng.getrandbits(128):032x}",
        "extra": {"noise": rng.randbytes(3000).hex()},
    }


def add_events(
    project: Project, make: Any, count: int, *, seed: int = 1, at: datetime = T0
) -> list[tuple[int, dict[str, Any]]]:
    """``count`` stored events (as the digest stores them) -> [(row id, event)]."""
    rng = random.Random(seed)
    issue = Issue.objects.filter(project=project).first() or Issue.objects.create(
        project=project, number=10**6, title="t", first_seen=at, last_seen=at
    )
    events = [make(rng) for _ in range(count)]
    rows = []
    for n, event in enumerate(events):
        body = bodies.compress(project.id, orjson.dumps(event))
        timestamp = at + timedelta(seconds=n)
        rows.append(
            Event(
                project=project,
                issue=issue,
                event_id=event["event_id"],
                timestamp=timestamp,
                received_at=timestamp,
                title="t",
                body=body,
                size=len(body),
            )
        )
    Event.objects.bulk_create(rows)
    ids = Event.objects.filter(event_id__in=[e["event_id"] for e in events]).values_list(
        "event_id", "id"
    )
    by_event_id = dict(ids)
    return [(by_event_id[e["event_id"]], e) for e in events]


def dict_id_of(body: bytes | memoryview) -> int:
    return int(zstandard.get_frame_parameters(bytes(body)).dict_id)


def stored(row_id: int) -> bytes:
    return bytes(Event.objects.get(id=row_id).body)


def assert_all_readable(events: list[tuple[int, dict[str, Any]]]) -> None:
    for row_id, event in events:
        assert bodies.read_body(stored(row_id)) == event


# --- round trips -----------------------------------------------------------------------------


def test_a_body_without_a_dictionary_is_plain_zstd_json(world: World) -> None:
    event = python_event(random.Random(1))
    body = bodies.compress(world.project.id, orjson.dumps(event))
    assert dict_id_of(body) == 0
    assert orjson.loads(zstandard.ZstdDecompressor().decompress(body)) == event  # as before
    assert bodies.read_body(body) == event
    assert bodies.read_body(memoryview(body)) == event  # as PostgreSQL hands it back


def test_a_body_compressed_with_the_projects_dictionary_names_it_and_reads_back(
    world: World,
) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    dictionary = bodies.train(world.project.id, T0)
    assert dictionary is not None
    event = python_event(random.Random(99))
    body = bodies.compress(world.project.id, orjson.dumps(event))
    assert dict_id_of(body) == dictionary.dict_id >= bodies.FIRST_DICT_ID
    assert bodies.read_body(body) == event
    plain = zstandard.ZstdCompressor(level=bodies.LEVEL).compress(orjson.dumps(event))
    assert len(body) < len(plain) / 2
    bodies.forget()  # another process, which has never seen the dictionary
    assert bodies.read_body(body) == event


def test_other_projects_keep_their_own_compression(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    assert bodies.train(world.project.id, T0) is not None
    body = bodies.compress(world.other_project.id, orjson.dumps(node_event(random.Random(1))))
    assert dict_id_of(body) == 0


def test_a_dictionary_made_by_another_process_is_used_after_the_refresh_interval(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    trained = zstandard.train_dictionary(
        16384, [orjson.dumps(python_event(random.Random(n))) for n in range(200)], dict_id=40000
    )
    data = orjson.dumps(python_event(random.Random(7)))
    assert dict_id_of(bodies.compress(world.project.id, data)) == 0  # cached: no dictionary
    CompressionDictionary.objects.create(
        project=world.project, dict_id=40000, data=trained.as_bytes(), created_at=T0
    )
    assert dict_id_of(bodies.compress(world.project.id, data)) == 0  # within the interval
    monkeypatch.setattr(bodies, "REFRESH_SECONDS", -1.0)
    assert dict_id_of(bodies.compress(world.project.id, data)) == 40000


def test_a_body_whose_dictionary_is_gone_says_which_one_is_missing(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    dictionary = bodies.train(world.project.id, T0)
    assert dictionary is not None
    body = bodies.compress(world.project.id, orjson.dumps(python_event(random.Random(3))))
    dictionary.delete()  # only deleting the project does this in Spyglass
    bodies.forget()
    with pytest.raises(bodies.MissingDictionary, match=str(dictionary.dict_id)):
        bodies.read_body(body)


def test_the_digest_stores_bodies_with_the_projects_dictionary(world: World) -> None:
    add_events(world.project, python_event, bodies.MIN_EVENTS)
    dictionary = bodies.train(world.project.id, T0)
    assert dictionary is not None
    event = python_event(random.Random(5))
    store_events([processed(world, event)], T0)
    row = Event.objects.get(event_id=event["event_id"])
    assert dict_id_of(row.body) == dictionary.dict_id
    assert bodies.read_body(row.body) == event


def processed(world: World, event: dict[str, Any]) -> ProcessedEvent:
    return ProcessedEvent(
        project_id=world.project.id,
        event_id=event["event_id"],
        event=event,
        timestamp=T0,
        received_at=T0,
        type="error",
        title="ValueError: charge failed",
        culprit="checkout",
        metadata={},
        level="error",
        platform="python",
        release="",
        environment="production",
        dist="",
        transaction="",
        message="",
        trace_id="",
        user_key="",
        sdk_name="sentry.python",
        sdk_version="2.75.0",
        logger="",
        tags=[("level", "error")],
        grouping_config="newstyle:2023-01-11",
        hashes=["a" * 32],
    )
