"""Triage: who owns an issue, who follows it, comments, links, merge, unmerge and delete.

The status changes (resolve, archive, reopen, priority) are in ``state.py``; both record
every change as an Activity through ``signals.record`` (which announces it after commit).
Callers check access first: every function here trusts that the user may act on the issue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min, Sum
from django.utils import timezone

from spyglass.accounts.models import User
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.events.views import web_url
from spyglass.issues.models import (
    Activity,
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueCounter,
    IssueHash,
    IssueLink,
    IssueSeen,
    IssueSubscription,
    SubscriptionReason,
)
from spyglass.issues.signals import record
from spyglass.projects.models import Member, Project, Team

MAX_COMMENT = 5000  # characters
MINUTE, HOUR = 60, 3600  # the resolutions of IssueCount
SEEN_RESOLUTION = timedelta(minutes=5)  # IssueSeen.last_seen is written at most this often
NOTE = "note"  # Sentry's activity type of a comment


class ActionError(ValueError):
    """The action can't be done as asked (shown to the user as is)."""


# -- assignment -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Assignee:
    """A member or a team of the issue's organization."""

    user: User | None = None
    team: Team | None = None

    @property
    def actor(self) -> str:
        """Sentry's actor id: ``user:ID`` or ``team:ID``."""
        return f"user:{self.user.pk}" if self.user else f"team:{self.team.pk if self.team else ''}"

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.email
        return f"#{self.team.slug}" if self.team else ""


def find_assignee(project: Project, actor: str) -> Assignee | None:
    """``user:ID`` or an email of a member of the project's organization, or ``team:ID`` of
    one of the project's teams; None when it names nobody of them (another organization's
    ids are as unknown as made-up ones)."""
    actor = actor.strip()
    kind, _, ident = actor.partition(":")
    if kind == "team" and ident.isdigit():
        team = project.teams.filter(pk=int(ident)).first()
        return Assignee(team=team) if team else None
    members = Member.objects.filter(organization_id=project.organization_id, user__isnull=False)
    if kind == "user" and ident.isdigit():
        member = members.select_related("user").filter(user_id=int(ident)).first()
    elif "@" in actor and ":" not in actor:
        member = members.select_related("user").filter(user__email__iexact=actor).first()
    else:
        return None
    return Assignee(user=member.user) if member and member.user else None


def assignable(project: Project) -> tuple[list[User], list[Team]]:
    """Whom the project's issues can be assigned to: the organization's members and the
    project's teams."""
    users = list(
        User.objects.filter(memberships__organization_id=project.organization_id).order_by("email")
    )
    return users, list(project.teams.order_by("slug"))


def assignee_of(issue: Issue) -> Assignee | None:
    row = IssueAssignee.objects.filter(issue=issue).select_related("user", "team").first()
    return Assignee(user=row.user, team=row.team) if row else None


@transaction.atomic
def assign(issue: Issue, to: Assignee, user: User | None) -> None:
    current = IssueAssignee.objects.filter(issue=issue).first()
    if (
        current
        and current.user_id == (to.user.pk if to.user else None)
        and current.team_id == (to.team.pk if to.team else None)
    ):
        return  # already theirs: no activity, no notification
    IssueAssignee.objects.update_or_create(
        issue=issue, defaults={"user": to.user, "team": to.team, "created_at": timezone.now()}
    )
    if to.user is not None:
        _subscribe_implicitly(issue, to.user, SubscriptionReason.ASSIGNED)
    record(
        issue,
        "assigned",
        user,
        assignee=str(to.user.pk if to.user else to.team.pk if to.team else ""),
        assigneeType="user" if to.user else "team",
        assigneeEmail=to.user.email if to.user else None,
        assigneeName=to.label,
    )


@transaction.atomic
def unassign(issue: Issue, user: User | None) -> None:
    deleted, _ = IssueAssignee.objects.filter(issue=issue).delete()
    if deleted:
        record(issue, "unassigned", user)


# -- bookmarks and subscriptions -------------------------------------------------------------
def is_bookmarked(issue: Issue, user: User) -> bool:
    return IssueBookmark.objects.filter(issue=issue, user=user).exists()


