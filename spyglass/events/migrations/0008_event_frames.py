"""Search: every frame of an event (``stack.filename``, ``stack.function``, ``stack.module``,
``stack.abs_path``, ``stack.package``, ``location``) and ``error.main_thread``.

``events_event.frames`` holds the event's distinct frame values as one text (format:
``spyglass.events.frames``); the column is added in place (no table rebuild, which on SQLite
would drop the triggers of migrations 0005 and 0006). ``events_issueframes`` holds each
issue's distinct frames texts with how many of its events carry each and the newest such
event's timestamp, so issue search reads a few rows per issue instead of its events. The
digest counts its batch's new events into it (one upsert per issue and text per batch:
``digest.counters.count_frames``; an INSERT trigger cost several times more per event);
triggers on ``events_event`` uncount deleted events and move merged or unmerged ones, like
``events_issuemessage``'s (migration 0006). Events stored before this migration have no frames
(docs/search.md)."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

ADD_COLUMN = "ALTER TABLE events_event ADD COLUMN frames text NOT NULL DEFAULT ''"

SQLITE_FORWARD = [
    ADD_COLUMN,
    "CREATE TABLE events_issueframes ("
    " id INTEGER PRIMARY KEY,"
    " issue_id bigint NOT NULL,"
    " frames text NOT NULL,"
    " events bigint NOT NULL,"
    " last_seen datetime NOT NULL)",
    "CREATE UNIQUE INDEX events_issueframes_key ON events_issueframes (issue_id, frames)",
    "CREATE TRIGGER events_issueframes_remove AFTER DELETE ON events_event "
    "WHEN old.issue_id IS NOT NULL AND old.frames <> '' BEGIN "
    "UPDATE events_issueframes SET events = events - 1 "
    "WHERE issue_id = old.issue_id AND frames = old.frames; "
    "DELETE FROM events_issueframes "
    "WHERE issue_id = old.issue_id AND frames = old.frames AND events <= 0; END",
    "CREATE TRIGGER events_issueframes_move AFTER UPDATE OF issue_id, frames ON events_event "
    "WHEN old.issue_id IS NOT new.issue_id OR old.frames IS NOT new.frames BEGIN "
    "UPDATE events_issueframes SET events = events - 1 "
    "WHERE issue_id = old.issue_id AND frames = old.frames; "
    "DELETE FROM events_issueframes "
    "WHERE issue_id = old.issue_id AND frames = old.frames AND events <= 0; "
    "INSERT INTO events_issueframes (issue_id, frames, events, last_seen) "
    "SELECT new.issue_id, new.frames, 1, new.timestamp "
    "WHERE new.issue_id IS NOT NULL AND new.frames <> '' "
    "ON CONFLICT (issue_id, frames) DO UPDATE SET events = events + 1, "
    "last_seen = max(last_seen, excluded.last_seen); END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_move",
    "DROP TRIGGER IF EXISTS events_issueframes_remove",
    "DROP TABLE IF EXISTS events_issueframes",
    "ALTER TABLE events_event DROP COLUMN frames",
]

POSTGRES_FORWARD = [
    ADD_COLUMN,
    "CREATE TABLE events_issueframes ("
    " id bigserial PRIMARY KEY,"
    " issue_id bigint NOT NULL,"
    " frames text NOT NULL,"
    " events bigint NOT NULL,"
    " last_seen timestamp with time zone NOT NULL)",
    "CREATE UNIQUE INDEX events_issueframes_key ON events_issueframes (issue_id, md5(frames))",
    """CREATE FUNCTION events_issueframes_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.issue_id IS NOT NULL AND OLD.frames <> '' THEN
        UPDATE events_issueframes SET events = events - 1
        WHERE issue_id = OLD.issue_id AND md5(frames) = md5(OLD.frames);
        DELETE FROM events_issueframes
        WHERE issue_id = OLD.issue_id AND md5(frames) = md5(OLD.frames) AND events <= 0;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.issue_id IS NOT NULL AND NEW.frames <> '' THEN
        INSERT INTO events_issueframes (issue_id, frames, events, last_seen)
        VALUES (NEW.issue_id, NEW.frames, 1, NEW.timestamp)
        ON CONFLICT (issue_id, md5(frames)) DO UPDATE
        SET events = events_issueframes.events + 1,
            last_seen = GREATEST(events_issueframes.last_seen, EXCLUDED.last_seen);
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER events_issueframes_sync"
    " AFTER DELETE OR UPDATE OF issue_id, frames ON events_event"
    " FOR EACH ROW EXECUTE FUNCTION events_issueframes_sync()",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_sync ON events_event",
    "DROP FUNCTION IF EXISTS events_issueframes_sync()",
    "DROP TABLE IF EXISTS events_issueframes",
    "ALTER TABLE events_event DROP COLUMN frames",
]


def forward(apps: Any, schema_editor: Any) -> None:
    run(schema_editor.connection, SQLITE_FORWARD, POSTGRES_FORWARD)


def backward(apps: Any, schema_editor: Any) -> None:
    run(schema_editor.connection, SQLITE_BACKWARD, POSTGRES_BACKWARD)


def run(connection: Any, sqlite: list[str], postgres: list[str]) -> None:
    statements = {"sqlite": sqlite, "postgresql": postgres}.get(connection.vendor, [])
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("events", "0007_issue_hash_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward)],
            state_operations=[
                migrations.AddField(
                    model_name="event",
                    name="frames",
                    field=models.TextField(blank=True, default=""),
                )
            ],
        )
    ]
