"""An acknowledged envelope is never lost: not to kill -9, not to a shutdown under load.

Runs on the backend DATABASE_URL selects (SQLite by default, PostgreSQL under pgcluster).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable

import pytest

from tests.e2e.harness import SpyglassServer, group_processes, wait_for
from tests.e2e.load import LoadGenerator, SlowRequest

pytestmark = pytest.mark.e2e


def assert_all_queued(server: SpyglassServer, acked: set[str]) -> None:
    rows = server.queue_rows()
    by_id = {row.event_id: row for row in rows}
    missing = acked - by_id.keys()
    assert not missing, (
        f"{len(missing)} of {len(acked)} acknowledged envelopes are not in the"
        f" {server.database.backend} queue, e.g. {sorted(missing)[:5]}"
    )
    for event_id in acked:
        row = by_id[event_id]
        assert row.project_id == server.project_id
        envelope = row.envelope()
        assert envelope.headers["event_id"] == event_id
        assert envelope.item("event").json()["event_id"] == event_id


def test_every_acknowledged_envelope_survives_a_kill_9_of_the_whole_server(
    make_server: Callable[[], SpyglassServer],
) -> None:
    server = make_server()
    with LoadGenerator(server) as load:
        load.wait_for_acks(300)
        server.kill()
        acked_at_kill = load.acked_count
        server.start()  # same data directory and database, same port
        # The restarted server takes new envelopes from the same (reconnecting) clients.
        load.wait_for_acks(acked_at_kill + 200)

    assert_all_queued(server, load.acked)
    assert load.errors > 0, "the load never saw the server die"


@pytest.mark.parametrize("whole_group", [False, True], ids=["supervisor", "process-group"])
def test_sigterm_answers_requests_in_flight_queues_them_and_exits_0(
    make_server: Callable[[], SpyglassServer], whole_group: bool
) -> None:
    server = make_server()
    slow = SlowRequest(server)
    with LoadGenerator(server) as load:
        load.wait_for_acks(200)
        slow.begin()  # now in flight: the app is waiting for its body
        processes = len(group_processes(server.pid))
        server.send_sigterm(whole_group=whole_group)
        # The shutdown is under way once a process has gone (the idle web process, the
        # worker); the one serving the slow request must wait for it.
        wait_for(
            lambda: True if len(group_processes(server.pid)) < processes else None,
            "a process of the server to exit after SIGTERM",
        )
        status, body = slow.finish()
        code = server.wait_stopped()

    assert (status, json.loads(body)) == (200, {"id": slow.event_id})
    assert code == 0
    assert_all_queued(server, {*load.acked, slow.event_id})


def test_new_connections_are_refused_while_the_server_drains(
    make_server: Callable[[], SpyglassServer],
) -> None:
    server = make_server()
    slow = SlowRequest(server)
    slow.begin()  # keeps one web process draining
    server.send_sigterm()
    # Left: the supervisor and the web process holding the slow request. Every other
    # child has exited, so every listening socket but the draining one's is closed.
    wait_for(
        lambda: True if len(group_processes(server.pid)) <= 2 else None,
        "the other processes of the server to exit after SIGTERM",
    )
    try:
        wait_for(lambda: True if _refused(server.port) else None, "connections to be refused")
    finally:
        assert slow.finish()[0] == 200
        assert server.wait_stopped() == 0


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False  # still accepted: a listener is closing; ask again
