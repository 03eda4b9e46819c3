"""The key registry: every search key Spyglass knows, its aliases, value type and scopes.

A key not in the registry is a tag, searched as text (Sentry does the same). `tags[name]`
always means the tag, even when `name` is a registered key (`tags[level]`).
Keys are case-sensitive, as in Sentry: `firstSeen` is a key, `firstseen` a tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, Flag, auto


class ValueType(Enum):
    TEXT = auto()  # wildcards; `>x` is the text ">x"
    VERSION = auto()  # text that also compares: release.version:>1.2.0
    NUMBER = auto()  # 10, 1.5, 1k / 2m / 3b; > >= < <=
    DURATION = auto()  # 300ms 1.5s 2m 1h 1d 1w, a bare number is ms; > >= < <=
    DATE = auto()  # -24h +7d, 2026-11-01, 2026-11-01T10:00:00Z; > >= < <= with absolute dates
    BOOLEAN = auto()  # true false 1 0
    ENUM = auto()  # one of KeySpec.choices
    SHORT_ID = auto()  # PROJECT-1A
    ACTOR = auto()  # me, my_teams, none, #team, email or username
    USER = auto()  # me, email or username


class Scope(Flag):
    """Where a key can be searched. Event keys apply to issue search too (an issue matches
    when one of its events does), as in Sentry."""

    ISSUE = auto()
    EVENT = auto()
    TRANSACTION = auto()


ALL = Scope.ISSUE | Scope.EVENT | Scope.TRANSACTION
ERRORS = Scope.ISSUE | Scope.EVENT


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str  # canonical
    type: ValueType
    scopes: Scope
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()  # ENUM: canonical values
    choice_aliases: tuple[tuple[str, str], ...] = ()  # ENUM: (alias, canonical)
    doc: str = ""
    tag: bool = False

    def choice(self, text: str) -> str | None:
        """The canonical value of an ENUM key for `text` (case-insensitive), or None."""
        lowered = text.lower()
        if lowered in self.choices:
            return lowered
        return dict(self.choice_aliases).get(lowered)


def _key(
    name: str,
    type: ValueType,
    scopes: Scope,
    *aliases: str,
    doc: str,
    choices: Iterable[str] = (),
    choice_aliases: Iterable[tuple[str, str]] = (),
) -> KeySpec:
    return KeySpec(name, type, scopes, aliases, tuple(choices), tuple(choice_aliases), doc)


T, N, D = ValueType.TEXT, ValueType.NUMBER, ValueType.DATE
IS_VALUES = (
    # status
    "unresolved",
    "resolved",
    "ignored",
    # substatus
    "new",
    "ongoing",
    "regressed",
    "escalating",
    "archived_until_escalating",
    "archived_until_condition_met",
    "archived_forever",
    # assignment, inbox, bookmarks, external issues
    "assigned",
    "unassigned",
    "for_review",
    "bookmarked",
    "linked",
    "unlinked",
)
SPAN_STATUSES = (
    "ok",
    "cancelled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal_error",
    "unavailable",
    "data_loss",
    "unauthenticated",
)

KEYS: tuple[KeySpec, ...] = (
    # --- issues ---
    _key(
        "is",
        ValueType.ENUM,
        Scope.ISSUE,
        choices=IS_VALUES,
        choice_aliases=[("archived", "ignored"), ("muted", "ignored")],
        doc="Status, substatus, assignment, inbox, bookmark or link state.",
    ),
    _key("assigned", ValueType.ACTOR, Scope.ISSUE, "assigned_to", doc="The assignee."),
    _key(
        "assigned_or_suggested",
        ValueType.ACTOR,
        Scope.ISSUE,
        doc="The assignee, or a suggested owner when unassigned.",
    ),
    _key("bookmarks", ValueType.USER, Scope.ISSUE, doc="Bookmarked by."),
    _key("subscribed", ValueType.USER, Scope.ISSUE, doc="Subscribed to by."),
    _key("firstSeen", D, Scope.ISSUE, "first_seen", "age", doc="When the issue first occurred."),
    _key("lastSeen", D, Scope.ISSUE, "last_seen", doc="When the issue last occurred."),
    _key("timesSeen", N, Scope.ISSUE, "times_seen", doc="How many events the issue has."),
    _key("user.count", N, Scope.ISSUE, "users_seen", doc="How many users the issue affected."),
    _key("issue", ValueType.SHORT_ID, Scope.ISSUE, "issue.short_id", doc="Short id, PROJ-1A."),
    _key("issue.id", N, Scope.ISSUE, doc="The issue's numeric id."),
    _key(
        "issue.priority",
        ValueType.ENUM,
        Scope.ISSUE,
        choices=("high", "medium", "low"),
        doc="The issue's priority.",
    ),
    _key(
        "issue.category",
        ValueType.ENUM,
        Scope.ISSUE,
        choices=("error", "performance", "cron", "uptime", "feedback"),
        doc="The kind of issue.",
    ),
    _key("issue.type", T, Scope.ISSUE, doc="The issue's type (error, a detector's type...)."),
    _key("title", T, Scope.ISSUE, doc="The issue's title."),
    _key(
        "firstRelease",
        T,
        Scope.ISSUE,
        "first_release",
        "first-release",
        doc="The release the issue first appeared in; `latest` is the newest release.",
    ),
    # --- errors (events, and issues through their events) ---
    _key(
        "level",
        ValueType.ENUM,
        ERRORS,
        choices=("fatal", "error", "warning", "info", "debug"),
        doc="The event's level (Relay normalizes every level to one of these).",
    ),
    _key("message", T, ERRORS, doc="The event's message or exception."),
    _key("error.type", T, ERRORS, doc="An exception's type."),
    _key("error.value", T, ERRORS, doc="An exception's value."),
    _key("error.mechanism", T, ERRORS, doc="An exception's mechanism type."),
    _key("error.handled", ValueType.BOOLEAN, ERRORS, doc="Every exception was handled."),
    _key("error.unhandled", ValueType.BOOLEAN, ERRORS, doc="An exception was unhandled."),
    _key(
        "error.main_thread",
        ValueType.BOOLEAN,
        ERRORS,
        doc="The exception was raised on the main thread.",
    ),
    _key("location", T, ERRORS, doc="A stack frame's file, as stack.filename."),
    _key("stack.filename", T, ERRORS, doc="A stack frame's filename."),
    _key("stack.abs_path", T, ERRORS, doc="A stack frame's absolute path."),
    _key("stack.function", T, ERRORS, doc="A stack frame's function."),
    _key("stack.module", T, ERRORS, doc="A stack frame's module."),
    _key("stack.package", T, ERRORS, doc="A stack frame's package."),
    # --- events and transactions ---
    _key("environment", T, ALL, doc="The environment."),
    _key("release", T, ALL, doc="The release; `latest` is the newest release."),
    _key(
        "release.version",
        ValueType.VERSION,
        ALL,
        doc="The release's version; compares as a version (release.version:>1.2.0).",
    ),
    _key("release.package", T, ALL, doc="The release's package."),
    _key("release.build", T, ALL, doc="The release's build."),
    _key(
        "release.stage",
        ValueType.ENUM,
        ALL,
        choices=("adopted", "low_adoption", "replaced"),
        doc="The release's adoption stage.",
    ),
    _key("dist", T, ALL, doc="The release's distribution."),
    _key("platform", T, ALL, "platform.name", doc="The platform (python, javascript...)."),
    _key("transaction", T, ALL, doc="The transaction name."),
    _key("event.type", T, ALL, "type", doc="error, default, transaction, csp..."),
    _key("event.timestamp", D, ALL, "timestamp", doc="When the event happened."),
    _key("id", T, ALL, "event.id", doc="The event id."),
    _key("trace", T, ALL, "trace.id", doc="The trace id."),
    _key("url", T, ALL, "http.url", doc="The request URL."),
    _key("http.method", T, ALL, doc="The request method."),
    _key("http.referer", T, ALL, doc="The request referer."),
    _key("http.status_code", N, ALL, doc="The response status code."),
    _key("browser.name", T, ALL, doc="The browser's name."),
    _key("os.name", T, ALL, doc="The operating system's name."),
    _key("os.build", T, ALL, doc="The operating system's build."),
    _key("device.family", T, ALL, doc="The device's family."),
    _key("device.brand", T, ALL, doc="The device's brand."),
    _key("device.model", T, ALL, doc="The device's model."),
    _key("runtime.name", T, ALL, doc="The runtime's name."),
    _key("user.id", T, ALL, doc="The user's id."),
    _key("user.email", T, ALL, doc="The user's email."),
    _key("user.username", T, ALL, doc="The user's username."),
    _key("user.ip", T, ALL, doc="The user's IP address."),
    _key("server_name", T, ALL, doc="The server's name."),
    _key("sdk.name", T, ALL, doc="The SDK's name."),
    _key("sdk.version", T, ALL, doc="The SDK's version."),
    # --- transactions ---
    _key("transaction.op", T, Scope.TRANSACTION, "op", doc="The transaction's operation."),
    _key(
        "transaction.status",
        ValueType.ENUM,
        Scope.TRANSACTION,
        "status",
        choices=SPAN_STATUSES,
        doc="The transaction's status.",
    ),
    _key(
        "transaction.duration",
        ValueType.DURATION,
        Scope.TRANSACTION,
        doc="How long the transaction took.",
    ),
)

# Web vitals and mobile measurements in milliseconds; any other measurement is a number.
DURATION_MEASUREMENTS = frozenset(
    {
        "fp",
        "fcp",
        "lcp",
        "fid",
        "inp",
        "ttfb",
        "ttfb.requesttime",
        "app_start_cold",
        "app_start_warm",
        "time_to_initial_display",
        "time_to_full_display",
        "stall_total_time",
        "stall_longest_time",
    }
)
MEASUREMENT_PREFIX = "measurements."
# user.* keys search the stored user key (Sentry's `user` tag, "id:…", "email:…"): its prefix.
USER_KEY_PREFIXES = {
    "user.id": "id:",
    "user.username": "username:",
    "user.email": "email:",
    "user.ip": "ip:",
}

# Keys the parser handles itself: `has:key` takes a key, not a value.
RESERVED = frozenset({"has"})

_BY_NAME: dict[str, KeySpec] = {}
for _spec in KEYS:
    for _name in (_spec.name, *_spec.aliases):
        assert _name not in _BY_NAME, f"search key {_name} registered twice"
        _BY_NAME[_name] = _spec


def lookup(written: str) -> KeySpec | None:
    """The registered key for a name or alias as written, or None (a tag)."""
    spec = _BY_NAME.get(written)
    if spec is not None:
        return spec
    if written.startswith(MEASUREMENT_PREFIX) and len(written) > len(MEASUREMENT_PREFIX):
        measurement = written[len(MEASUREMENT_PREFIX) :]
        kind = ValueType.DURATION if measurement in DURATION_MEASUREMENTS else ValueType.NUMBER
        return KeySpec(written, kind, Scope.TRANSACTION, doc="A measurement.")
    return None


def spec_for(name: str, *, tag: bool = False) -> KeySpec:
    """The spec of a canonical key name, or a tag's."""
    spec = None if tag else lookup(name)
    return spec if spec is not None else KeySpec(name, ValueType.TEXT, ALL, doc="A tag.", tag=True)


def is_registered(name: str) -> bool:
    """Whether a bare `name:` means something other than the tag `name`."""
    return name in RESERVED or lookup(name) is not None
