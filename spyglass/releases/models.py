"""Releases: the versions events report, ordered as Sentry orders them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, models
from django.utils import timezone

from spyglass.projects.models import Organization, Project


class Release(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="releases"
    )
    version = models.CharField(max_length=250)
    projects = models.ManyToManyField(Project, blank=True, related_name="releases")
    created_at = models.DateTimeField(default=timezone.now)
    # Set by `sentry-cli releases finalize`; Sentry orders releases by this, else creation.
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "version"], name="release_version_unique"
            )
        ]

    def __str__(self) -> str:
        return self.version

    @property
    def effective_date(self) -> object:
        return self.released_at or self.created_at


# --- release health ---------------------------------------------------------------------------


class SessionCount(models.Model):
    """Sessions per project, release, environment and minute (of the sessions' start), as
    Relay's session metrics count them. ``errored`` counts every session that had an error,
    crashed and abnormal ones included, so healthy = started - errored and crash-free =
    1 - crashed / started."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="session_counts")
    release = models.CharField(max_length=250)
    environment = models.CharField(max_length=64, blank=True)
    bucket = models.BigIntegerField()  # unix seconds at the start of the minute
    started = models.PositiveBigIntegerField(default=0)
    exited = models.PositiveBigIntegerField(default=0)
    errored = models.PositiveBigIntegerField(default=0)
    crashed = models.PositiveBigIntegerField(default=0)
    abnormal = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "bucket"],
                name="session_count_unique",
            )
        ]
        indexes = [models.Index(fields=["project", "bucket"], name="session_count_time")]

    def __str__(self) -> str:
        return f"{self.release} {self.environment} @{self.bucket}: {self.started} started"


class SessionUser(models.Model):
    """The distinct ids (users or devices) seen in sessions per release, environment and day,
    and whether one of their sessions crashed: crash-free users."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="session_users")
    release = models.CharField(max_length=250)
    environment = models.CharField(max_length=64, blank=True)
    day = models.DateField()
    distinct_id = models.CharField(max_length=128)
    crashed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["project", "release", "environment", "day", "distinct_id"],
                name="session_user_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.release} {self.environment} {self.day} {self.distinct_id}"


# Relay refuses session updates of sessions that started longer ago than this (counted from
# when the update was received): sessions last five days at most.
MAX_SESSION_AGE = timedelta(days=5)


class SessionState(models.Model):
    """Where each single-update session stands, so a session is started, errored and ended
    at most once however many updates (or redeliveries) arrive. Updates of sessions that
    started more than ``MAX_SESSION_AGE`` before they were received are refused (as Relay
    does), so the rows of those sessions can go (``expire_session_states``)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    sid = models.CharField(max_length=32)
    started = models.DateTimeField()
    status = models.CharField(max_length=16, default="ok")
    counted = models.BooleanField(default=False)  # its `init` update was counted
    errored = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "sid"], name="session_state_unique")
        ]
        indexes = [models.Index(fields=["started"], name="session_state_started")]

    def __str__(self) -> str:
        return f"{self.sid} {self.status}"


def expire_session_states(received_since: datetime) -> int:
    """Delete the states no update can reach any more: those of sessions that started more
    than ``MAX_SESSION_AGE`` before ``received_since``, the receive time of the oldest update
    still to be digested. Ended sessions stay until then too: an SDK may send an update again
    (offline caches do), and without its state it would count again. A chunk per
    transaction, so the digest never waits long. Returns how many went."""
    cutoff = received_since - MAX_SESSION_AGE
    removed = 0
    while True:
        ids = list(
            SessionState.objects.filter(started__lt=cutoff).values_list("id", flat=True)[:5000]
        )
        if not ids:
            return removed
        removed += SessionState.objects.filter(id__in=ids).delete()[0]


# --- recording sessions -----------------------------------------------------------------------

EXITED, CRASHED, ABNORMAL, ERRORED = "exited", "crashed", "abnormal", "errored"
TERMINAL = frozenset({EXITED, CRASHED, ABNORMAL, ERRORED})
# Statuses that make a session count as errored even without an error count.
ERROR_STATUSES = frozenset({CRASHED, ABNORMAL, ERRORED})
_COUNTERS = ("started", "exited", "errored", "crashed", "abnormal")


@dataclass(frozen=True)
class SessionUpdate:
    """One ``session`` item, read from the wire."""

    project_id: int
    sid: str
    distinct_id: str
    init: bool
    status: str  # ok, exited, crashed, abnormal, errored
    errors: int
    started: datetime
    release: str
    environment: str


@dataclass(frozen=True)
class SessionAggregate:
    """One bucket of a ``sessions`` item: sessions that started in that minute, by outcome."""

    project_id: int
    started: datetime
    distinct_id: str
    release: str
    environment: str
    exited: int
    errored: int  # errored but neither crashed nor abnormal
    crashed: int
    abnormal: int


_CountKey = tuple[int, str, str, int]  # project, release, environment, minute
_UserKey = tuple[int, str, str, date, str]


