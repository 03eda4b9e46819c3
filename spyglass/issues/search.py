"""Issue search: a search AST (`spyglass.search`) compiled to a query over issues, and the sorts.

    ast = parse(query, now=now, scope=Scope.ISSUE)
    issues = order_issues(issue_queryset(ast, project_ids=[p.id], user=user, now=now), sort)

Issue keys read Issue columns; event keys read the per-issue tag values the digest counts
(`IssueTagValue`), the issue's metadata (its latest event's main exception), the issue's
distinct event messages and frames texts (`events_issuemessage`, `events_issueframes`) or
the events themselves. docs/search.md "What each key searches" says which, key by key.
User values only ever travel as query parameters; wildcards become `LIKE … ESCAPE '\\'`
(case-insensitive), everything else is an exact comparison. A key or value the compiler
can't search raises `SearchNotSupported` (a `SearchSyntaxError`) at the node's position.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    BooleanField,
    Expression,
    F,
    Func,
    IntegerField,
    Lookup,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Greatest, Ln
from django.db.models.lookups import Exact
from django.utils import timezone
from sentry_relay.processing import parse_release

from spyglass.accounts.models import User
from spyglass.events.frames import KEY_CODES, SEP, match_sql
from spyglass.events.models import Event, IssueCount, IssueTagValue
from spyglass.issues.models import (
    Issue,
    IssueAssignee,
    IssueBookmark,
    IssueLink,
    IssueSubscription,
    Priority,
    Status,
    Substatus,
)
from spyglass.projects.models import Member, Project, Team
from spyglass.releases import ordering
from spyglass.releases.models import Release, SessionCount
from spyglass.search import (
    ActorKind,
    ActorValue,
    And,
    BoolValue,
    DateValue,
    EnumValue,
    Filter,
    FreeText,
    Has,
    Key,
    Node,
    NumberValue,
    Op,
    Or,
    SearchSyntaxError,
    ShortIdValue,
    Sort,
    TextValue,
)
from spyglass.search.keys import USER_KEY_PREFIXES
from spyglass.search.render import tag_key_text

MAX_PATTERN_LENGTH = 1024  # characters of literal text in a value with wildcards
MAX_WILDCARDS = 16  # per value: LIKE with many `%` backtracks
INT64 = 2**63 - 1
# Django compiles an empty IN to "no rows" and its negation to "all rows". (An empty Q() is
# no match-all: `x | Q()` is `x`.)
NEVER = Q(pk__in=[])
ALWAYS = ~NEVER
TRENDS_WINDOW = timedelta(hours=24)


class SearchNotSupported(SearchSyntaxError):
    """A well-formed query that issue search can't answer (yet): an unsupported key or value,
    or a value too long or too wild to search. Positioned at the node, like any search error."""


# --- LIKE with our own escaping -------------------------------------------------------------


class _Like(Lookup):  # type: ignore[type-arg]
    """`lhs LIKE rhs ESCAPE '\\'`, case-insensitive on both databases (SQLite's LIKE folds
    ASCII; PostgreSQL gets ILIKE). The pattern is a parameter built by `like_pattern`."""

    lookup_name = "spyglass_like"
    prepare_rhs = False

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        operator = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
        return f"{lhs} {operator} {rhs} ESCAPE '\\'", [*lhs_params, *rhs_params]


def like_pattern(parts: Sequence[str]) -> str:
    """The LIKE pattern of a value's parts (the text between `*` wildcards)."""
    escaped = (p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for p in parts)
    return "%".join(escaped)


def _storable(text: str) -> bool:
    """Whether a stored string could equal or contain `text` (PostgreSQL refuses NUL, and
    neither database takes unpaired surrogates): when not, the value matches nothing."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- tags kept on a row: a JSON list of [key, value] pairs ----------------------------------


class JsonTagMatch(Expression):
    """EXISTS a pair [key, value] in the JSON list column with that key and the value equal
    to `value` (or LIKE the pattern, case-insensitive, when `pattern`); with `value` None,
    any pair with that key. Key and value travel as parameters."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, column: Any, key: str, value: str | None, *, pattern: bool) -> None:
        super().__init__()
        self.column = column
        self.key = key
        self.value = value
        self.pattern = pattern

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.column)
        postgres = connection.vendor == "postgresql"
        if postgres:
            source = f"jsonb_array_elements({column}) AS spyglass_tag(pair)"
            key_sql, value_sql = "spyglass_tag.pair->>0", "spyglass_tag.pair->>1"
        else:
            source = f"json_each({column}) AS spyglass_tag"
            key_sql = "json_extract(spyglass_tag.value, '$[0]')"
            value_sql = "json_extract(spyglass_tag.value, '$[1]')"
        where = f"{key_sql} = %s"
        args: list[Any] = [*params, self.key]
        if self.value is not None:
            if self.pattern:
                operator = "ILIKE" if postgres else "LIKE"
                where += f" AND {value_sql} {operator} %s ESCAPE '\\'"
            else:
                where += f" AND {value_sql} = %s"
            args.append(self.value)
        return f"EXISTS (SELECT 1 FROM {source} WHERE {where})", args


def json_tag_q(column: str, key: str, value: TextValue, node: Filter | FreeText) -> Q:
    """Rows whose JSON tag list `column` has the tag `key` with this value."""
    if not _storable(key) or not all(_storable(part) for part in value.parts):
        return NEVER
    if not value.has_wildcards:
        return Q(JsonTagMatch(F(column), key, value.text, pattern=False))
    check_pattern(value, node)
    return Q(JsonTagMatch(F(column), key, like_pattern(value.parts), pattern=True))


