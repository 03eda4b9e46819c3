"""The status page for staff, outside the admin (``/manage/status/``): the queue, the digest's
rate, set-aside envelopes, the last 24 hours' outcomes, and disk use. Anyone who is not staff
gets a 404, like a page that does not exist."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import DatabaseError, connections
from django.db.models import Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from spyglass.attachments.models import root as attachment_root
from spyglass.events.models import Outcome
from spyglass.queue.router import queue_alias
from spyglass.queue.stats import queue_stats
from spyglass.queue.views import age_text

OUTCOMES = ("accepted", "filtered", "rate_limited", "invalid", "client_discard")
TABLES_SHOWN = 15


@login_required
def status(request: HttpRequest) -> HttpResponse:
    if not request.user.is_staff:
        raise Http404("No such page")
    stats = queue_stats()
    return render(
        request,
        "queue/staff_status.html",
        {
            "stats": stats,
            "oldest_age": age_text(stats["oldest_age_seconds"]),
            "outcomes": [
                {"name": name, "label": name.replace("_", " ").capitalize(), "total": total}
                for name, total in outcomes_last_day()
            ],
            "disk": disk_use(),
            "tables": table_sizes(),
            "dead_letters_url": "/admin/queue/queuedenvelope/status/",
            "database": "PostgreSQL" if settings.USING_POSTGRES else "SQLite",
        },
    )


def outcomes_last_day(now: float | None = None) -> list[tuple[str, int]]:
    """Items per outcome over the last 24 hours (hour buckets that start within them)."""
    since = int((now or time.time()) // 3600 * 3600) - 23 * 3600
    sums = dict(
        Outcome.objects.filter(hour__gte=since)
        .values("outcome")
        .annotate(total=Sum("quantity"))
        .values_list("outcome", "total")
    )
    known = [(name, int(sums.pop(name, 0) or 0)) for name in OUTCOMES]
    return known + sorted((name, int(total or 0)) for name, total in sums.items())


def _files_size(paths: list[Path]) -> int:
    return sum(path.stat().st_size for path in paths if path.is_file())


def _tree_size(root: Path) -> tuple[int, int]:
    """Bytes and files under a directory (0, 0 when it does not exist)."""
    size = count = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                size += (Path(directory) / name).stat().st_size
                count += 1
            except OSError:
                continue  # removed meanwhile
    return size, count


def _sqlite_files(alias: str) -> list[Path]:
    name = Path(str(connections[alias].settings_dict["NAME"]))
    return [name, Path(f"{name}-wal"), Path(f"{name}-shm")]


def disk_use() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    if settings.USING_POSTGRES:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            (size,) = cursor.fetchone()
        rows.append({"kind": "Database (PostgreSQL, queue included)", "bytes": int(size)})
    else:
        rows.append({"kind": "Database files", "bytes": _files_size(_sqlite_files("default"))})
        rows.append({"kind": "Queue file", "bytes": _files_size(_sqlite_files(queue_alias()))})
    size, count = _tree_size(attachment_root())
    rows.append({"kind": f"Attachments ({count} file{'s' if count != 1 else ''})", "bytes": size})
    return rows


def table_sizes(limit: int = TABLES_SHOWN) -> list[tuple[str, int]] | None:
    """The largest tables with their indexes, or None where that costs too much to know
    (SQLite built without the ``dbstat`` table)."""
    try:
        return list(_table_sizes(limit))
    except DatabaseError:
        return None


def _table_sizes(limit: int) -> Iterator[tuple[str, int]]:
    with connections["default"].cursor() as cursor:
        if settings.USING_POSTGRES:
            cursor.execute(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE c.relkind IN ('r', 'p') AND n.nspname = current_schema()"
                " ORDER BY 2 DESC LIMIT %s",
                [limit],
            )
            for name, size in cursor.fetchall():
                yield str(name), int(size)
            return
        # An index's pages count towards its table, as PostgreSQL's total relation size does.
        cursor.execute(
            "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d"
            " LEFT JOIN sqlite_master m ON m.name = d.name"
            " GROUP BY 1 ORDER BY 2 DESC LIMIT %s",
            [limit],
        )
        for name, size in cursor.fetchall():
            yield str(name), int(size)
