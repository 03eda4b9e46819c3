"""Stack frame search: an event names its frames text by the id of its issue's row in
``events_issueframes`` (``events_event.frames_id``) instead of holding the text itself, so
a text is stored once per issue rather than once per event (≈230 B less per error event).

The rows already count their events; the triggers on ``events_event`` now follow the id:

* deleting an event uncounts its row (a row no event counts any more is deleted, with its
  text);
* moving an event to another issue (merge, unmerge) counts the same text into the new
  issue's row (creating it) and points the event at that row;
* changing an event's ``frames_id`` (``spyglass backfill-frames``) counts the new row and
  uncounts the old one.

Existing texts move into ``events_issueframes`` (a row for every issue and text that lacks
one) and events get their row's id; then the old column is dropped in place. SQLite's
``DROP COLUMN`` rewrites the table's rows but keeps its other triggers (migrations 0005,
0006), which Django's field operations would drop with the rebuilt table: the database
side is raw SQL, the model state follows separately.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

SQLITE_TRIGGERS = [
    "CREATE TRIGGER events_issueframes_remove AFTER DELETE ON events_event "
    "WHEN old.frames_id IS NOT NULL BEGIN "
    "UPDATE events_issueframes SET events = events - 1 WHERE id = old.frames_id; "
    "DELETE FROM events_issueframes WHERE id = old.frames_id AND events <= 0; END",
    # The same text in the event's new issue; pointing the event at it fires _refer.
    "CREATE TRIGGER events_issueframes_move AFTER UPDATE OF issue_id ON events_event "
    "WHEN old.issue_id IS NOT new.issue_id AND new.frames_id IS NOT NULL BEGIN "
    "INSERT INTO events_issueframes (issue_id, frames, events, last_seen) "
    "SELECT new.issue_id, frames, 0, new.timestamp FROM events_issueframes "
    "WHERE id = new.frames_id "
    "ON CONFLICT (issue_id, frames) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen); "
    "UPDATE events_event SET frames_id = ("
    "SELECT moved.id FROM events_issueframes f JOIN events_issueframes moved "
    "ON moved.issue_id = new.issue_id AND moved.frames = f.frames WHERE f.id = new.frames_id) "
    "WHERE id = new.id; END",
    "CREATE TRIGGER events_issueframes_refer AFTER UPDATE OF frames_id ON events_event "
    "WHEN old.frames_id IS NOT new.frames_id BEGIN "
    "UPDATE events_issueframes SET events = events + 1 WHERE id = new.frames_id; "
    "UPDATE events_issueframes SET events = events - 1 WHERE id = old.frames_id; "
    "DELETE FROM events_issueframes WHERE id = old.frames_id AND events <= 0; END",
]
SQLITE_FORWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_move",
    "DROP TRIGGER IF EXISTS events_issueframes_remove",
    "ALTER TABLE events_event ADD COLUMN frames_id bigint NULL",
    # rows the counts missed (none, unless something went wrong): counted now
    "INSERT INTO events_issueframes (issue_id, frames, events, last_seen) "
    "SELECT issue_id, frames, count(*), max(timestamp) FROM events_event e "
    "WHERE frames <> '' AND NOT EXISTS (SELECT 1 FROM events_issueframes f "
    "WHERE f.issue_id = e.issue_id AND f.frames = e.frames) GROUP BY issue_id, frames",
    "UPDATE events_event SET frames_id = (SELECT id FROM events_issueframes f "
    "WHERE f.issue_id = events_event.issue_id AND f.frames = events_event.frames) "
    "WHERE frames <> ''",
    "ALTER TABLE events_event DROP COLUMN frames",
    *SQLITE_TRIGGERS,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_refer",
    "DROP TRIGGER IF EXISTS events_issueframes_move",
    "DROP TRIGGER IF EXISTS events_issueframes_remove",
    "ALTER TABLE events_event ADD COLUMN frames text NOT NULL DEFAULT ''",
    "UPDATE events_event SET frames = (SELECT frames FROM events_issueframes f "
    "WHERE f.id = events_event.frames_id) WHERE frames_id IS NOT NULL",
    "ALTER TABLE events_event DROP COLUMN frames_id",
    # migration 0008's triggers, as it created them
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

# One function for deletes (AFTER) and updates (BEFORE: a moved event's new row id is set
# on the row being written, so no second update of the event is needed).
POSTGRES_FUNCTION = """CREATE FUNCTION events_issueframes_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    moved bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.frames_id IS NOT NULL THEN
            UPDATE events_issueframes SET events = events - 1 WHERE id = OLD.frames_id;
            DELETE FROM events_issueframes WHERE id = OLD.frames_id AND events <= 0;
        END IF;
        RETURN NULL;
    END IF;
    IF NEW.frames_id IS NOT NULL AND NEW.issue_id IS DISTINCT FROM OLD.issue_id THEN
        INSERT INTO events_issueframes (issue_id, frames, events, last_seen)
        SELECT NEW.issue_id, frames, 0, NEW.timestamp FROM events_issueframes
        WHERE id = NEW.frames_id
        ON CONFLICT (issue_id, md5(frames)) DO UPDATE
        SET last_seen = GREATEST(events_issueframes.last_seen, EXCLUDED.last_seen)
        RETURNING id INTO moved;
        NEW.frames_id := moved;
    END IF;
    IF NEW.frames_id IS DISTINCT FROM OLD.frames_id THEN
        IF NEW.frames_id IS NOT NULL THEN
            UPDATE events_issueframes SET events = events + 1 WHERE id = NEW.frames_id;
        END IF;
        IF OLD.frames_id IS NOT NULL THEN
            UPDATE events_issueframes SET events = events - 1 WHERE id = OLD.frames_id;
            DELETE FROM events_issueframes WHERE id = OLD.frames_id AND events <= 0;
        END IF;
    END IF;
    RETURN NEW;