def json_tag_exists(column: str, key: str) -> Q:
    """Rows whose JSON tag list `column` has the tag `key`."""
    if not _storable(key):
        return NEVER
    return Q(JsonTagMatch(F(column), key, None, pattern=False))


# --- the compiler -----------------------------------------------------------------------------


@dataclass
class _Context:
    project_ids: tuple[int, ...]
    user: User | None
    now: datetime
    since: datetime | None
    latest: dict[int, str] | None = None

    def latest_releases(self) -> dict[int, str]:
        """Each searched project's newest release (`release:latest`), projects with none left
        out. One query, once per search."""
        if self.latest is None:
            self.latest = newest_releases(self.project_ids)
        return self.latest

    def tag_values(self, key: str) -> QuerySet[IssueTagValue]:
        rows = IssueTagValue.objects.filter(key=key)
        return rows if self.since is None else rows.filter(last_seen__gte=self.since)

    def events(self) -> QuerySet[Event]:
        rows = Event.objects.filter(project_id__in=self.project_ids)
        return rows if self.since is None else rows.filter(timestamp__gte=self.since)


def issue_queryset(
    ast: Node,
    *,
    project_ids: Iterable[int],
    user: User | None,
    now: datetime,
    environment: str | Sequence[str] | None = None,
    period: timedelta | None = None,
) -> QuerySet[Issue]:
    """The issues of `project_ids` that match `ast`. `environment` (one or several) keeps
    issues with events there; `period` keeps issues seen within it (and event keys then
    look at that period only, through the tag values' last seen). The caller has checked
    that `user` may see these projects."""
    since = now - period if period is not None else None
    ctx = _Context(tuple(project_ids), user, now, since)
    issues = Issue.objects.filter(project_id__in=ctx.project_ids)
    if since is not None:
        issues = issues.filter(last_seen__gte=since)
    if environment:
        names = [environment] if isinstance(environment, str) else list(environment)
        rows = ctx.tag_values("environment").filter(value__in=names)
        issues = issues.filter(pk__in=rows.values("issue_id"))
    return issues.filter(compile_node(ast, ctx))


def compile_node(node: Node, ctx: _Context) -> Q:
    if isinstance(node, And):
        if not node.children:
            return ALWAYS
        result = Q()
        for child in node.children:
            result &= compile_node(child, ctx)
        return result
    if isinstance(node, Or):
        first, *rest = [compile_node(child, ctx) for child in node.children]
        for q in rest:
            first |= q
        return first
    if isinstance(node, FreeText):
        return _free_text(node.value, ctx, node)
    if isinstance(node, Has):
        q = _has(node, ctx)
        return ~q if node.negated else q
    q = _filter(node, ctx)
    return ~q if node.negated else q


def _unsupported(node: Filter | Has | FreeText, message: str) -> SearchNotSupported:
    return SearchNotSupported(message, node.start, node.end)


def _written(key: Key) -> str:
    return key.written or (tag_key_text(key.name) if key.tag else key.name)


# --- text -----------------------------------------------------------------------------------


def _text_q(lhs: str | Expression, value: TextValue, node: Filter | FreeText) -> Q:
    """`lhs` equals the value, or matches it when it has wildcards."""
    if not all(_storable(part) for part in value.parts):
        return NEVER
    expression = F(lhs) if isinstance(lhs, str) else lhs
    if not value.has_wildcards:
        if isinstance(lhs, str):
            return Q(**{lhs: value.text})
        return Q(Exact(expression, value.text))
    check_pattern(value, node)
    return Q(_Like(expression, like_pattern(value.parts)))


def check_pattern(value: TextValue, node: Filter | FreeText) -> None:
    """Refuse (positioned) a value with too many wildcards or too much text to match."""
    if len(value.parts) - 1 > MAX_WILDCARDS:
        raise SearchNotSupported(
            f"a value takes at most {MAX_WILDCARDS} wildcards", node.start, node.end
        )
    if sum(len(part) for part in value.parts) > MAX_PATTERN_LENGTH:
        raise SearchNotSupported(
            f"a value with wildcards is limited to {MAX_PATTERN_LENGTH} characters",
            node.start,
            node.end,
        )


def _any_text(lhs: str | Expression, node: Filter) -> Q:
    """A filter's values (one, or a list's members) on one text column or expression."""
    result = NEVER
    for value in node.values:
        assert isinstance(value, TextValue)
        result |= _text_q(lhs, value, node)
    return result


def _contains(value: TextValue) -> TextValue:
    """Free text matches `*text*` unless it starts or ends with a wildcard itself (Sentry)."""
    parts = value.parts
    if len(parts) > 1 and (parts[0] == "" or parts[-1] == ""):
        return value
    return TextValue(("", *parts, ""))


def _free_text(value: TextValue, ctx: _Context, node: Filter | FreeText) -> Q:
    """Title, culprit, or the message of one of the issue's events, contains the text."""
    pattern = _contains(value)
    return (
        _text_q("title", pattern, node)
        | _text_q("culprit", pattern, node)
        | issue_message_q(pattern, node, ctx.since)
    )


TELLING_TRIGRAMS = 3


