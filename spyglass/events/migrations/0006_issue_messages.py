"""Search: each issue's distinct event messages, so issue search by free text is an index
lookup over far fewer rows than events (docs/search.md "Speed").

``events_issuemessage`` holds (issue, message, how many of the issue's events carry it, the
newest such event's timestamp). Triggers on ``events_event`` keep it: an insert adds or
counts the message, a delete uncounts it (and drops it at zero), an update of the issue or
the message (merge, unmerge) does both, so the digest's plain INSERT needs no change.
SQLite: unique on (issue, message), and an external-content FTS5 trigram table over the
messages, kept by triggers like events migration 0005's. PostgreSQL: unique on (issue,
md5(message)) (a B-tree entry can't hold a long message) and a pg_trgm GIN index on the
message for ILIKE (when the extension can't be created, ILIKE scans this smaller table).
Existing events are folded in by the migration."""

from __future__ import annotations

from typing import Any

from django.db import migrations, transaction

SQLITE_FORWARD = [
    "CREATE TABLE events_issuemessage ("
    " id INTEGER PRIMARY KEY,"
    " issue_id bigint NOT NULL,"
    " message text NOT NULL,"
    " events bigint NOT NULL,"
    " last_seen datetime NOT NULL)",
    "CREATE UNIQUE INDEX events_issuemessage_key ON events_issuemessage (issue_id, message)",
    "CREATE VIRTUAL TABLE events_issuemessage_fts USING fts5("
    "message, content='events_issuemessage', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER events_issuemessage_fts_insert AFTER INSERT ON events_issuemessage BEGIN "
    "INSERT INTO events_issuemessage_fts(rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER events_issuemessage_fts_delete AFTER DELETE ON events_issuemessage BEGIN "
    "INSERT INTO events_issuemessage_fts(events_issuemessage_fts, rowid, message) "
    "VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER events_issuemessage_add AFTER INSERT ON events_event "
    "WHEN new.issue_id IS NOT NULL AND new.message <> '' BEGIN "
    "INSERT INTO events_issuemessage (issue_id, message, events, last_seen) "
    "VALUES (new.issue_id, new.message, 1, new.timestamp) "
    "ON CONFLICT (issue_id, message) DO UPDATE SET events = events + 1, "
    "last_seen = max(last_seen, excluded.last_seen); END",
    "CREATE TRIGGER events_issuemessage_remove AFTER DELETE ON events_event "
    "WHEN old.issue_id IS NOT NULL AND old.message <> '' BEGIN "
    "UPDATE events_issuemessage SET events = events - 1 "
    "WHERE issue_id = old.issue_id AND message = old.message; "
    "DELETE FROM events_issuemessage "
    "WHERE issue_id = old.issue_id AND message = old.message AND events <= 0; END",
    "CREATE TRIGGER events_issuemessage_move AFTER UPDATE OF issue_id, message ON events_event "
    "WHEN old.issue_id IS NOT new.issue_id OR old.message IS NOT new.message BEGIN "
    "UPDATE events_issuemessage SET events = events - 1 "
    "WHERE issue_id = old.issue_id AND message = old.message; "
    "DELETE FROM events_issuemessage "
    "WHERE issue_id = old.issue_id AND message = old.message AND events <= 0; "
    "INSERT INTO events_issuemessage (issue_id, message, events, last_seen) "
    "SELECT new.issue_id, new.message, 1, new.timestamp "
    "WHERE new.issue_id IS NOT NULL AND new.message <> '' "
    "ON CONFLICT (issue_id, message) DO UPDATE SET events = events + 1, "
    "last_seen = max(last_seen, excluded.last_seen); END",
    "INSERT INTO events_issuemessage (issue_id, message, events, last_seen) "
    "SELECT issue_id, message, count(*), max(timestamp) FROM events_event "
    "WHERE issue_id IS NOT NULL AND message <> '' GROUP BY issue_id, message",
    "INSERT INTO events_issuemessage_fts(events_issuemessage_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issuemessage_move",
    "DROP TRIGGER IF EXISTS events_issuemessage_remove",
    "DROP TRIGGER IF EXISTS events_issuemessage_add",
    "DROP TABLE IF EXISTS events_issuemessage_fts",
    "DROP TABLE IF EXISTS events_issuemessage",
]

POSTGRES_FORWARD = [
    "CREATE TABLE events_issuemessage ("
    " id bigserial PRIMARY KEY,"
    " issue_id bigint NOT NULL,"
    " message text NOT NULL,"
    " events bigint NOT NULL,"
    " last_seen timestamp with time zone NOT NULL)",
    "CREATE UNIQUE INDEX events_issuemessage_key ON events_issuemessage (issue_id, md5(message))",
    """CREATE FUNCTION events_issuemessage_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.issue_id IS NOT NULL AND OLD.message <> '' THEN
        UPDATE events_issuemessage SET events = events - 1
        WHERE issue_id = OLD.issue_id AND md5(message) = md5(OLD.message);
        DELETE FROM events_issuemessage
        WHERE issue_id = OLD.issue_id AND md5(message) = md5(OLD.message) AND events <= 0;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.issue_id IS NOT NULL AND NEW.message <> '' THEN
        INSERT INTO events_issuemessage (issue_id, message, events, last_seen)
        VALUES (NEW.issue_id, NEW.message, 1, NEW.timestamp)
        ON CONFLICT (issue_id, md5(message)) DO UPDATE
        SET events = events_issuemessage.events + 1,
            last_seen = GREATEST(events_issuemessage.last_seen, EXCLUDED.last_seen);
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER events_issuemessage_sync"
    " AFTER INSERT OR DELETE OR UPDATE OF issue_id, message ON events_event"
    " FOR EACH ROW EXECUTE FUNCTION events_issuemessage_sync()",
    "INSERT INTO events_issuemessage (issue_id, message, events, last_seen) "
    "SELECT issue_id, message, count(*), max(timestamp) FROM events_event "
    "WHERE issue_id IS NOT NULL AND message <> '' GROUP BY issue_id, message",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issuemessage_sync ON events_event",
    "DROP FUNCTION IF EXISTS events_issuemessage_sync()",
    "DROP TABLE IF EXISTS events_issuemessage",
]


def forward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for statement in SQLITE_FORWARD:
                cursor.execute(statement)
        elif connection.vendor == "postgresql":
            for statement in POSTGRES_FORWARD:
                cursor.execute(statement)
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            except Exception:  # noqa: BLE001 - not allowed here: ILIKE scans instead
                return
            cursor.execute(
                "CREATE INDEX events_issuemessage_trgm ON events_issuemessage"
                " USING gin (message gin_trgm_ops)"
            )


def backward(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        statements = SQLITE_BACKWARD if connection.vendor == "sqlite" else POSTGRES_BACKWARD
        if connection.vendor in ("sqlite", "postgresql"):
            for statement in statements:
                cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("events", "0005_search_text")]

    operations = [migrations.RunPython(forward, backward)]