END $$"""
POSTGRES_TRIGGERS = [
    POSTGRES_FUNCTION,
    "CREATE TRIGGER events_issueframes_remove AFTER DELETE ON events_event"
    " FOR EACH ROW EXECUTE FUNCTION events_issueframes_sync()",
    "CREATE TRIGGER events_issueframes_move BEFORE UPDATE OF issue_id, frames_id ON events_event"
    " FOR EACH ROW EXECUTE FUNCTION events_issueframes_sync()",
]
POSTGRES_FORWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_sync ON events_event",
    "DROP FUNCTION IF EXISTS events_issueframes_sync()",
    "ALTER TABLE events_event ADD COLUMN frames_id bigint NULL",
    "INSERT INTO events_issueframes (issue_id, frames, events, last_seen) "
    "SELECT issue_id, frames, count(*), max(timestamp) FROM events_event e "
    "WHERE frames <> '' AND NOT EXISTS (SELECT 1 FROM events_issueframes f "
    "WHERE f.issue_id = e.issue_id AND md5(f.frames) = md5(e.frames)) GROUP BY issue_id, frames",
    "UPDATE events_event e SET frames_id = f.id FROM events_issueframes f "
    "WHERE e.frames <> '' AND f.issue_id = e.issue_id AND md5(f.frames) = md5(e.frames)",
    "ALTER TABLE events_event DROP COLUMN frames",
    *POSTGRES_TRIGGERS,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS events_issueframes_move ON events_event",
    "DROP TRIGGER IF EXISTS events_issueframes_remove ON events_event",
    "DROP FUNCTION IF EXISTS events_issueframes_sync()",
    "ALTER TABLE events_event ADD COLUMN frames text NOT NULL DEFAULT ''",
    "UPDATE events_event e SET frames = f.frames FROM events_issueframes f "
    "WHERE f.id = e.frames_id",
    "ALTER TABLE events_event DROP COLUMN frames_id",
    # migration 0008's function and trigger, as it created them
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
    dependencies = [("events", "0009_issue_frames_index")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward)],
            state_operations=[
                migrations.RemoveField(model_name="event", name="frames"),
                migrations.AddField(
                    model_name="event",
                    name="frames_id",
                    field=models.BigIntegerField(blank=True, null=True),
                ),
            ],
        )
    ]