def telling_trigrams(parts: Sequence[str], limit: int = TELLING_TRIGRAMS) -> list[str]:
    """A few trigrams of the text likely to be rare, for the FTS5 trigram table to narrow
    the rows by before LIKE decides (any of the text's trigrams gives a superset, so this
    only changes the speed): those with digits first (ids, numbers), then upper case and
    punctuation (CamelCase joints, paths), then fewer spaces, later ones first. Looking up
    every trigram of a long phrase merges the position lists of common trigrams
    (``whi``, ``ing``) of every row: 200 ms where three rare ones take 30."""
    scores: dict[str, tuple[int, int, int, int]] = {}
    for part in parts:
        for at in range(len(part) - 2):
            trigram = part[at : at + 3]
            score = (
                sum(c.isdigit() for c in trigram),
                sum(c.isupper() or not (c.isalnum() or c.isspace()) for c in trigram),
                -sum(c.isspace() for c in trigram),
                at,
            )
            key = trigram.lower()
            if key not in scores or scores[key] < score:
                scores[key] = score
    return sorted(scores, key=lambda key: scores[key], reverse=True)[:limit]


def issue_message_q(pattern: TextValue, node: Filter | FreeText, since: datetime | None) -> Q:
    """Issues one of whose events' messages matches the pattern (with a period, one seen
    within it): a lookup in the issues' distinct messages (events migration 0006), which the
    events' triggers keep, rather than in the events. SQLite narrows the messages by the FTS5
    trigram index on a few telling trigrams of the text, then LIKE decides;
    PostgreSQL's trigram index serves ILIKE by itself."""
    if not all(_storable(part) for part in pattern.parts):
        return NEVER
    check_pattern(pattern, node)
    operator = "ILIKE" if connection.vendor == "postgresql" else "LIKE"
    sql = f"SELECT issue_id FROM events_issuemessage WHERE message {operator} %s ESCAPE '\\'"
    params: list[Any] = [like_pattern(pattern.parts)]
    if since is not None:
        sql += " AND last_seen >= %s"
        params.append(connection.ops.adapt_datetimefield_value(since))
    words = telling_trigrams(pattern.parts)
    if connection.vendor == "sqlite" and words:
        match = " AND ".join('"' + word.replace('"', '""') + '"' for word in words)
        sql += (
            " AND id IN (SELECT rowid FROM events_issuemessage_fts"
            " WHERE events_issuemessage_fts MATCH %s)"
        )
        params.append(match)
    return Q(pk__in=RawSQL(sql, params))  # noqa: S611 - fixed SQL, values as parameters


def frame_values(node: Filter) -> list[tuple[str, ...]]:
    """The parts of each value of a frames filter (`stack.*`, `location`,
    `error.main_thread`), after the wildcard limits; values that can't be stored are left
    out (they match nothing)."""
    values: list[tuple[str, ...]] = []
    for value in node.values:
        if isinstance(value, BoolValue):
            values.append(("true" if value.value else "false",))
            continue
        assert isinstance(value, TextValue)
        if not all(_storable(part) and SEP not in part for part in value.parts):
            continue  # a stored value has no separator (it would span two entries)
        if value.has_wildcards:
            check_pattern(value, node)
        values.append(value.parts)
    return values


def frames_texts_sql(
    select: str, code: str, parts: Sequence[str] | None, since: datetime | None = None
) -> tuple[str, list[Any]]:
    """SQL selecting column `select` (``issue_id``, ``id``) of the issues' distinct frames
    texts (events migrations 0008-0010: the digest counts them, the events' triggers keep
    them, events name theirs by ``frames_id``) that have an entry of field `code` matching
    `parts` (any entry of it with None); with `since`, those of an event seen since. SQLite
    narrows the texts by the FTS5 trigram table on a few telling trigrams of the value
    first; PostgreSQL's trigram index serves the LIKE by itself."""
    condition, params = match_sql("frames", connection.vendor, code, parts)
    sql = f"SELECT {select} FROM events_issueframes WHERE {condition}"
    if since is not None:
        sql += " AND last_seen >= %s"
        params.append(connection.ops.adapt_datetimefield_value(since))
    words = telling_trigrams(parts) if parts is not None else []
    if connection.vendor == "sqlite" and words:
        match = " AND ".join('"' + word.replace('"', '""') + '"' for word in words)
        sql += (
            " AND id IN (SELECT rowid FROM events_issueframes_fts"
            " WHERE events_issueframes_fts MATCH %s)"
        )
        params.append(match)
    return sql, params


def issue_frames_q(code: str, parts: Sequence[str] | None, since: datetime | None) -> Q:
    """Issues one of whose events has a frames entry of field `code` matching `parts` (any
    entry of it with None): a lookup in the issues' distinct frames texts."""
    sql, params = frames_texts_sql("issue_id", code, parts, since)
    return Q(pk__in=RawSQL(sql, params))  # noqa: S611 - fixed SQL, values as parameters


