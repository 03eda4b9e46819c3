"""The digest end to end in-process: real sentry-sdk envelopes -> events and issues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
import sentry_sdk

from spyglass.digest import hooks
from spyglass.digest.batch import process_batch
from spyglass.digest.store import StoreResult
from spyglass.digest.tests.sdk import queued, raise_and_capture, sdk
from spyglass.events.bodies import decompress, read_body
from spyglass.events.models import Event, Outcome
from spyglass.issues import state
from spyglass.issues.models import Issue, Status, Substatus
from spyglass.test import World

pytestmark = pytest.mark.django_db(transaction=True)

RELEASE = "api@1.0.0"


def digest(world: World, envelopes: list[bytes]) -> StoreResult:
    return process_batch(queued(world.project.id, envelopes, key_id=world.key.id))


def body_of(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = read_body(event.body)
    return data


def fail_with_key_error() -> None:
    table: dict[str, int] = {}
    table["missing"]


def fail_with_value_error() -> None:
    int("not a number")


def fail_with_zero_division() -> None:
    1 / 0  # noqa: B018


def call(fn: Callable[[], None]) -> Callable[[], BaseException]:
    def make() -> BaseException:
        try:
            fn()
        except Exception as exc:
            return exc
        raise AssertionError("did not raise")

    return make


def test_three_exceptions_raised_twenty_times_each_make_three_issues(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        for _ in range(20):
            for fn in (fail_with_key_error, fail_with_value_error, fail_with_zero_division):
                raise_and_capture(call(fn))
    digest(world, capture.envelopes)
    issues = {i.title: i for i in Issue.objects.filter(project=world.project)}
    assert set(issues) == {
        "KeyError: 'missing'",
        "ValueError: invalid literal for int() with base 10: 'not a number'",
        "ZeroDivisionError: division by zero",
    }
    assert {i.times_seen for i in issues.values()} == {20}
    assert issues["ZeroDivisionError: division by zero"].culprit.endswith(
        "in fail_with_zero_division"
    )
    assert Event.objects.filter(project=world.project).count() == 60


def test_a_message_with_varying_numbers_is_one_issue(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        for n in (3, 17, 4096):
            sentry_sdk.capture_message(f"Batch of {n} events failed after {n * 2} ms")
    digest(world, capture.envelopes)
    assert Issue.objects.filter(project=world.project).count() == 1
    assert Issue.objects.get().times_seen == 3


def test_a_chained_exception_is_one_issue_titled_by_the_raised_exception(world: World) -> None:
    def chained() -> BaseException:
        try:
            try:
                fail_with_key_error()
            except KeyError as cause:
                raise RuntimeError("lookup failed") from cause
        except RuntimeError as exc:
            return exc
        raise AssertionError

    with sdk(release=RELEASE) as capture:
        raise_and_capture(chained)
        raise_and_capture(chained)
    digest(world, capture.envelopes)
    issue = Issue.objects.get()
    assert (issue.title, issue.times_seen) == ("RuntimeError: lookup failed", 2)


def test_custom_fingerprints_group_as_the_sdk_asks(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        for kind in ("payment", "payment", "auth"):
            with sentry_sdk.new_scope() as scope:
                scope.fingerprint = ["{{ default }}", kind]
                raise_and_capture(call(fail_with_value_error))
    digest(world, capture.envelopes)
    assert sorted(Issue.objects.values_list("times_seen", flat=True)) == [1, 2]


def test_a_fingerprint_rule_with_a_title_names_the_issue(world: World) -> None:
    world.project.fingerprint_rules = (
        'error.type:ValueError -> parse-errors title="Parsing failed in {{ function }}"'
    )
    world.project.save(update_fields=["fingerprint_rules"])
    with sdk(release=RELEASE) as capture:
        raise_and_capture(call(fail_with_value_error))
        raise_and_capture(call(fail_with_key_error))
    digest(world, capture.envelopes)
    titles = sorted(Issue.objects.values_list("title", flat=True))
    assert titles == ["KeyError: 'missing'", "Parsing failed in fail_with_value_error"]
    event = Event.objects.get(title__startswith="Parsing")
    assert body_of(event)["_fingerprint_info"] == {
        "matched_rule": {
            "text": 'error.type:ValueError -> parse-errors title="Parsing failed in'
            ' {{ function }}"',
            "attributes": {"title": "Parsing failed in fail_with_value_error"},
        }
    }


def test_an_exception_group_is_titled_by_its_main_exception(world: World) -> None:
    def make() -> BaseException:
        try:
            fail_with_key_error()
        except KeyError as exc:
            return ExceptionGroup("batch failed", [exc])
        raise AssertionError("did not raise")

    with sdk(release=RELEASE) as capture:
        raise_and_capture(make)
    digest(world, capture.envelopes)
    event = Event.objects.get()
    assert event.title == "KeyError: 'missing'"
    assert body_of(event)["main_exception_id"] == 1


def test_a_password_variable_and_an_authorization_header_are_filtered(world: World) -> None:
    def login(user: str) -> None:
        # Built at run time: the source line (sent as context) must not hold the value.
        password = "hunter-" + user.upper()  # noqa: F841
        raise PermissionError("denied")

    with (
        sdk(release=RELEASE, include_local_variables=True) as capture,
        sentry_sdk.new_scope() as scope,
    ):
        scope.set_extra("authorization", "Bearer abc.def")
        raise_and_capture(lambda: _raised(login, "alice"))
    digest(world, capture.envelopes)
    body = body_of(Event.objects.get())
    text = orjson.dumps(body).decode()
    assert "hunter-ALICE" not in text
    assert "abc.def" not in text
    frame = body["exception"]["values"][0]["stacktrace"]["frames"][-1]
    assert frame["vars"]["password"] == "[Filtered]"
    assert body["extra"]["authorization"] == "[Filtered]"


def _raised(fn: Callable[[str], None], arg: str) -> BaseException:
    try:
        fn(arg)
    except Exception as exc:
        return exc
    raise AssertionError("did not raise")


def test_an_event_matching_a_message_filter_is_counted_not_stored(world: World) -> None:
    world.project.inbound_filters = {"error_messages": ["*context canceled*"]}
    world.project.save()
    with sdk(release=RELEASE) as capture:
        sentry_sdk.capture_message("job 7: context canceled")
        sentry_sdk.capture_message("job 7: disk full")
    digest(world, capture.envelopes)
    assert list(Event.objects.values_list("title", flat=True)) == ["job 7: disk full"]
    filtered = Outcome.objects.get(outcome="filtered")
    assert (filtered.reason, filtered.quantity) == ("error-message", 1)


def test_resolving_then_a_new_event_regresses_the_issue(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        raise_and_capture(call(fail_with_zero_division))
    digest(world, capture.envelopes)
    issue = Issue.objects.get()
    state.resolve(issue)
    with sdk(release=RELEASE) as capture:
        raise_and_capture(call(fail_with_zero_division))
    digest(world, capture.envelopes)
    issue.refresh_from_db()
    assert (issue.status, issue.substatus) == (Status.UNRESOLVED, Substatus.REGRESSED)


def test_resolved_in_next_release_stays_resolved_for_an_event_from_an_old_release(
    world: World,
) -> None:
    with sdk(release="api@1.0.0") as capture:
        raise_and_capture(call(fail_with_zero_division))
    digest(world, capture.envelopes)
    issue = Issue.objects.get()
    state.resolve_in_next_release(issue)
    with sdk(release="api@0.9.0") as capture:
        raise_and_capture(call(fail_with_zero_division))
    digest(world, capture.envelopes)
    issue.refresh_from_db()
    assert issue.status == Status.RESOLVED
    assert issue.times_seen == 2


def test_the_same_envelope_digested_twice_is_one_event(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        raise_and_capture(call(fail_with_zero_division))
    digest(world, capture.envelopes)
    digest(world, capture.envelopes)
    assert Event.objects.count() == 1
    assert Issue.objects.get().times_seen == 1


def test_an_event_that_is_not_json_is_kept_with_a_processing_error(world: World) -> None:
    envelope = b'{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}\n{"type":"event"}\n{not json\n'
    digest(world, [envelope])
    event = Event.objects.get()
    assert event.has_processing_errors
    assert body_of(event)["errors"]


def test_a_csp_report_becomes_a_security_issue(world: World) -> None:
    report = orjson.dumps(
        {
            "csp-report": {
                "document-uri": "https://shop.example/checkout",
                "blocked-uri": "https://evil.example/x.js",
                "effective-directive": "script-src-elem",
                "violated-directive": "script-src-elem",
                "original-policy": "script-src 'self'",
            }
        }
    )
    header = orjson.dumps({"type": "raw_security", "length": len(report)})
    envelope = b'{"event_id":"0123456789abcdef0123456789abcdef"}\n' + header + b"\n" + report
    digest(world, [envelope])
    event = Event.objects.get()
    assert event.type == "csp"
    assert "evil.example" in event.title


def test_hooks_run_after_commit_with_what_the_batch_changed(world: World) -> None:
    seen: list[StoreResult] = []
    hook = hooks.register(seen.append)
    try:
        with sdk(release=RELEASE) as capture:
            raise_and_capture(call(fail_with_zero_division))
        digest(world, capture.envelopes)
    finally:
        hooks.unregister(hook)
    [result] = seen
    assert result.new_issues == [Issue.objects.get().id]


def test_health_check_transactions_are_filtered_and_others_stored_scrubbed(
    world: World,
) -> None:
    from spyglass.performance.models import Transaction

    with sdk(release=RELEASE, traces_sample_rate=1.0) as capture:
        with sentry_sdk.start_transaction(op="http.server", name="GET /healthz"):
            pass
        with sentry_sdk.start_transaction(op="http.server", name="POST /login") as tx:
            tx.set_data("password", "hunter-ALICE")
    digest(world, capture.envelopes)
    [stored] = Transaction.objects.filter(project=world.project)
    assert stored.name == "POST /login"
    body = decompress(stored.body)
    assert b"hunter-ALICE" not in body
    filtered = Outcome.objects.get(category="transaction", outcome="filtered")
    assert filtered.reason == "filtered-transaction"


def test_a_workers_cached_project_settings_follow_a_saved_change(world: World) -> None:
    with sdk(release=RELEASE) as capture:
        sentry_sdk.capture_message("job 9: context canceled")
    digest(world, capture.envelopes)  # compiles and caches the project's settings
    world.project.inbound_filters = {"error_messages": ["*context canceled*"]}
    world.project.save(update_fields=["inbound_filters"])
    with sdk(release=RELEASE) as capture:
        sentry_sdk.capture_message("job 10: context canceled")
    digest(world, capture.envelopes)
    assert list(Event.objects.values_list("message", flat=True)) == ["job 9: context canceled"]