@transaction.atomic
def bookmark(issue: Issue, user: User, on: bool = True) -> None:
    """A private marker: no activity (as in Sentry), but bookmarking subscribes."""
    if on:
        _, created = IssueBookmark.objects.get_or_create(issue=issue, user=user)
        if created:
            _subscribe_implicitly(issue, user, SubscriptionReason.BOOKMARKED)
    else:
        IssueBookmark.objects.filter(issue=issue, user=user).delete()


def is_subscribed(issue: Issue, user: User) -> bool:
    return IssueSubscription.objects.filter(issue=issue, user=user, is_active=True).exists()


def subscribe(issue: Issue, user: User, on: bool = True) -> None:
    """An explicit choice; it sticks (commenting or being assigned later doesn't undo an
    unsubscribe)."""
    IssueSubscription.objects.update_or_create(
        issue=issue,
        user=user,
        defaults={"is_active": on, "reason": SubscriptionReason.MANUAL},
    )


def _subscribe_implicitly(issue: Issue, user: User, reason: str) -> None:
    IssueSubscription.objects.get_or_create(
        issue=issue, user=user, defaults={"is_active": True, "reason": reason}
    )


def subscribers(issue: Issue) -> list[User]:
    """Who gets the issue's workflow notifications."""
    rows = IssueSubscription.objects.filter(issue=issue, is_active=True).select_related("user")
    return [row.user for row in rows]


def mark_seen(issue: Issue, user: User, seen: bool = True) -> None:
    """``hasSeen``: the issue page marks it; the API sets or clears it."""
    if seen:
        now = timezone.now()
        rows = IssueSeen.objects.filter(issue=issue, user=user)
        if rows.filter(last_seen__gte=now - SEEN_RESOLUTION).exists():
            return  # seen lately: a page view needs no write (SQLite has one writer)
        IssueSeen.objects.bulk_create(
            [IssueSeen(issue=issue, user=user, last_seen=now)],
            update_conflicts=True,
            unique_fields=["issue", "user"],
            update_fields=["last_seen"],
        )
    else:
        IssueSeen.objects.filter(issue=issue, user=user).delete()


def has_seen(issue: Issue, user: User) -> bool:
    return IssueSeen.objects.filter(issue=issue, user=user).exists()


