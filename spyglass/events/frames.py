"""Stack frame search: the frame values an event carries, as one compact text, and the SQL
that matches a `stack.*` / `location` / `error.main_thread` filter against it.

The digest derives for each event the distinct values of five frame fields over all its
stack traces (exceptions', threads' and the event's own), and whether its exception was
raised on the main thread, as entries separated by ``SEP``::

    \\x1f0true\\x1f1app/views.py\\x1f3handler\\x1f4app.views\\x1f

An entry is a one-character field code then the value; the text starts and ends with
``SEP``, so a whole entry is ``SEP code value SEP``. Each issue's distinct texts are kept
once in ``events_issueframes`` (the digest counts new events into it, triggers follow
deletes and merges: events migrations 0008, 0010) and an event stores only its text's row
id (``events_event.frames_id``): issue search reads the rows' issues, event search the
events whose row matches (``issues.search.frames_texts_sql``). A value
without wildcards is a case-sensitive substring test of the whole entry; with wildcards, a
case-insensitive LIKE narrows the rows and a regular expression whose wildcards can't cross
``SEP`` decides (``*`` stays within one value).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

SEP = "\x1f"
MAX_VALUES = 200  # per field and event: the first ones in sorted order are kept
MAX_VALUE_LENGTH = 256  # characters of a value kept (longer ones are cut)

MAIN_THREAD = "0"
# Frame field -> code. Codes are digits so that case-insensitive matching can't confuse them.
FIELD_CODES = {"filename": "1", "abs_path": "2", "function": "3", "module": "4", "package": "5"}
# Search keys -> the frame field they read. `location` is the frame's file, as Sentry's.
KEY_FIELDS = {
    "location": "filename",
    "stack.filename": "filename",
    "stack.abs_path": "abs_path",
    "stack.function": "function",
    "stack.module": "module",
    "stack.package": "package",
}
KEY_CODES = {key: FIELD_CODES[name] for key, name in KEY_FIELDS.items()}
KEY_CODES["error.main_thread"] = MAIN_THREAD


def entry(code: str, value: str) -> str:
    """A whole entry as stored, separators included."""
    return f"{SEP}{code}{value}{SEP}"


def _regex(parts: Sequence[str]) -> str:
    """A regular expression both Python's `re` and PostgreSQL read the same: every character
    but letters and digits escaped, wildcards as any run of characters but SEP."""
    escaped = ("".join(c if c.isalnum() else "\\" + c for c in part) for part in parts)
    return f"[^{SEP}]*".join(escaped)


def _like(parts: Sequence[str]) -> str:
    escaped = (p.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for p in parts)
    return "%".join(escaped)


def match_sql(
    column: str, vendor: str, code: str, parts: Sequence[str] | None
) -> tuple[str, list[Any]]:
    """SQL true when the frames text in `column` has an entry of field `code` whose value is
    ``parts`` (the text between `*` wildcards: one part is an exact value); with `parts`
    None, any entry of that field (``has:``). PostgreSQL compares with LIKE, which its
    trigram index serves; SQLite with instr (its FTS5 table narrows the rows first)."""
    postgres = vendor == "postgresql"
    if parts is None:
        contains = "strpos({}, %s) > 0" if postgres else "instr({}, %s) > 0"
        return contains.format(column), [SEP + code]
    if len(parts) == 1:
        if postgres:
            return f"{column} LIKE %s ESCAPE '\\'", [f"%{_like([entry(code, parts[0])])}%"]
        return f"instr({column}, %s) > 0", [entry(code, parts[0])]
    like = "ILIKE" if postgres else "LIKE"
    head = SEP + code + parts[0]
    if len(parts) == 2 and parts[1] == "":
        # `prefix*`: an entry starts with the prefix, whatever follows it
        return f"{column} {like} %s ESCAPE '\\'", [f"%{_like([head, ''])}"]
    regex = f"{column} ~* %s" if postgres else f"{column} REGEXP %s"
    pattern = _regex([head, *parts[1:-1], parts[-1] + SEP])
    if not postgres:
        pattern = "(?i)" + pattern
    sql = f"({column} {like} %s ESCAPE '\\' AND {regex})"
    return sql, [f"%{_like([head, *parts[1:-1], parts[-1] + SEP])}%", pattern]


SUGGESTION_ROWS = 500  # distinct frames texts read per suggestion (the newest first)


def suggestions(project_ids: Sequence[int], key: str, prefix: str, limit: int) -> list[str]:
    """The values of a frame key (``stack.function``…) in the projects' issues that start
    with ``prefix`` (case-sensitive), those of the most events first, for autocomplete: read
    from the issues' distinct frames texts, the newest ``SUGGESTION_ROWS`` that have one."""
    code = KEY_CODES[key]
    if not project_ids or code == MAIN_THREAD or SEP in prefix or "\x00" in prefix:
        return []
    vendor = connection.vendor
    contains = "strpos(f.frames, %s) > 0" if vendor == "postgresql" else "instr(f.frames, %s) > 0"
    marks = ", ".join(["%s"] * len(project_ids))
    sql = (
        "SELECT f.frames, f.events FROM events_issueframes f"
        " JOIN issues_issue i ON i.id = f.issue_id"
        f" WHERE i.project_id IN ({marks}) AND {contains}"
        " ORDER BY f.last_seen DESC LIMIT %s"
    )
    head = SEP + code + prefix
    counts: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*project_ids, head, SUGGESTION_ROWS])
        for text, events in cursor.fetchall():
            at = text.find(head)
            while at >= 0:
                value = text[at + 2 : text.index(SEP, at + 1)]
                counts[value] = counts.get(value, 0) + events
                at = text.find(head, at + 1)
    return sorted(counts, key=lambda value: (-counts[value], value))[:limit]
