"""Week rollups for the transactions already rolled up: built from their day rows (the
digest writes week rows from now on, see rollup_store.record)."""

from typing import Any

from django.db import migrations


def build_weeks(apps: Any, schema_editor: Any) -> None:
    from spyglass.performance.rollup_store import build_week_rows

    build_week_rows(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("performance", "0004_transaction_names")]

    operations = [migrations.RunPython(build_weeks, migrations.RunPython.noop, elidable=True)]