class EventFramesMatch(Expression):
    """Events whose frames text has an entry of field `code` matching `parts` (any entry of
    it with None), usable in ``filter()`` and negated: the text of the event's row of its
    issue's texts (``frames_id``; none: no match), read by id for each event the scan reads,
    matches, so a newest-first page stops after its rows (a semi-join, which PostgreSQL
    would make of ``EXISTS`` or ``IN``, reads every event of the period first). Once per
    search, before the scan, the database checks that some issue's text can match at all
    (SQLite: the value's telling trigrams in the trigram table; PostgreSQL: the match on
    the texts): a value no text holds reads no events."""

    output_field = BooleanField()
    conditional = True

    def __init__(self, code: str, parts: Sequence[str] | None) -> None:
        super().__init__()
        self.column = F("frames_id")
        self.code = code
        self.parts = None if parts is None else tuple(parts)

    def get_source_expressions(self) -> list[Any]:
        return [self.column]

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        (self.column,) = exprs

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column, column_params = compiler.compile(self.column)
        assert not column_params  # a plain column, which the SQL may name twice
        text = f"(SELECT f.frames FROM events_issueframes f WHERE f.id = {column})"
        condition, params = match_sql(text, connection.vendor, self.code, self.parts)
        words = telling_trigrams(self.parts) if self.parts is not None else []
        if connection.vendor == "sqlite" and words:
            # the texts' trigrams (a superset of the matches) stop the first look early
            any_text = "SELECT 1 FROM events_issueframes_fts WHERE events_issueframes_fts MATCH %s"
            any_params = [" AND ".join('"' + word.replace('"', '""') + '"' for word in words)]
        else:
            any_text, any_params = frames_texts_sql("1", self.code, self.parts)
        # NULL (no frames) is false, so that the negation holds for such an event
        sql = f"(COALESCE({condition}, false) AND EXISTS ({any_text}))"
        return sql, [*params, *any_params]


def event_frames_q(code: str, parts: Sequence[str] | None) -> Q:
    """Events whose frames text has a matching entry (``EventFramesMatch``)."""
    return Q(EventFramesMatch(code, parts))


def _frames(node: Filter, ctx: _Context) -> Q:
    code = KEY_CODES[node.key.name]
    result = NEVER
    for parts in frame_values(node):
        result |= issue_frames_q(code, parts, ctx.since)
    return result


def _metadata(name: str) -> Expression:
    return Coalesce(KeyTextTransform(name, "metadata"), Value(""), output_field=TextField())


# --- tags -----------------------------------------------------------------------------------


def _tag_q(ctx: _Context, tag: str, node: Filter, *, prefix: str = "") -> Q:
    """Issues with an event tagged `tag` with one of the filter's values (NOT EXISTS when
    negated, by the caller)."""
    condition = NEVER
    for value in node.values:
        text = _tag_text(value, node)
        if prefix:
            text = TextValue((prefix + text.parts[0], *text.parts[1:]))
        condition |= _text_q("value", text, node)
    return Q(pk__in=ctx.tag_values(tag).filter(condition).values("issue_id"))


def _tag_text(value: Any, node: Filter) -> TextValue:
    if isinstance(value, TextValue):
        return value
    if isinstance(value, NumberValue) and node.op == Op.EQ:
        number = value.value
        if isinstance(number, float) and not number.is_integer():
            return TextValue((repr(number),))
        return TextValue((str(int(number)),))
    raise _unsupported(node, f"{_written(node.key)}: only = and lists can be searched here")


def _tag_exists(ctx: _Context, tag: str, *, prefix: str = "") -> Q:
    rows = ctx.tag_values(tag)
    if prefix:
        rows = rows.filter(_Like(F("value"), like_pattern((prefix, ""))))
    return Q(pk__in=rows.values("issue_id"))


# --- numbers and dates ----------------------------------------------------------------------


def _integer_q(column: str, op: Op, number: int | float) -> Q:
    """`column op number` on an integer column, exact for fractions (1.5 is between 1 and
    2) and for numbers beyond 64 bits."""
    if isinstance(number, float) and not number.is_integer():
        if op == Op.EQ:
            return NEVER
        op = Op.GT if op in (Op.GT, Op.GTE) else Op.LTE  # > 1.5 is > 1, < 1.5 is <= 1
        number = math.floor(number)
    number = int(number)
    if number > INT64:
        return ALWAYS if op in (Op.LT, Op.LTE) else NEVER
    if number < -INT64:
        return ALWAYS if op in (Op.GT, Op.GTE) else NEVER
    lookup = {Op.EQ: "exact", Op.GT: "gt", Op.GTE: "gte", Op.LT: "lt", Op.LTE: "lte"}[op]
    return Q(**{f"{column}__{lookup}": number})


def _number_filter(column: str) -> Callable[[Filter, _Context], Q]:
    def compile_(node: Filter, ctx: _Context) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, NumberValue)
            result |= _integer_q(column, node.op, value.value)
        return result

    return compile_


def _date_q(column: str, op: Op, value: DateValue) -> Q:
    if op == Op.EQ:
        start, end = value.covers()
        return Q(**{f"{column}__gte": start, f"{column}__lt": end})
    lookup = {Op.GT: "gt", Op.GTE: "gte", Op.LT: "lt", Op.LTE: "lte"}[op]
    return Q(**{f"{column}__{lookup}": value.at})


def _date_filter(column: str) -> Callable[[Filter, _Context], Q]:
    def compile_(node: Filter, ctx: _Context) -> Q:
        assert isinstance(node.value, DateValue)
        return _date_q(column, node.op, node.value)

    return compile_


# --- the keys -------------------------------------------------------------------------------

IS_STATUS = {
    "unresolved": Q(status=Status.UNRESOLVED),
    "resolved": Q(status=Status.RESOLVED),
    "ignored": Q(status=Status.IGNORED),
    # Sentry's "for review" inbox holds new, regressed and escalating issues for 7 days; our
    # substatus falls back to ongoing on the same clock, so it stands for the inbox.
    "for_review": Q(
        status=Status.UNRESOLVED,
        substatus__in=[Substatus.NEW, Substatus.REGRESSED, Substatus.ESCALATING],
    ),
    **{sub.label: Q(substatus=sub.value) for sub in Substatus},
}
PRIORITIES = {p.label: p.value for p in Priority}


