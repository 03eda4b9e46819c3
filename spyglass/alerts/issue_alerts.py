"""Issue alerts, run after each digest batch commits (Sentry's post-process rule processor).

For every issue the batch touched, each of its project's unmuted rules (for the event's
environment) checks its conditions (``actionMatch``) and filters (``filterMatch``) against the
issue's latest event in the batch and its counters. A rule that passes claims the fire for
that rule and issue (``RuleIssueStatus``: an insert, or an update conditional on the action
interval having passed) in the same transaction that enqueues its notifications, so
concurrent workers never both send and a failure sends nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from spyglass.alerts import conditions, delivery, filters
from spyglass.alerts.facts import EventLike, Facts
from spyglass.alerts.models import Match, Rule, RuleFire, RuleIssueStatus
from spyglass.issues.models import Issue, IssueAssignee
from spyglass.notifications.message import Notification
from spyglass.projects.models import Organization

log = logging.getLogger(__name__)


def process(
    events: Sequence[tuple[int, EventLike]],
    new_issues: Iterable[int],
    state_changes: Iterable[tuple[int, str]],
    now: datetime | None = None,
) -> int:
    """Evaluate the rules for what a batch stored; the number of fires."""
    now = now or timezone.now()
    latest: dict[int, EventLike] = {}
    for issue_id, event in events:
        latest[issue_id] = event
    if not latest:
        return 0
    projects = {event.project_id for event in latest.values()}
    rules: dict[int, list[Rule]] = {}
    for rule in Rule.objects.filter(project_id__in=projects).exclude(muted_until__gt=now):
        rules.setdefault(rule.project_id, []).append(rule)
    if not rules:
        return 0
    new = set(new_issues)
    changes: dict[int, set[str]] = {}
    for issue_id, kind in state_changes:
        changes.setdefault(issue_id, set()).add(kind)
    issues = Issue.objects.select_related("project__organization").in_bulk(list(latest))
    fired = 0
    for issue_id, event in latest.items():
        issue = issues.get(issue_id)
        if issue is None:
            continue
        facts = Facts(issue, event, now, issue_id in new, frozenset(changes.get(issue_id, ())))
        for rule in rules.get(event.project_id, []):
            if applies(rule, facts) and fire(rule, facts):
                fired += 1
    return fired


def _matches(match: str, tests: Iterable[bool]) -> bool:
    if match == Match.ANY:
        return any(tests)
    if match == Match.NONE:
        return not any(tests)
    return all(tests)


def applies(rule: Rule, facts: Facts) -> bool:
    if rule.environment and facts.event.environment != rule.environment:
        return False
    if not rule.conditions:
        return False  # Sentry's UI requires a condition; a rule without one never fires
    ok = _matches(rule.action_match, (conditions.passes(facts, c) for c in rule.conditions))
    return ok and _matches(rule.filter_match, (filters.passes(facts, f) for f in rule.filters))


def claim(rule: Rule, issue_id: int, now: datetime) -> bool:
    """Take the fire for rule and issue at ``now``: False when another fire (by any worker) is
    within the rule's action interval."""
    table = RuleIssueStatus._meta.db_table
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (rule_id, issue_id, last_fired_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (rule_id, issue_id) DO NOTHING",
            [rule.pk, issue_id, at],
        )
        if cursor.rowcount == 1:
            return True
    cutoff = now - timedelta(minutes=rule.frequency)
    updated = RuleIssueStatus.objects.filter(
        rule=rule, issue_id=issue_id, last_fired_at__lte=cutoff
    ).update(last_fired_at=now)
    return updated == 1


def fire(rule: Rule, facts: Facts) -> bool:
    with transaction.atomic():
        if not claim(rule, facts.issue.pk, facts.now):
            return False
        reasons = [conditions.label(c) for c in rule.conditions if conditions.passes(facts, c)]
        message = issue_notification(rule, facts, reasons)
        notified = [
            done for action in rule.actions if (done := run_action(rule, facts, action, message))
        ]
        RuleFire.objects.create(
            rule=rule,
            issue=facts.issue,
            event_id=facts.event.event_id,
            fired_at=facts.now,
            reasons=reasons,
            notified=notified,
        )
        Rule.objects.filter(pk=rule.pk).update(last_fired_at=facts.now)
    return True


def issue_url(issue: Issue) -> str:
    project = issue.project
    return f"{settings.BASE_URL}/{project.organization.slug}/{project.slug}/issues/{issue.number}/"


def issue_notification(rule: Rule, facts: Facts, reasons: list[str]) -> Notification:
    issue, event = facts.issue, facts.event
    fields = {
        "project": issue.project.slug,
        "level": event.level,
        "environment": event.environment,
        "release": event.release,
        "events": str(issue.times_seen),
        "users": str(issue.users_seen),
    }
    text = f"{'; '.join(reasons) or rule.name}. {issue.culprit}".strip()
    return delivery.notification(
        kind="issue_alert",
        title=issue.title,
        text=text,
        url=issue_url(issue),
        level=delivery.LEVELS.get(event.level, "info"),
        dedup_key=f"spyglass-issue-{issue.pk}",
        rule_name=rule.name,
        issue_id=issue.pk,
        event_id=event.event_id,
        fields={k: v for k, v in fields.items() if v},
    )


def run_action(
    rule: Rule, facts: Facts, action: Mapping[str, Any], message: Notification
) -> str | None:
    organization = facts.issue.project.organization
    handler = _ACTIONS.get(str(action.get("id")))
    if handler is None:
        log.warning("rule %s has an action Spyglass can't run: %s", rule.pk, action.get("id"))
        return None
    return handler(organization, facts, action, message)


def _service(
    organization: Organization, facts: Facts, action: Mapping[str, Any], message: Notification
) -> str | None:
    return delivery.send_to_channel(organization, str(action.get("service", "")), message)


def _email(
    organization: Organization, facts: Facts, action: Mapping[str, Any], message: Notification
) -> str | None:
    target = action.get("targetType", "IssueOwners")
    project = facts.issue.project
    if target == "Team":
        users = delivery.team_user_ids(int(str(action.get("targetIdentifier", 0))))
    elif target == "Member":
        users = delivery.member_user_ids(organization, action.get("targetIdentifier"))
    else:
        users = _owners(facts.issue)
        if not users:
            fallthrough = action.get("fallthroughType", "ActiveMembers")
            if fallthrough != "NoOne":
                users = delivery.project_user_ids(project, everyone=fallthrough == "AllMembers")
    return delivery.email(users, message)


def _owners(issue: Issue) -> list[int]:
    assignee = IssueAssignee.objects.filter(issue=issue).first()
    if assignee is None:
        return []
    if assignee.user_id is not None:
        return [assignee.user_id]
    return delivery.team_user_ids(assignee.team_id) if assignee.team_id else []


_Handler = Callable[[Organization, Facts, Mapping[str, Any], Notification], "str | None"]
_ACTIONS: dict[str, _Handler] = {
    delivery.SERVICE_ACTION: _service,
    delivery.EMAIL_ACTION: _email,
}