class _Tally:
    def __init__(self) -> None:
        self.counts: dict[_CountKey, list[int]] = {}
        self.users: dict[_UserKey, bool] = {}

    def add(
        self,
        project_id: int,
        release: str,
        environment: str,
        started: datetime,
        counter: str,
        n: int = 1,
    ) -> None:
        seconds = int(started.timestamp())
        key = (project_id, release, environment, seconds - seconds % 60)
        row = self.counts.setdefault(key, [0] * len(_COUNTERS))
        row[_COUNTERS.index(counter)] += n

    def user(
        self,
        project_id: int,
        release: str,
        environment: str,
        started: datetime,
        distinct_id: str,
        crashed: bool,
    ) -> None:
        if distinct_id:
            key = (project_id, release, environment, started.date(), distinct_id)
            self.users[key] = self.users.get(key, False) or crashed


def record_sessions(
    updates: Sequence[SessionUpdate], aggregates: Sequence[SessionAggregate]
) -> None:
    """Count single session updates (once per session and transition, however often they
    arrive) and aggregates into the per-minute counters and the per-day distinct users."""
    tally = _Tally()
    _apply_updates(updates, tally)
    for a in aggregates:
        total = a.exited + a.errored + a.crashed + a.abnormal
        for counter, n in (
            ("started", total),
            ("exited", a.exited),
            ("crashed", a.crashed),
            ("abnormal", a.abnormal),
            ("errored", total - a.exited),
        ):
            if n:
                tally.add(a.project_id, a.release, a.environment, a.started, counter, n)
        tally.user(a.project_id, a.release, a.environment, a.started, a.distinct_id, a.crashed > 0)
    _upsert_counts(tally.counts)
    _upsert_users(tally.users)


def _apply_updates(updates: Sequence[SessionUpdate], tally: _Tally) -> None:
    states = _states_of(updates)
    fresh: dict[tuple[int, str], SessionState] = {}
    changed: dict[tuple[int, str], SessionState] = {}
    for u in updates:
        key = (u.project_id, u.sid)
        state = states.get(key)
        if state is None:
            state = states[key] = fresh[key] = SessionState(
                project_id=u.project_id, sid=u.sid, started=u.started
            )
        if state.status in TERMINAL:
            continue  # ended: later updates (and redeliveries) change nothing
        where = (u.project_id, u.release, u.environment, u.started)
        if u.init and not state.counted:
            state.counted = True
            tally.add(*where, "started")
        if (u.errors > 0 or u.status in ERROR_STATUSES) and not state.errored:
            state.errored = True
            tally.add(*where, "errored")
        if u.status in TERMINAL:
            state.status = u.status
            if u.status != ERRORED:  # errored is counted by the flag above
                tally.add(*where, u.status)
        tally.user(*where, u.distinct_id, u.status == CRASHED)
        if key not in fresh:
            changed[key] = state
    SessionState.objects.bulk_create(fresh.values(), ignore_conflicts=True)
    SessionState.objects.bulk_update(changed.values(), ["status", "counted", "errored"])


def _states_of(updates: Sequence[SessionUpdate]) -> dict[tuple[int, str], SessionState]:
    by_project: dict[int, set[str]] = {}
    for u in updates:
        by_project.setdefault(u.project_id, set()).add(u.sid)
    states: dict[tuple[int, str], SessionState] = {}
    for project_id, sids in by_project.items():
        # Locked on PostgreSQL: two workers must not both count one session's transition.
        rows = SessionState.objects.select_for_update().filter(project_id=project_id, sid__in=sids)
        states.update(((project_id, row.sid), row) for row in rows)
    return states


_UPSERT_COUNTS = (
    "INSERT INTO releases_sessioncount (project_id, release, environment, bucket, "
    + ", ".join(_COUNTERS)
    + ") VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (project_id, release, environment, bucket) DO UPDATE SET "
    + ", ".join(f"{c} = releases_sessioncount.{c} + excluded.{c}" for c in _COUNTERS)
)
_UPSERT_USERS = (
    "INSERT INTO releases_sessionuser (project_id, release, environment, day, distinct_id,"
    " crashed) VALUES (%s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (project_id, release, environment, day, distinct_id) DO UPDATE SET"
    " crashed = (releases_sessionuser.crashed OR excluded.crashed)"
)


def _upsert_counts(counts: dict[_CountKey, list[int]]) -> None:
    if counts:
        with connection.cursor() as cursor:
            cursor.executemany(_UPSERT_COUNTS, [(*key, *row) for key, row in counts.items()])


def _upsert_users(users: dict[_UserKey, bool]) -> None:
    if users:
        adapt = connection.ops.adapt_datefield_value
        with connection.cursor() as cursor:
            cursor.executemany(
                _UPSERT_USERS,
                [
                    (p, r, e, adapt(day), did, crashed)
                    for (p, r, e, day, did), crashed in users.items()
                ],
            )