def _is(node: Filter, ctx: _Context) -> Q:
    result = NEVER
    for value in node.values:
        assert isinstance(value, EnumValue)
        q = IS_STATUS.get(value.value)
        if q is None:
            q = _is_triage(value.value, ctx)
        if q is None:
            raise _unsupported(node, f"is:{value.value} is not supported yet")
        result |= q
    return result


IS_TRIAGE = frozenset({"assigned", "unassigned", "bookmarked", "linked", "unlinked"})


def _is_triage(name: str, ctx: _Context) -> Q | None:
    """`is:assigned|unassigned|bookmarked|linked|unlinked` (bookmarked: by the searching
    user, as in Sentry)."""
    if name in ("assigned", "unassigned"):
        q = Q(pk__in=IssueAssignee.objects.values("issue_id"))
        return q if name == "assigned" else ~q
    if name in ("linked", "unlinked"):
        q = Q(pk__in=IssueLink.objects.values("issue_id"))
        return q if name == "linked" else ~q
    if name == "bookmarked":
        if ctx.user is None:
            return NEVER
        return Q(pk__in=IssueBookmark.objects.filter(user=ctx.user).values("issue_id"))
    return None


def _named_users(ctx: _Context, value: ActorValue) -> Q | None:
    """The users an actor value names: `me`, or an email or a name; None for nobody."""
    if value.kind == ActorKind.ME:
        return None if ctx.user is None else Q(user=ctx.user)
    if value.kind == ActorKind.USER:
        if not _storable(value.name):
            return None
        return Q(user__email__iexact=value.name) | Q(user__name__iexact=value.name)
    return None


def _organization_ids(ctx: _Context) -> QuerySet[Project, Any]:
    return Project.objects.filter(pk__in=ctx.project_ids).values("organization_id")


def _assigned(node: Filter, ctx: _Context) -> Q:
    """`assigned:me|my_teams|none|#team|email` (and `assigned_or_suggested`, the same here:
    Spyglass suggests no owners)."""
    result = NEVER
    for value in node.values:
        assert isinstance(value, ActorValue)
        assignees = IssueAssignee.objects.all()
        if value.kind == ActorKind.NONE:
            result |= ~Q(pk__in=assignees.values("issue_id"))
            continue
        if value.kind == ActorKind.MY_TEAMS:
            if ctx.user is None:
                continue
            condition = Q(team__in=Member.objects.filter(user=ctx.user).values("teams"))
        elif value.kind == ActorKind.TEAM:
            if not _storable(value.name):
                continue
            teams = Team.objects.filter(
                slug__iexact=value.name, organization__in=_organization_ids(ctx)
            )
            condition = Q(team__in=teams.values("pk"))
        else:
            named = _named_users(ctx, value)
            if named is None:
                continue
            condition = named
        result |= Q(pk__in=assignees.filter(condition).values("issue_id"))
    return result


def _user_rows(model: Any, **extra: Any) -> Callable[[Filter, _Context], Q]:
    """`bookmarks:me` / `subscribed:me` (or a user's email or name)."""

    def compile_(node: Filter, ctx: _Context) -> Q:
        result = NEVER
        for value in node.values:
            assert isinstance(value, ActorValue)
            named = _named_users(ctx, value)
            if named is not None:
                rows = model.objects.filter(named, **extra)
                result |= Q(pk__in=rows.values("issue_id"))
        return result

    return compile_


def _enum_filter(column: str, mapping: dict[str, Any] | None = None) -> Callable[..., Q]:
    def compile_(node: Filter, ctx: _Context) -> Q:
        choices = [value.value for value in node.values if isinstance(value, EnumValue)]
        return Q(**{f"{column}__in": [mapping[c] if mapping else c for c in choices]})

    return compile_


def _column_text(column: str) -> Callable[[Filter, _Context], Q]:
    return lambda node, ctx: _any_text(column, node)


def _metadata_text(name: str) -> Callable[[Filter, _Context], Q]:
    return lambda node, ctx: _any_text(_metadata(name), node)


def _event_text(column: str) -> Callable[[Filter, _Context], Q]:
    def compile_(node: Filter, ctx: _Context) -> Q:
        return Q(pk__in=ctx.events().filter(_any_text(column, node)).values("issue_id"))

    return compile_


def _tag_filter(tag: str, prefix: str = "") -> Callable[[Filter, _Context], Q]:
    return lambda node, ctx: _tag_q(ctx, tag, node, prefix=prefix)


def _short_id(node: Filter, ctx: _Context) -> Q:
    result = NEVER
    for value in node.values:
        assert isinstance(value, ShortIdValue)
        number = value.number
        if number <= INT64:
            result |= Q(project__slug__iexact=value.project_slug, number=number)
    return result


def _message(node: Filter, ctx: _Context) -> Q:
    result = NEVER
    for value in node.values:
        assert isinstance(value, TextValue)
        result |= _free_text(value, ctx, node)
    return result


