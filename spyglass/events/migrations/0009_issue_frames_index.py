"""Search: an index over the issues' distinct frames texts (``events_issueframes``, migration
0008), so a stack frame search reads the texts holding its literal parts rather than all.

SQLite: an external-content FTS5 table with the trigram tokenizer, kept by triggers on
``events_issueframes`` (a row's text never changes: the digest's upserts only count events
and move the last seen), which issue search asks for a few telling trigrams of the value
before ``instr`` / ``LIKE`` decide, as ``events_issuemessage_fts``. PostgreSQL: a pg_trgm GIN
index on the text, which ``LIKE``, ``ILIKE`` and ``~*`` use (when the extension can't be
created, they scan this table, as before)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, transaction

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE events_issueframes_fts USING fts5("
    "frames, content='events_issueframes', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER events_issueframes_fts_insert AFTER INSERT ON events_issueframes BEGIN "
    "INSERT INTO events_issueframes_fts(rowid, frames) VALUES (new.id, new.frames); END",
    "CREATE TRIGGER events_issueframes_fts_delete AFTER DELETE ON events_issueframes BEGIN "
    "INSERT INTO events_issueframes_fts(events_issueframes_fts, rowid, frames) "
    "VALUES ('delete', old.id, old.frames); END",
    "INSERT INTO events_issueframes_fts(events_issueframes_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_fts_delete",
    "DROP TRIGGER IF EXISTS events_issueframes_fts_insert",
    "DROP TABLE IF EXISTS events_issueframes_fts",
]


def forward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_FORWARD:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception:  # noqa: BLE001 - not allowed here: the search scans instead
                return
            cursor.execute(
                "CREATE INDEX events_issueframes_trgm ON events_issueframes"
                " USING gin (frames gin_trgm_ops)"
            )


def backward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_BACKWARD:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            cursor.execute("DROP INDEX IF EXISTS events_issueframes_trgm")


class Migration(migrations.Migration):
    dependencies = [("events", "0008_event_frames")]

    operations = [migrations.RunPython(forward, backward)]