# -- comments ------------------------------------------------------------------------------
def _clean_comment(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise ActionError("A comment needs some text.")
    if len(text) > MAX_COMMENT:
        raise ActionError(f"A comment is at most {MAX_COMMENT} characters.")
    return text


@transaction.atomic
def comment(issue: Issue, user: User, text: str) -> Activity:
    """Plain text (templates escape it; no markdown)."""
    activity = record(issue, NOTE, user, text=_clean_comment(text))
    _subscribe_implicitly(issue, user, SubscriptionReason.COMMENTED)
    return activity


def own_comment(issue: Issue, user: User, comment_id: int) -> Activity:
    """The user's own comment on the issue, else ActionError (someone else's comment is as
    absent as a made-up id)."""
    found = Activity.objects.filter(issue=issue, kind=NOTE, user=user, pk=comment_id).first()
    if found is None:
        raise ActionError("No such comment of yours.")
    return found


def edit_comment(issue: Issue, user: User, comment_id: int, text: str) -> Activity:
    note = own_comment(issue, user, comment_id)
    note.data = {**note.data, "text": _clean_comment(text), "edited": timezone.now().isoformat()}
    note.save(update_fields=["data"])
    return note


def delete_comment(issue: Issue, user: User, comment_id: int) -> None:
    own_comment(issue, user, comment_id).delete()


# -- external links --------------------------------------------------------------------------
def add_link(issue: Issue, url: str, title: str, user: User | None) -> IssueLink:
    url = url.strip()
    if not web_url(url) or len(url) > 2048:
        raise ActionError("A link must be an http:// or https:// URL.")
    title = title.strip()[:200]
    with transaction.atomic():
        link = IssueLink.objects.create(issue=issue, url=url, title=title, user=user)
        record(issue, "link_issue", user, url=url, title=title)
    return link


def remove_link(issue: Issue, link_id: int, user: User | None) -> None:
    with transaction.atomic():
        link = IssueLink.objects.filter(issue=issue, pk=link_id).first()
        if link is None:
            raise ActionError("No such link.")
        link.delete()
        record(issue, "unlink_issue", user, url=link.url, title=link.title)


# -- merge -----------------------------------------------------------------------------------
def merge_target(issues: Sequence[Issue]) -> Issue:
    """The issue the others merge into: the one with the most events (the oldest on a tie)."""
    return max(issues, key=lambda issue: (issue.times_seen, -issue.id))


@transaction.atomic
def merge(issues: Sequence[Issue], user: User | None) -> Issue:
    """Merge the issues (all of one project) into the one with the most events: their
    hashes, events, tag counts, event counts, feedback, attachments, activity, bookmarks,
    subscriptions and links move to it; they are deleted. Returns the merged issue."""
    if len({issue.project_id for issue in issues}) != 1:
        raise ActionError("Only issues of one project can be merged.")
    if len({issue.category for issue in issues}) != 1 or issues[0].category == "feedback":
        # A feedback issue is its feedback (deleting it deletes that); kinds don't mix.
        raise ActionError("Only issues of one kind (errors with errors) can be merged.")
    locked = list(
        Issue.objects.select_for_update().filter(id__in=[i.id for i in issues]).order_by("id")
    )
    if len(locked) < 2:
        raise ActionError("Select two or more issues to merge.")
    target = merge_target(locked)
    sources = [issue for issue in locked if issue.id != target.id]
    ids = [issue.id for issue in sources]
    for source in sources:
        record(
            source,
            "merge_into",
            user,
            issue=target.short_id,
            issue_id=target.id,
            source=source.short_id,
        )
    IssueHash.objects.filter(issue_id__in=ids).update(issue=target)
    Event.objects.filter(issue_id__in=ids).update(issue=target)
    _move_tag_values(ids, target.id)
    _move_counts(ids, target.id)
    _move_followers(ids, target)
    _move_related(ids, target.id)
    Activity.objects.filter(issue_id__in=ids).update(issue=target)
    for source in sources:
        target.times_seen += source.times_seen
        target.first_seen = min(target.first_seen, source.first_seen)
        if source.last_seen > target.last_seen:
            target.last_seen = source.last_seen
            target.last_release = source.last_release or target.last_release
        if source.first_seen <= target.first_seen and source.first_release:
            target.first_release = source.first_release
    target.users_seen = _users_seen(target.id)
    target.save(
        update_fields=[
            "times_seen",
            "users_seen",
            "first_seen",
            "last_seen",
            "first_release",
            "last_release",
        ]
    )
    Issue.objects.filter(id__in=ids).delete()
    record(
        target,
        "merge",
        user,
        issues=[source.short_id for source in sources],
        issue_ids=ids,
    )
    return target


def _move_tag_values(source_ids: list[int], target_id: int) -> None:
    rows = IssueTagValue.objects.filter(issue_id__in=[*source_ids, target_id])
    merged: dict[tuple[str, str], IssueTagValue] = {}
    for row in rows.filter(issue_id=target_id):
        merged[(row.key, row.value)] = row
    changed: list[IssueTagValue] = []
    moved: list[int] = []
    for row in rows.filter(issue_id__in=source_ids).order_by("id"):
        mine = merged.get((row.key, row.value))
        if mine is None:
            row.issue_id = target_id
            merged[(row.key, row.value)] = row
            moved.append(row.id)
            continue
        mine.times_seen += row.times_seen
        mine.first_seen = min(mine.first_seen, row.first_seen)
        mine.last_seen = max(mine.last_seen, row.last_seen)
        changed.append(mine)
    IssueTagValue.objects.filter(id__in=moved).update(issue_id=target_id)
    IssueTagValue.objects.bulk_update(
        {row.id: row for row in changed}.values(), ["times_seen", "first_seen", "last_seen"]
    )


def _move_counts(source_ids: list[int], target_id: int) -> None:
    rows = IssueCount.objects.filter(issue_id__in=[*source_ids, target_id])
    mine = {(r.resolution, r.bucket): r for r in rows.filter(issue_id=target_id)}
    changed: dict[int, IssueCount] = {}
    moved: list[int] = []
    for row in rows.filter(issue_id__in=source_ids).order_by("id"):
        found = mine.get((row.resolution, row.bucket))
        if found is None:
            mine[(row.resolution, row.bucket)] = row
            moved.append(row.id)
        else:
            found.count += row.count
            changed[found.id] = found
    IssueCount.objects.filter(id__in=moved).update(issue_id=target_id)
    IssueCount.objects.bulk_update(changed.values(), ["count"])


def _move_followers(source_ids: list[int], target: Issue) -> None:
    have = set(IssueBookmark.objects.filter(issue=target).values_list("user_id", flat=True))
    for row in IssueBookmark.objects.filter(issue_id__in=source_ids):
        if row.user_id not in have:
            have.add(row.user_id)
            IssueBookmark.objects.create(issue=target, user_id=row.user_id)
    have = set(IssueSubscription.objects.filter(issue=target).values_list("user_id", flat=True))
    for sub in IssueSubscription.objects.filter(issue_id__in=source_ids):
        if sub.user_id not in have:
            have.add(sub.user_id)
            IssueSubscription.objects.create(
                issue=target, user_id=sub.user_id, is_active=sub.is_active, reason=sub.reason
            )
    IssueLink.objects.filter(issue_id__in=source_ids).update(issue=target)
    if not IssueAssignee.objects.filter(issue=target).exists():
        first = IssueAssignee.objects.filter(issue_id__in=source_ids).order_by("id").first()
        if first is not None:
            IssueAssignee.objects.create(issue=target, user_id=first.user_id, team_id=first.team_id)


def _move_related(source_ids: list[int], target_id: int) -> None:
    from spyglass.attachments.models import Attachment
    from spyglass.feedback.models import UserFeedback

    UserFeedback.objects.filter(issue_id__in=source_ids).update(issue_id=target_id)
    Attachment.objects.filter(issue_id__in=source_ids).update(issue_id=target_id)


def _users_seen(issue_id: int) -> int:
    return IssueTagValue.objects.filter(issue_id=issue_id, key="user").count()


# -- unmerge ---------------------------------------------------------------------------------
@transaction.atomic
def unmerge(issue: Issue, hash_value: str, user: User | None) -> Issue:
    """Split one of the issue's hashes off into a new issue, with the stored events whose
    primary hash it is (their tag and event counts move with them). Later events with that
    hash go to the new issue."""
    # The counter before the issue, in the digest's order (it numbers, then saves issues).
    counter, _ = IssueCounter.objects.select_for_update().get_or_create(project_id=issue.project_id)
    locked = Issue.objects.select_for_update().get(pk=issue.pk)
    hashes = list(IssueHash.objects.filter(issue=locked))
    chosen = next((h for h in hashes if h.hash == hash_value), None)
    if chosen is None:
        raise ActionError("That fingerprint is not this issue's.")
    if len(hashes) < 2:
        raise ActionError("An issue with one fingerprint can't be split.")
    moving = Event.objects.filter(issue=locked, primary_hash=hash_value)
    latest = moving.order_by("-timestamp", "-id").first()
    # Never a number in use, even if the counter fell behind (issues made outside the digest).
    used = Issue.objects.filter(project_id=locked.project_id).aggregate(n=Max("number"))["n"]
    counter.value = max(counter.value, used or 0) + 1
    counter.save(update_fields=["value"])
    now = timezone.now()
    new = Issue.objects.create(
        project_id=locked.project_id,
        number=counter.value,
        category=locked.category,
        type=locked.type,
        title=latest.title if latest else locked.title,
        culprit=latest.culprit if latest else locked.culprit,
        metadata=locked.metadata,
        level=latest.level if latest else locked.level,
        platform=locked.platform,
        logger=locked.logger,
        first_seen=now,
        last_seen=now,
        priority=locked.priority,
        active_at=now,
    )
    IssueHash.objects.filter(pk=chosen.pk).update(issue=new)
    event_ids = list(moving.values_list("id", flat=True))
    tags, counts = _tallies(event_ids)
    Event.objects.filter(id__in=event_ids).update(issue=new)
    _split_tags(locked.id, new.id, tags)
    _split_counts(locked.id, new.id, counts)
    for target in (locked, new):
        _recount(target)
    record(new, "unmerge_source", user, issue=locked.short_id, issue_id=locked.id, hash=hash_value)
    record(locked, "unmerge_destination", user, issue=new.short_id, issue_id=new.id)
    issue.refresh_from_db()
    return new


@dataclass
class Tally:
    """How many of the moving events carried one tag value, and when."""

    seen: int
    first: datetime
    last: datetime


def _tallies(
    event_ids: list[int],
) -> tuple[dict[tuple[str, str], Tally], dict[tuple[int, int], int]]:
    """Per (key, value): events, first and last seen; per (resolution, bucket): events."""
    tags: dict[tuple[str, str], Tally] = {}
    counts: dict[tuple[int, int], int] = defaultdict(int)
    rows = Event.objects.filter(id__in=event_ids).values_list("timestamp", "tags")
    for timestamp, pairs in rows.iterator():
        for pair in pairs if isinstance(pairs, list) else []:
            if not (isinstance(pair, list) and len(pair) == 2):
                continue
            key = (str(pair[0])[:200], str(pair[1])[:200])
            entry = tags.setdefault(key, Tally(0, timestamp, timestamp))
            entry.seen += 1
            entry.first, entry.last = min(entry.first, timestamp), max(entry.last, timestamp)
        seconds = int(timestamp.timestamp())
        for resolution in (MINUTE, HOUR):
            counts[(resolution, seconds - seconds % resolution)] += 1
    return tags, dict(counts)


def _split_tags(source_id: int, new_id: int, tags: dict[tuple[str, str], Tally]) -> None:
    existing = {
        (row.key, row.value): row
        for row in IssueTagValue.objects.filter(issue_id=source_id, key__in={k for k, _ in tags})
    }
    gone: list[int] = []
    changed: list[IssueTagValue] = []
    created: list[IssueTagValue] = []
    for (key, value), tally in tags.items():
        row = existing.get((key, value))
        if row is not None:
            row.times_seen = max(0, row.times_seen - tally.seen)
            if row.times_seen:
                changed.append(row)
            else:
                gone.append(row.id)
        created.append(
            IssueTagValue(
                issue_id=new_id,
                key=key,
                value=value,
                times_seen=tally.seen,
                first_seen=tally.first,
                last_seen=tally.last,
            )
        )
    IssueTagValue.objects.filter(id__in=gone).delete()
    IssueTagValue.objects.bulk_update(changed, ["times_seen"])
    IssueTagValue.objects.bulk_create(created)


def _split_counts(source_id: int, new_id: int, counts: dict[tuple[int, int], int]) -> None:
    rows = IssueCount.objects.filter(issue_id=source_id)
    changed: list[IssueCount] = []
    gone: list[int] = []
    for row in rows.filter(bucket__in={bucket for _, bucket in counts}):
        moved = counts.get((row.resolution, row.bucket))
        if moved:
            row.count = max(0, row.count - moved)
            if row.count:
                changed.append(row)
            else:
                gone.append(row.id)
    IssueCount.objects.filter(id__in=gone).delete()
    IssueCount.objects.bulk_update(changed, ["count"])
    IssueCount.objects.bulk_create(
        IssueCount(issue_id=new_id, resolution=resolution, bucket=bucket, count=count)
        for (resolution, bucket), count in counts.items()
    )


def _recount(issue: Issue) -> None:
    """times_seen, first / last seen and users from the stored events (after an unmerge)."""
    stats = Event.objects.filter(issue=issue).aggregate(
        first=Min("timestamp"), last=Max("timestamp")
    )
    issue.times_seen = Event.objects.filter(issue=issue).count()
    if stats["first"] is not None:
        issue.first_seen, issue.last_seen = stats["first"], stats["last"]
    issue.users_seen = _users_seen(issue.id)
    issue.save(update_fields=["times_seen", "first_seen", "last_seen", "users_seen"])


# -- delete ----------------------------------------------------------------------------------
def delete(issues: Iterable[Issue]) -> int:
    """Delete the issues with their events, attachments and hashes (a later event with one of
    those hashes makes a new issue). Feedback about them stays, without its issue. Returns
    how many."""
    from spyglass.attachments.models import Attachment

    ids = [issue.id for issue in issues]
    if not ids:
        return 0
    with transaction.atomic():
        attachments = Attachment.objects.filter(issue_id__in=ids)
        files = [attachment.file for attachment in attachments]
        attachments.delete()
        Event.objects.filter(issue_id__in=ids).delete()
        IssueTagValue.objects.filter(issue_id__in=ids).delete()
        IssueCount.objects.filter(issue_id__in=ids).delete()
        deleted = Issue.objects.filter(id__in=ids).delete()[1].get(Issue._meta.label, 0)
    for path in files:  # after the commit: a rolled-back delete keeps its files
        path.unlink(missing_ok=True)
    return int(deleted)


def total_events(issue_ids: Iterable[int]) -> int:
    found = Issue.objects.filter(id__in=list(issue_ids)).aggregate(n=Sum("times_seen"))["n"]
    return int(found or 0)
