"""The queue status page in the admin: what it shows, who may see it, retry and discard."""

from __future__ import annotations

import re

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.test import Client

from spyglass.accounts.models import User
from spyglass.queue import views
from spyglass.queue.consumer import Consumer
from spyglass.queue.models import QueuedEnvelope, QueueStat
from spyglass.queue.tests.helpers import T0, enqueue
from spyglass.test import World, make_user

pytestmark = pytest.mark.django_db(databases="__all__")

URL = "/admin/queue/queuedenvelope/status/"
MINUTE = int(T0 // 60)
HOSTILE = "<script>alert('owned')</script>"


def client_for(user: User, *, enforce_csrf_checks: bool = False) -> Client:
    client = Client(enforce_csrf_checks=enforce_csrf_checks)
    client.force_login(user)
    return client


def set_aside(project_id: int, error: str = "ValueError('bad envelope')", **fields: object) -> int:
    values: dict[str, object] = {"failed_at": T0 - 30, "attempts": 6, **fields}
    [row_id] = enqueue(1, project_id=project_id, last_error=error, **values)
    return row_id


def state(row_id: int) -> tuple[float | None, int, str] | None:
    row = QueuedEnvelope.objects.filter(id=row_id).first()
    return None if row is None else (row.failed_at, row.attempts, row.last_error)


def text(html: bytes) -> str:
    """The page's text with tags and runs of whitespace collapsed, for plain assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_it_shows_depth_oldest_age_throughput_and_the_set_aside_envelopes(world: World) -> None:
    enqueue(2, received_at=T0 - 125)
    enqueue(1, received_at=T0 - 5)
    failed = set_aside(world.project.id, received_at=T0 - 3600, body=b"x" * 2048)
    QueueStat.objects.bulk_create(
        [QueueStat(minute=MINUTE - 1, accepted=50, done=25), QueueStat(minute=MINUTE - 30, done=7)]
    )
    with time_machine.travel(T0, tick=False):
        Consumer("w1").claim(1)
        response = client_for(world.alice).get(URL)

    assert response.status_code == 200
    page = text(response.content)
    assert "Waiting 2 " in page
    assert "Being digested 1 " in page
    assert "Set aside (failed) 1 " in page
    assert "Oldest waiting 2 min 5 s" in page
    assert "Accepted 10.0 50 " in page  # per minute over the last 5 minutes, last hour
    assert "Digested 5.0 32 " in page
    row = response.content.decode().split(f'id="dead-letter-{failed}"')[1].split("</tr>")[0]
    assert "acme/backend" in row and f"/admin/projects/project/{world.project.id}/" in row
    assert "2.0\xa0KB" in row  # stored size
    assert ">6<" in row  # attempts
    assert "ValueError(&#x27;bad envelope&#x27;)" in row
    assert "1 hour" in text(row.encode())  # received an hour ago


def test_an_empty_queue_says_nothing_is_set_aside(world: World) -> None:
    response = client_for(world.alice).get(URL)
    page = text(response.content)
    assert "Set aside: 0 envelopes" in page
    assert "Nothing is set aside" in page
    assert "Oldest waiting - " in page


def test_hostile_errors_and_event_ids_are_escaped(world: World) -> None:
    set_aside(world.project.id, error=HOSTILE, event_id="<b>x</b>")
    set_aside(world.project.id, error=HOSTILE + "x" * 400)  # the long form, in <details>

    response = client_for(world.alice).get(URL)
    html = response.content.decode()

    assert "<script>alert" not in html
    assert "<b>x</b>" not in html
    assert html.count("&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;") == 3
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_an_envelope_of_a_deleted_project_still_shows(world: World) -> None:
    set_aside(999_999)
    response = client_for(world.alice).get(URL)
    assert "#999999 (deleted)" in text(response.content)


def test_the_set_aside_envelopes_are_paginated(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    ids = [set_aside(world.project.id, failed_at=T0 + n) for n in range(5)]
    client = client_for(world.alice)

    first = client.get(URL).content.decode()
    last = client.get(URL + "?page=3").content.decode()

    assert "page 1 of 3" in first
    assert f'id="dead-letter-{ids[4]}"' in first and f'id="dead-letter-{ids[2]}"' not in first
    assert f'id="dead-letter-{ids[0]}"' in last
    assert "Set aside: 5 envelopes" in text(last.encode())


def test_retry_sends_one_envelope_back_with_its_attempts_reset(world: World) -> None:
    target = set_aside(world.project.id)
    other = set_aside(world.project.id)
    client = client_for(world.alice)

    response = client.post(URL, {"action": f"retry:{target}"}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    assert "1 envelope sent back to the queue, attempts reset." in text(response.content)
    assert state(target) == (None, 0, "")
    assert state(other) == (T0 - 30, 6, "ValueError('bad envelope')")
    # A worker claims it again.
    assert [item.id for item in Consumer("w1").claim(10)] == [target]


def test_retry_selected_and_retry_all(world: World) -> None:
    ids = [set_aside(world.project.id) for _ in range(4)]
    client = client_for(world.alice)

    client.post(URL, {"action": "retry:selected", "id": [str(ids[0]), str(ids[1])]})
    failed_at = dict(QueuedEnvelope.objects.values_list("id", "failed_at"))
    assert [failed_at[i] for i in ids] == [None, None, T0 - 30, T0 - 30]

    response = client.post(URL, {"action": "retry:all"}, follow=True)
    assert "2 envelopes sent back to the queue" in text(response.content)
    assert QueuedEnvelope.objects.filter(failed_at__isnull=False).count() == 0


def test_retry_leaves_an_envelope_alone_that_is_no_longer_set_aside(world: World) -> None:
    [waiting] = enqueue(1, attempts=2, last_error="TimeoutError()")
    failed = set_aside(world.project.id)

    response = client_for(world.alice).post(
        URL, {"action": "retry:selected", "id": [str(waiting), str(failed)]}, follow=True
    )

    page = text(response.content)
    assert "1 envelope sent back to the queue" in page
    assert "1 of the selected envelopes were no longer set aside" in page
    assert state(waiting) == (None, 2, "TimeoutError()")


def test_nothing_selected_changes_nothing(world: World) -> None:
    failed = set_aside(world.project.id)
    response = client_for(world.alice).post(URL, {"action": "retry:selected"}, follow=True)
    assert "No envelopes were selected" in text(response.content)
    assert state(failed) == (T0 - 30, 6, "ValueError('bad envelope')")


def test_discard_asks_for_confirmation_first_then_deletes(world: World) -> None:
    target = set_aside(world.project.id, error=HOSTILE)
    other = set_aside(world.project.id)
    client = client_for(world.alice)

    confirm = client.post(URL, {"action": "discard:selected", "id": [str(target)]})

    assert confirm.status_code == 200
    assert "Discard 1 set-aside envelope?" in text(confirm.content)
    assert "<script>alert" not in confirm.content.decode()
    assert state(target) is not None

    done = client.post(
        URL, {"action": "discard:selected", "id": [str(target)], "confirmed": "yes"}, follow=True
    )

    assert "1 set-aside envelope discarded." in text(done.content)
    assert state(target) is None
    assert state(other) is not None


def test_discard_all_deletes_every_set_aside_envelope_and_nothing_else(world: World) -> None:
    [waiting] = enqueue(1)
    for _ in range(3):
        set_aside(world.project.id)
    client = client_for(world.alice)

    assert "Discard 3 set-aside envelopes?" in text(
        client.post(URL, {"action": "discard:all"}).content
    )
    response = client.post(URL, {"action": "discard:all", "confirmed": "yes"}, follow=True)

    assert "3 set-aside envelopes discarded." in text(response.content)
    assert list(QueuedEnvelope.objects.values_list("id", flat=True)) == [waiting]


def test_discard_of_one_row_from_its_button(world: World) -> None:
    target = set_aside(world.project.id)
    client = client_for(world.alice)
    client.post(URL, {"action": f"discard:{target}", "confirmed": "yes"})
    assert state(target) is None


@pytest.mark.parametrize("action", ["", "explode:all", "retry:abc", "discard:1;2"])
def test_an_unknown_action_is_a_bad_request(world: World, action: str) -> None:
    set_aside(world.project.id)
    response = client_for(world.alice).post(URL, {"action": action})
    assert response.status_code == 400
    assert QueuedEnvelope.objects.filter(failed_at__isnull=False).count() == 1


def test_actions_need_the_csrf_token(world: World) -> None:
    target = set_aside(world.project.id)
    client = client_for(world.alice, enforce_csrf_checks=True)

    response = client.post(URL, {"action": f"retry:{target}"})

    assert response.status_code == 403
    assert state(target) == (T0 - 30, 6, "ValueError('bad envelope')")


def test_people_who_are_not_staff_are_sent_to_the_login_page(world: World) -> None:
    target = set_aside(world.project.id)
    for client in (client_for(world.bob), Client()):
        response = client.get(URL)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
        assert client.post(URL, {"action": f"retry:{target}"}).status_code == 302
    assert state(target) == (T0 - 30, 6, "ValueError('bad envelope')")


def test_staff_need_the_queue_permissions(world: World) -> None:
    target = set_aside(world.project.id)
    staff = make_user("staff@example.com")
    staff.is_staff = True
    staff.save()

    assert client_for(staff).get(URL).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_queuedenvelope"))
    staff = User.objects.get(id=staff.id)  # drop the permission cache
    client = client_for(staff)
    page = client.get(URL).content.decode()
    assert f'id="dead-letter-{target}"' in page
    assert "Retry selected" not in page and "Discard selected" not in page
    assert client.post(URL, {"action": f"retry:{target}"}).status_code == 403
    assert client.post(URL, {"action": f"discard:{target}", "confirmed": "yes"}).status_code == 403
    assert state(target) is not None


def test_the_admin_index_and_the_changelist_link_to_the_page(world: World) -> None:
    set_aside(world.project.id)
    enqueue(2)
    client = client_for(world.alice)

    index = client.get("/admin/").content.decode()
    changelist = client.get("/admin/queue/queuedenvelope/").content.decode()

    assert f'href="{URL}"' in index
    assert "2 waiting" in text(index.encode()) and "1 set aside" in text(index.encode())
    assert f'href="{URL}"' in changelist
    # The rest of the index is still there.
    assert "/admin/projects/project/" in index


def test_the_admin_changelist_action_retries_the_selected_envelopes(world: World) -> None:
    target = set_aside(world.project.id)
    response = client_for(world.alice).post(
        "/admin/queue/queuedenvelope/",
        {"action": "retry_selected", "_selected_action": [str(target)]},
        follow=True,
    )
    assert "1 set-aside envelope(s) sent back to the queue." in text(response.content)
    assert state(target) == (None, 0, "")


def test_age_text_is_short_and_human() -> None:
    assert [views.age_text(s) for s in (None, 4.25, 65, 7260, 3 * 86400 + 4 * 3600)] == [
        "-",
        "4.2 s",
        "1 min 5 s",
        "2 h 1 min",
        "3 d 4 h",
    ]
