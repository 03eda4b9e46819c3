"""Issue alert rules over real sentry-sdk events, digested in-process (hooks after commit)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection

from spyglass.alerts import conditions, filters, issue_alerts
from spyglass.alerts.facts import Facts
from spyglass.alerts.models import FOREVER, Match, RuleFire, RuleIssueStatus
from spyglass.alerts.tests.helpers import (
    FIRST_SEEN,
    REGRESSION,
    deliveries,
    digest_errors,
    fail,
    frequency,
    make_channel,
    make_rule,
)
from spyglass.issues import state
from spyglass.issues.models import Issue
from spyglass.notifications.models import Delivery
from spyglass.test import World

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 3, 2, 10, 0, 5, tzinfo=UTC)


def test_eleven_events_in_a_minute_fire_a_more_than_ten_rule_once(world: World) -> None:
    channel = make_channel(world)
    rule = make_rule(world.project, conds=[frequency(10)], frequency=30)
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 6)
        assert deliveries(channel) == []  # 6 is not more than 10
    with time_machine.travel(T0 + timedelta(seconds=20), tick=False):
        digest_errors(world, 5)
    sent = deliveries(channel)
    assert len(sent) == 1
    issue = Issue.objects.get()
    assert sent[0]["kind"] == "issue_alert"
    assert sent[0]["issue_id"] == issue.pk
    assert sent[0]["rule_name"] == "Test rule"
    assert sent[0]["title"] == issue.title
    assert sent[0]["dedup_key"] == f"spyglass-issue-{issue.pk}"
    assert sent[0]["url"].endswith(f"/{world.project.slug}/issues/{issue.number}/")
    # The next burst inside the action interval (30 minutes) sends nothing.
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        digest_errors(world, 11)
    assert len(deliveries(channel)) == 1
    # Once the interval has passed, a burst fires again.
    with time_machine.travel(T0 + timedelta(minutes=31), tick=False):
        digest_errors(world, 11)
    assert len(deliveries(channel)) == 2
    fires = list(RuleFire.objects.filter(rule=rule).order_by("fired_at"))
    assert [f.fired_at for f in fires] == [
        T0 + timedelta(seconds=20),
        T0 + timedelta(minutes=31),
    ]
    assert fires[0].reasons == ["The issue is seen more than 10 times in 1m"]
    assert fires[0].notified == ["channel ops-hook"]


def test_events_spread_over_more_than_a_minute_do_not_fire_it(world: World) -> None:
    channel = make_channel(world)
    make_rule(world.project, conds=[frequency(10)])
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 6)
    with time_machine.travel(T0 + timedelta(minutes=2), tick=False):
        digest_errors(world, 6)
    assert deliveries(channel) == []


def test_a_new_issue_alert_fires_once_per_issue(world: World) -> None:
    channel = make_channel(world)
    make_rule(world.project, conds=[FIRST_SEEN], frequency=5)
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 3, fail(ZeroDivisionError))
        digest_errors(world, 2, fail(KeyError))
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        digest_errors(world, 3, fail(ZeroDivisionError))
    sent = deliveries(channel)
    assert sorted(n["issue_id"] for n in sent) == sorted(Issue.objects.values_list("id", flat=True))
    assert len(sent) == 2


def test_a_regression_fires(world: World) -> None:
    channel = make_channel(world)
    make_rule(world.project, conds=[REGRESSION])
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1)
    issue = Issue.objects.get()
    state.resolve(issue)
    assert deliveries(channel) == []
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        digest_errors(world, 1)
    sent = deliveries(channel)
    assert [n["issue_id"] for n in sent] == [issue.pk]
    assert RuleFire.objects.get().reasons == ["The issue changes state from resolved to unresolved"]


def test_filters_decide_with_all_any_and_none(world: World) -> None:
    channel = make_channel(world)
    level_error = {"id": filters.LEVEL, "match": "gte", "level": 40}
    prod = {"id": filters.TAGGED, "key": "environment", "match": "eq", "value": "production"}
    zero = {
        "id": filters.ATTRIBUTE,
        "attribute": "exception.type",
        "match": "eq",
        "value": "ZeroDivisionError",
    }
    make_rule(world.project, name="all", conds=[FIRST_SEEN], filters=[level_error, prod])
    make_rule(
        world.project, name="none", conds=[FIRST_SEEN], filters=[zero], filter_match=Match.NONE
    )
    make_rule(
        world.project, name="any", conds=[FIRST_SEEN], filters=[prod, zero], filter_match=Match.ANY
    )
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1, fail(ZeroDivisionError), environment="staging")
        digest_errors(world, 1, fail(KeyError), environment="production")
    fired = {(n["rule_name"], n["title"].split(":")[0]) for n in deliveries(channel)}
    assert fired == {
        ("all", "KeyError"),
        ("none", "KeyError"),
        ("any", "ZeroDivisionError"),
        ("any", "KeyError"),
    }


def test_a_rule_for_one_environment_ignores_the_others(world: World) -> None:
    channel = make_channel(world)
    make_rule(world.project, conds=[FIRST_SEEN], environment="production")
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1, fail(ZeroDivisionError), environment="staging")
        digest_errors(world, 1, fail(KeyError), environment="production")
    assert [n["title"].split(":")[0] for n in deliveries(channel)] == ["KeyError"]


def test_a_muted_rule_stays_quiet_until_its_time_is_up(world: World) -> None:
    channel = make_channel(world)
    rule = make_rule(world.project, conds=[FIRST_SEEN], muted_until=T0 + timedelta(hours=1))
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1, fail(ZeroDivisionError))
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        digest_errors(world, 1, fail(KeyError))
    assert [n["title"].split(":")[0] for n in deliveries(channel)] == ["KeyError"]
    rule.muted_until = FOREVER
    rule.save()
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        digest_errors(world, 1, fail(ValueError))
    assert len(deliveries(channel)) == 1


def test_email_goes_to_the_assignee_or_else_the_projects_members(world: World) -> None:
    from spyglass.alerts.delivery import EMAIL_ACTION
    from spyglass.issues.models import IssueAssignee

    make_rule(
        world.project,
        conds=[frequency(1, "1h")],
        frequency=5,
        actions=[
            {"id": EMAIL_ACTION, "targetType": "IssueOwners", "fallthroughType": "ActiveMembers"}
        ],
    )
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 2)
    users = set(Delivery.objects.filter(channel=None).values_list("user__email", flat=True))
    assert users == {"alice@example.com", "bob@example.com"}
    IssueAssignee.objects.create(issue=Issue.objects.get(), user=world.bob)
    Delivery.objects.all().delete()
    with time_machine.travel(T0 + timedelta(minutes=10), tick=False):
        digest_errors(world, 2)
    users = set(Delivery.objects.filter(channel=None).values_list("user__email", flat=True))
    assert users == {"bob@example.com"}


def test_a_rule_naming_a_deleted_channel_still_records_its_fire(world: World) -> None:
    make_rule(world.project, conds=[FIRST_SEEN])
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1)
    fire = RuleFire.objects.get()
    assert fire.notified == []


def test_two_workers_on_separate_connections_never_both_fire(world: World) -> None:
    """The claim is an insert or a conditional update: of many workers evaluating the same
    rule and issue at once, exactly one sends."""
    channel = make_channel(world)
    rule = make_rule(world.project, conds=[FIRST_SEEN])
    with time_machine.travel(T0, tick=False):
        stored = digest_errors(world, 1)
    event = stored.events[0][1]
    RuleFire.objects.all().delete()
    RuleIssueStatus.objects.all().delete()
    Delivery.objects.all().delete()
    issue = Issue.objects.select_related("project__organization").get()
    results: list[bool] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        try:
            barrier.wait()
            facts = Facts(issue, event, T0 + timedelta(minutes=1), is_new=True)
            results.append(issue_alerts.fire(rule, facts))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert RuleFire.objects.count() == 1
    assert len(deliveries(channel)) == 1


def test_an_archived_issue_that_comes_back_fires_the_reappeared_rule(world: World) -> None:
    channel = make_channel(world)
    make_rule(world.project, conds=[{"id": conditions.REAPPEARED}])
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 1)
    issue = Issue.objects.get()
    state.archive(issue, state.ArchiveCondition(count=3))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        digest_errors(world, 2)
        assert deliveries(channel) == []  # two more: still archived
        digest_errors(world, 1)
    assert [n["issue_id"] for n in deliveries(channel)] == [issue.pk]


def test_more_than_n_users_in_an_interval(world: World) -> None:
    channel = make_channel(world)
    make_rule(
        world.project,
        conds=[{"id": conditions.USER_FREQUENCY, "value": 2, "interval": "1h"}],
    )
    with time_machine.travel(T0, tick=False):
        for user in ("ann", "ann", "ben"):
            digest_errors(world, 1, user={"id": user})
        assert deliveries(channel) == []  # two users
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        digest_errors(world, 1, user={"id": "cat"})
    assert len(deliveries(channel)) == 1


def test_a_percent_increase_against_the_day_before(world: World) -> None:
    channel = make_channel(world)
    make_rule(
        world.project,
        conds=[
            {
                "id": conditions.FREQUENCY,
                "value": 100,
                "interval": "1h",
                "comparisonType": "percent",
                "comparisonInterval": "1d",
            }
        ],
    )
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        digest_errors(world, 4)
    with time_machine.travel(T0, tick=False):
        digest_errors(world, 8)
        assert deliveries(channel) == []  # +100 %: not more
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        digest_errors(world, 1)
    assert len(deliveries(channel)) == 1


def test_a_batch_costs_one_query_without_rules_and_two_when_none_passes(
    world: World, django_assert_num_queries: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        stored = digest_errors(world, 3)
    with django_assert_num_queries(1):
        assert issue_alerts.process(stored.events, [], [], now=T0) == 0
    make_rule(world.project, conds=[FIRST_SEEN])  # the issue is not new any more
    with django_assert_num_queries(2):
        assert issue_alerts.process(stored.events, [], [], now=T0) == 0