def _releases(node: Filter, ctx: _Context, match: Callable[[TextValue, int | None], Q]) -> Q:
    """A release filter's values, `latest` resolved per project to its newest release."""
    result = NEVER
    for value in node.values:
        assert isinstance(value, TextValue)
        if value.parts == ("latest",):
            for project_id, version in ctx.latest_releases().items():
                result |= match(TextValue((version,)), project_id)
        else:
            result |= match(value, None)
    return result


def _release(node: Filter, ctx: _Context) -> Q:
    def match(value: TextValue, project_id: int | None) -> Q:
        rows = ctx.tag_values("release").filter(_text_q("value", value, node))
        q = Q(pk__in=rows.values("issue_id"))
        return q if project_id is None else q & Q(project_id=project_id)

    return _releases(node, ctx, match)


# --- release.version, release.package, release.build (Sentry's semver filters) ------------

RELEASE_PARTS = ("release.version", "release.package", "release.build")


def _release_part(version: str, key: str) -> str:
    """The part of a release ``package@version+build`` a key reads ("" when it has none):
    ``release.version`` the version after the package (with its build), ``release.package``
    the package, ``release.build`` the build code."""
    parsed = _parse_release(version)
    if key == "release.package":
        return str(parsed.get("package") or "")
    if key == "release.build":
        return str((parsed.get("version_parsed") or {}).get("build_code") or "")
    return str(parsed.get("version_raw") or version)


@functools.lru_cache(maxsize=8192)
def _parse_release(version: str) -> dict[str, Any]:
    try:
        parsed = parse_release(version)
    except Exception:  # the binding raises its own error types for unparsable versions
        return {"version_raw": version}
    return parsed if isinstance(parsed, dict) else {"version_raw": version}


def _glob(value: TextValue) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in value.parts), re.DOTALL)


def _version_matches(version: str, node: Filter, value: TextValue) -> bool:
    """Whether a release's version satisfies ``release.version:<op><value>``: equality is
    text (wildcards allowed) on the version with or without its build; ``> >= < <=`` compare
    as semver, and only releases whose version parses as semver can satisfy them."""
    raw = _release_part(version, "release.version")
    if node.op == Op.EQ:
        pattern = _glob(value)
        return bool(pattern.fullmatch(raw) or pattern.fullmatch(raw.split("+", 1)[0]))
    mine, theirs = ordering.semver_key(version), ordering.semver_key(f"x@{value.text}")
    if mine is None or theirs is None:
        return False
    return {
        Op.GT: mine > theirs,
        Op.GTE: mine >= theirs,
        Op.LT: mine < theirs,
        Op.LTE: mine <= theirs,
    }.get(node.op, False)


def release_versions(node: Filter | Has, project_ids: Iterable[int]) -> list[str]:
    """The versions of the searched projects' releases that a ``release.version``,
    ``release.package`` or ``release.build`` filter (or ``has:`` of one) selects, resolved
    against the release list as Sentry does; the caller matches events' releases to them."""
    versions = (
        Release.objects.filter(projects__in=list(project_ids))
        .values_list("version", flat=True)
        .distinct()
    )
    key = node.key.name
    chosen = []
    for version in versions:
        if isinstance(node, Has):
            if _release_part(version, key):
                chosen.append(version)
            continue
        for value in node.values:
            assert isinstance(value, TextValue)
            if key == "release.version":
                hit = _version_matches(version, node, value)
            else:
                part = _release_part(version, key)  # none: no match, even for `*`
                hit = bool(part) and _glob(value).fullmatch(part) is not None
            if hit:
                chosen.append(version)
                break
    return chosen


def _release_parts(node: Filter | Has, ctx: _Context) -> Q:
    versions = release_versions(node, ctx.project_ids)
    if not versions:
        return NEVER
    rows = ctx.tag_values("release").filter(value__in=versions)
    return Q(pk__in=rows.values("issue_id"))


# --- release.stage: adoption by sessions, as Sentry's release health says -----------------

ADOPTION_SHARE = 0.1  # a release with 10 % of an environment's sessions is adopted
ADOPTION_WINDOW = 24 * 3600
ADOPTION_HISTORY_DAYS = 90


