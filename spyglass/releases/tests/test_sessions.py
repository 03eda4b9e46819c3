"""Session states live as long as an update can still reach their session: Relay refuses
updates of sessions that started more than five days before the update was received."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from spyglass.core import scheduler
from spyglass.queue.models import QueuedEnvelope
from spyglass.queue.tests.helpers import enqueue
from spyglass.releases.models import MAX_SESSION_AGE, SessionState, expire_session_states
from spyglass.test import World

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def state(world: World, sid: str, started: datetime, status: str = "ok") -> None:
    SessionState.objects.create(project=world.project, sid=sid, started=started, status=status)


def sids() -> list[str]:
    return sorted(SessionState.objects.values_list("sid", flat=True))


def test_states_of_sessions_no_update_can_reach_are_deleted_running_or_ended(
    world: World,
) -> None:
    state(world, "old-running", NOW - MAX_SESSION_AGE - timedelta(seconds=1))
    state(world, "old-ended", NOW - timedelta(days=30), status="exited")
    state(world, "ended", NOW - timedelta(hours=1), status="crashed")
    state(world, "running", NOW - MAX_SESSION_AGE + timedelta(minutes=1))
    assert expire_session_states(NOW) == 2
    # An ended session keeps its state while an update (an SDK's resend) could still come.
    assert sids() == ["ended", "running"]


def test_expiring_goes_in_chunks_until_none_are_left(world: World) -> None:
    SessionState.objects.bulk_create(
        SessionState(project=world.project, sid=f"{n:032x}", started=NOW - timedelta(days=9))
        for n in range(5001)
    )
    assert expire_session_states(NOW) == 5001
    assert not SessionState.objects.exists()


@pytest.mark.django_db(databases="__all__")
def test_the_scheduler_keeps_the_states_updates_still_queued_may_reach(world: World) -> None:
    state(world, "six-days", NOW - timedelta(days=6))
    state(world, "four-days", NOW - timedelta(days=4))
    with time_machine.travel(NOW, tick=False):
        # An update received two days ago still waits in the queue (a set-aside one does not
        # count: it was never stored).
        (waiting,) = enqueue(1, received_at=(NOW - timedelta(days=2)).timestamp())
        (failed,) = enqueue(1, received_at=(NOW - timedelta(days=9)).timestamp())
        QueuedEnvelope.objects.filter(id=failed).update(failed_at=1.0)
        scheduler.expire_session_states()
        assert sids() == ["four-days", "six-days"]
        QueuedEnvelope.objects.filter(id=waiting).delete()
        scheduler.expire_session_states()
        assert sids() == ["four-days"]
