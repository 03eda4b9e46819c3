"""The digest end to end: the real sentry-sdk sends to `spyglass serve`, whose worker turns
the envelopes into events and issues."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Database, SpyglassServer, wait_for

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).parent / "clients" / "python_digest_client.py"

# Prints the project's issues (and their events' ids) as JSON, from inside the server's env.
ISSUES = """
import json
from spyglass.issues.models import Issue
from spyglass.events.models import Event
rows = []
for issue in Issue.objects.order_by("id"):
    rows.append({"id": issue.id, "title": issue.title, "culprit": issue.culprit,
        "times_seen": issue.times_seen, "status": issue.get_status_display(),
        "substatus": issue.get_substatus_display() if issue.substatus else None,
        "events": list(Event.objects.filter(issue=issue).values_list("event_id", flat=True))})
print(json.dumps(rows))
"""


@pytest.fixture(scope="module")
def server() -> Iterator[SpyglassServer]:
    server = SpyglassServer(Database(), "digesting server", digest=True)
    try:
        server.create_project()
        server.start()
        yield server
    finally:
        server.shutdown()
        server.database.drop()


def send(server: SpyglassServer, case: str, release: str = "api@1.0.0") -> list[str]:
    env = dict(server.env(), SENTRY_DSN=server.dsn, E2E_RELEASE=release)
    out = subprocess.run(
        [sys.executable, str(CLIENT), case], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    ids: list[str] = json.loads(out.stdout.strip().splitlines()[-1])["ids"]
    return ids


def shell(server: SpyglassServer, code: str) -> str:
    """Run Python in the server's environment (`-v 0`: only what the code prints)."""
    return server.manage("shell", "-v", "0", "-c", code)


def issues(server: SpyglassServer) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(shell(server, ISSUES).strip())
    return rows


def issues_of(server: SpyglassServer, event_ids: list[str]) -> list[dict[str, Any]]:
    """The issues holding these events, once every one of them is stored."""
    wanted = set(event_ids)

    def check() -> list[dict[str, Any]] | None:
        found = [i for i in issues(server) if wanted & set(i["events"])]
        stored = {e for i in found for e in i["events"]}
        return found if wanted <= stored else None

    return wait_for(check, f"{len(wanted)} events to be digested")


def test_three_exceptions_raised_twenty_times_are_three_issues_seen_twenty_times(
    server: SpyglassServer,
) -> None:
    found = issues_of(server, send(server, "three_exceptions"))
    by_title = {i["title"]: i for i in found}
    # An issue shows its latest event's title: the last of the twenty used key 19.
    assert set(by_title) == {
        "KeyError: 'user-19'",
        "ValueError: invalid literal for int() with base 10: 'x19'",
        "ZeroDivisionError: division by zero",
    }
    assert [i["times_seen"] for i in found] == [20, 20, 20]
    assert by_title["ZeroDivisionError: division by zero"]["culprit"] == "__main__ in divide"


def test_a_chained_exception_is_one_issue(server: SpyglassServer) -> None:
    [issue] = issues_of(server, send(server, "chained"))
    assert issue["title"] == "RuntimeError: could not load the configuration"
    assert issue["times_seen"] == 2


def test_messages_with_varying_numbers_group_into_one_issue(server: SpyglassServer) -> None:
    [issue] = issues_of(server, send(server, "messages"))
    assert issue["times_seen"] == 3


def test_custom_fingerprints_group_as_asked(server: SpyglassServer) -> None:
    found = issues_of(server, send(server, "fingerprints"))
    assert sorted(i["times_seen"] for i in found) == [1, 2]


def test_a_password_variable_and_an_authorization_header_arrive_filtered(
    server: SpyglassServer,
) -> None:
    [event_id] = send(server, "secrets")
    issues_of(server, [event_id])
    body = shell(
        server,
        "from spyglass.events.bodies import decompress; from spyglass.events.models import Event;"
        f" e = Event.objects.get(event_id='{event_id}');"
        " print(decompress(e.body).decode())",
    )
    assert "hunter-ALICE" not in body
    assert "very.secret.token" not in body
    assert "[Filtered]" in body


def test_an_event_matching_a_message_filter_is_not_stored_but_counted(
    server: SpyglassServer,
) -> None:
    shell(
        server,
        "from spyglass.projects.models import Project; p = Project.objects.get();"
        " p.inbound_filters = {'error_messages': ['*context canceled*']}; p.save()",
    )
    canceled, unreachable = send(server, "filtered")
    [issue] = issues_of(server, [unreachable])
    assert issue["title"] == "worker 3: queue unreachable"
    assert canceled not in {e for i in issues(server) for e in i["events"]}
    counted = shell(
        server,
        "from spyglass.events.models import Outcome;"
        " print(sum(Outcome.objects.filter(outcome='filtered', reason='error-message')"
        ".values_list('quantity', flat=True)))",
    )
    assert int(counted.strip()) >= 1


def test_resolve_then_a_new_event_regresses(server: SpyglassServer) -> None:
    [issue] = issues_of(server, send(server, "one_error", release="worker@2.0.0"))
    shell(
        server,
        "from spyglass.issues.models import Issue; from spyglass.issues import state;"
        f" state.resolve(Issue.objects.get(id={issue['id']}))",
    )
    send(server, "one_error", release="worker@2.0.0")

    def regressed() -> bool | None:
        row = next(i for i in issues(server) if i["id"] == issue["id"])
        return True if row["substatus"] == "regressed" else None

    wait_for(regressed, "the issue to regress")


def test_resolved_in_next_release_ignores_an_event_from_an_old_release(
    server: SpyglassServer,
) -> None:
    [issue] = issues_of(server, send(server, "one_error", release="jobs@3.0.0"))
    shell(
        server,
        "from spyglass.issues.models import Issue; from spyglass.issues import state;"
        f" state.resolve_in_next_release(Issue.objects.get(id={issue['id']}))",
    )
    later = send(server, "one_error", release="jobs@2.9.0")
    found = issues_of(server, later)
    assert [i["id"] for i in found] == [issue["id"]]
    assert found[0]["status"] == "resolved"