def release_stages(project_ids: Iterable[int], now: datetime) -> dict[int, dict[str, set[str]]]:
    """Each project's releases by adoption stage, from the session counts: ``adopted`` when a
    release had at least 10 % of an environment's sessions in the last 24 hours;
    ``replaced`` when it had that share on an earlier day (of the last 90) but not now;
    ``low_adoption`` for the project's other releases. (Sentry records the moments a
    release crosses the threshold; this reads the same from the counts.)"""
    ids = list(project_ids)
    end = int(now.timestamp())
    since = end - ADOPTION_HISTORY_DAYS * 86400
    recent_from = end - ADOPTION_WINDOW
    recent: dict[tuple[int, str], dict[str, int]] = {}
    daily: dict[tuple[int, str, int], dict[str, int]] = {}
    rows = (
        SessionCount.objects.filter(project_id__in=ids, bucket__gte=since, bucket__lt=end)
        .values_list("project_id", "environment", "release", "bucket", "started")
        .iterator(chunk_size=5000)
    )
    for project_id, environment, release, bucket, started in rows:
        if bucket >= recent_from:
            by_release = recent.setdefault((project_id, environment), {})
            by_release[release] = by_release.get(release, 0) + started
        else:
            day = (project_id, environment, (bucket - since) // 86400)
            by_day = daily.setdefault(day, {})
            by_day[release] = by_day.get(release, 0) + started
    stages: dict[int, dict[str, set[str]]] = {
        pid: {"adopted": set(), "replaced": set(), "low_adoption": set()} for pid in ids
    }
    for (project_id, _env), by_release in recent.items():
        total = sum(by_release.values())
        for release, started in by_release.items():
            if total and started / total >= ADOPTION_SHARE:
                stages[project_id]["adopted"].add(release)
    for (project_id, _env, _day), by_release in daily.items():
        total = sum(by_release.values())
        for release, started in by_release.items():
            adopted_then = total and started / total >= ADOPTION_SHARE
            if adopted_then and release not in stages[project_id]["adopted"]:
                stages[project_id]["replaced"].add(release)
    for project_id, version in Release.objects.filter(projects__in=ids).values_list(
        "projects", "version"
    ):
        stage = stages[project_id]
        if version not in stage["adopted"] and version not in stage["replaced"]:
            stage["low_adoption"].add(version)
    return stages


def stage_releases(node: Filter, project_ids: Iterable[int], now: datetime) -> dict[int, set[str]]:
    """The releases of each project in one of the filter's stages."""
    wanted = {value.value for value in node.values if isinstance(value, EnumValue)}
    return {
        project_id: set().union(*(by_stage[stage] for stage in wanted))
        for project_id, by_stage in release_stages(project_ids, now).items()
    }


def _release_stage(node: Filter, ctx: _Context) -> Q:
    result = NEVER
    for project_id, versions in stage_releases(node, ctx.project_ids, ctx.now).items():
        if versions:
            rows = ctx.tag_values("release").filter(value__in=sorted(versions))
            result |= Q(project_id=project_id, pk__in=rows.values("issue_id"))
    return result


def _first_release(node: Filter, ctx: _Context) -> Q:
    def match(value: TextValue, project_id: int | None) -> Q:
        q = _text_q("first_release", value, node)
        return q if project_id is None else q & Q(project_id=project_id)

    return _releases(node, ctx, match)


def _handled(handled: bool) -> Callable[[Filter, _Context], Q]:
    """`error.handled:true` / `error.unhandled:false`: an event's mechanism said handled."""

    def compile_(node: Filter, ctx: _Context) -> Q:
        assert isinstance(node.value, BoolValue)
        yes = node.value.value == handled
        rows = ctx.tag_values("handled").filter(value="yes" if yes else "no")
        return Q(pk__in=rows.values("issue_id"))

    return compile_


def _event_timestamp(node: Filter, ctx: _Context) -> Q:
    """An event of the issue happened then. The digest keeps an issue's last seen at its
    newest event's timestamp, so "an event at or after X" is "last seen at or after X" (no
    look at the events); an exact day or instant also needs last seen at or after its start
    before the events are read."""
    value = node.value
    assert isinstance(value, DateValue)
    if node.op in (Op.GT, Op.GTE):
        q = _date_q("last_seen", node.op, value)
        if ctx.since is not None:
            q &= Q(last_seen__gte=ctx.since)
        return q
    rows = ctx.events().filter(_date_q("timestamp", node.op, value))
    q = Q(pk__in=rows.values("issue_id"))
    if node.op == Op.EQ:
        q &= Q(last_seen__gte=value.covers()[0])
    return q


def _event_id(node: Filter, ctx: _Context) -> Q:
    values = tuple(
        TextValue(tuple(p.replace("-", "").lower() for p in v.parts))
        if isinstance(v, TextValue)
        else v
        for v in node.values
    )
    normalized = Filter(node.key, node.op, values, node.negated, node.start, node.end)
    return _event_text("event_id")(normalized, ctx)


# Event keys that are tags the digest derives (or SDKs send), by the tag's name.
TAG_KEYS = {
    "environment": "environment",
    "transaction": "transaction",
    "url": "url",
    "browser.name": "browser.name",
    "os.name": "os.name",
    "os.build": "os.build",
    "device.family": "device.family",
    "device.brand": "device.brand",
    "device.model": "device",
    "runtime.name": "runtime.name",
    "server_name": "server_name",
    "dist": "dist",
    "error.mechanism": "mechanism",
    "http.method": "http.method",
    "http.referer": "http.referer",
    "http.status_code": "http.status_code",
}
# user.* search Sentry's `user` tag, whose value is the first of id, username, email, ip.

FILTERS: dict[str, Callable[[Filter, _Context], Q]] = {
    "is": _is,
    "assigned": _assigned,
    "assigned_or_suggested": _assigned,
    "bookmarks": _user_rows(IssueBookmark),
    "subscribed": _user_rows(IssueSubscription, is_active=True),
    "firstSeen": _date_filter("first_seen"),
    "lastSeen": _date_filter("last_seen"),
    "timesSeen": _number_filter("times_seen"),
    "user.count": _number_filter("users_seen"),
    "issue": _short_id,
    "issue.id": _number_filter("id"),
    "issue.priority": _enum_filter("priority", PRIORITIES),
    "issue.category": _enum_filter("category"),
    "issue.type": _column_text("type"),
    "event.type": _column_text("type"),
    "title": _column_text("title"),
    "level": _enum_filter("level"),
    "platform": _column_text("platform"),
    "firstRelease": _first_release,
    "release": _release,
    **dict.fromkeys(RELEASE_PARTS, _release_parts),
    "release.stage": _release_stage,
    "message": _message,
    "error.type": _metadata_text("type"),
    "error.value": _metadata_text("value"),
    **dict.fromkeys(KEY_CODES, _frames),
    "error.handled": _handled(True),
    "error.unhandled": _handled(False),
    "event.timestamp": _event_timestamp,
    "id": _event_id,
    "trace": _event_text("trace_id"),
    "sdk.name": _event_text("sdk_name"),
    "sdk.version": _event_text("sdk_version"),
    **{key: _tag_filter(tag) for key, tag in TAG_KEYS.items()},
    **{key: _tag_filter("user", prefix) for key, prefix in USER_KEY_PREFIXES.items()},
}


def _filter(node: Filter, ctx: _Context) -> Q:
    if node.key.tag:
        return _tag_q(ctx, node.key.name, node)
    compile_ = FILTERS.get(node.key.name)
    if compile_ is None:
        raise _unsupported(node, f"{_written(node.key)}: not supported in issue search yet")
    return compile_(node, ctx)


# has:key — every issue has these; text columns and tags have a value when non-empty.
ALWAYS_SET = frozenset(
    {
        "firstSeen",
        "lastSeen",
        "timesSeen",
        "user.count",
        "issue",
        "issue.id",
        "issue.priority",
        "issue.category",
        "issue.type",
        "event.type",
        "title",
        "level",
        "message",
        "event.timestamp",
        "id",
    }
)
HAS_COLUMNS = {"platform": "platform", "firstRelease": "first_release"}
HAS_METADATA = {
    "error.type": "type",
    "error.value": "value",
}
HAS_EVENT_COLUMNS = {"trace": "trace_id", "sdk.name": "sdk_name", "sdk.version": "sdk_version"}
HAS_TAGS = {**TAG_KEYS, "release": "release", "error.handled": "handled"}
HAS_TAGS["error.unhandled"] = "handled"


def _has(node: Has, ctx: _Context) -> Q:
    name = node.key.name
    if node.key.tag:
        return _tag_exists(ctx, name)
    if name in ALWAYS_SET:
        return ALWAYS
    if name in HAS_TAGS:
        return _tag_exists(ctx, HAS_TAGS[name])
    if name in USER_KEY_PREFIXES:
        return _tag_exists(ctx, "user", prefix=USER_KEY_PREFIXES[name])
    if name in HAS_COLUMNS:
        return ~Q(**{HAS_COLUMNS[name]: ""})
    if name in HAS_METADATA:
        return ~Q(Exact(_metadata(HAS_METADATA[name]), ""))
    if name in KEY_CODES:
        return issue_frames_q(KEY_CODES[name], None, ctx.since)
    if name in HAS_EVENT_COLUMNS:
        rows = ctx.events().exclude(**{HAS_EVENT_COLUMNS[name]: ""})
        return Q(pk__in=rows.values("issue_id"))
    if name in RELEASE_PARTS:
        return _release_parts(node, ctx)
    raise _unsupported(node, f"has:{_written(node.key)} is not supported in issue search yet")


# --- releases ---------------------------------------------------------------------------------


def newest_releases(project_ids: Iterable[int]) -> dict[int, str]:
    """Each project's newest release as Sentry orders them (semver, else release date);
    projects without releases are left out."""
    rows = Release.objects.filter(projects__in=list(project_ids)).values_list(
        "projects", "version", "released_at", "created_at"
    )
    by_project: dict[int, list[str]] = {}
    dates: dict[str, datetime] = {}
    for project_id, version, released, created in rows:
        by_project.setdefault(project_id, []).append(version)
        dates[version] = released or created
    newest: dict[int, str] = {}
    for project_id, versions in by_project.items():
        best = versions[0]
        for version in versions[1:]:
            if ordering.compare(version, best, dates) == 1:
                best = version
        newest[project_id] = best
    return newest


# --- sorts ------------------------------------------------------------------------------------


class _Epoch(Func):
    """Seconds since 1970 of a datetime column, on either database."""

    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(
            compiler,
            connection,
            template="CAST((julianday(%(expressions)s) - 2440587.5) * 86400 AS INTEGER)",
            **extra,
        )

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)", **extra
        )


