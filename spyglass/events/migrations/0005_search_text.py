"""Search: free text over events' messages without scanning every event, and trace ids.

SQLite: an external-content FTS5 table with the trigram tokenizer (substring matches, any
case) over ``events_event.message``, kept in sync by triggers, so the digest's plain INSERT
feeds it. PostgreSQL: a pg_trgm GIN index on the message, which ILIKE '%…%' uses (when the
extension can't be created, ILIKE scans, as before). Both: an index on (project, trace_id)
for ``trace:``. See docs/search.md "Speed"."""

from __future__ import annotations

from typing import Any

from django.db import migrations, transaction

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE events_event_fts USING fts5("
    "message, content='events_event', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER events_event_fts_insert AFTER INSERT ON events_event BEGIN "
    "INSERT INTO events_event_fts(rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER events_event_fts_delete AFTER DELETE ON events_event BEGIN "
    "INSERT INTO events_event_fts(events_event_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER events_event_fts_update AFTER UPDATE OF message ON events_event BEGIN "
    "INSERT INTO events_event_fts(events_event_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); "
    "INSERT INTO events_event_fts(rowid, message) VALUES (new.id, new.message); END",
    "INSERT INTO events_event_fts(events_event_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_event_fts_update",
    "DROP TRIGGER IF EXISTS events_event_fts_delete",
    "DROP TRIGGER IF EXISTS events_event_fts_insert",
    "DROP TABLE IF EXISTS events_event_fts",
]
TRACE_INDEX = "CREATE INDEX events_event_trace ON events_event (project_id, trace_id)"


def forward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute(TRACE_INDEX)
        if connection.vendor == "sqlite":
            for statement in SQLITE_FORWARD:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception:  # noqa: BLE001 - not allowed here: ILIKE scans instead
                return
            cursor.execute(
                "CREATE INDEX events_event_message_trgm ON events_event"
                " USING gin (message gin_trgm_ops)"
            )


def backward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS events_event_trace")
        if connection.vendor == "sqlite":
            for statement in SQLITE_BACKWARD:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS events_event_message_trgm")


class Migration(migrations.Migration):
    dependencies = [("events", "0004_issue_tag_search_index")]

    operations = [migrations.RunPython(forward, backward)]