def order_issues(
    qs: QuerySet[Issue], sort: Sort, *, now: datetime | None = None
) -> QuerySet[Issue]:
    """The issues in a sort's order (all descending, newest id last on ties, for stable
    pages). `trends` needs `now`: events in the 24 hours before it, then last seen."""
    if sort == Sort.DATE:
        return qs.order_by("-last_seen", "-id")
    if sort == Sort.NEW:
        return qs.order_by("-first_seen", "-id")
    if sort == Sort.FREQ:
        return qs.order_by("-times_seen", "-last_seen", "-id")
    if sort == Sort.USER:
        return qs.order_by("-users_seen", "-last_seen", "-id")
    if sort == Sort.PRIORITY:
        # Sentry's legacy score: log(times seen) * 600 + last seen in seconds.
        score = Ln(Greatest(F("times_seen"), Value(1))) * Value(600.0) + _Epoch("last_seen")
        return qs.annotate(search_score=score).order_by("-search_score", "-id")
    start = (now or timezone.now()) - TRENDS_WINDOW
    bucket = int(start.timestamp()) // 3600 * 3600
    recent = (
        IssueCount.objects.filter(issue=OuterRef("pk"), resolution=3600, bucket__gte=bucket)
        .values("issue")
        .annotate(n=Sum("count"))
        .values("n")
    )
    trend = Coalesce(Subquery(recent), Value(0))
    return qs.annotate(search_trend=trend).order_by("-search_trend", "-last_seen", "-id")
