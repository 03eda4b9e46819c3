"""The `spyglass` command: Django's management commands with Spyglass's settings.

`spyglass serve` is the exception: its supervisor imports neither Django nor the app, so
that the process watching the others stays small.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        from spyglass.supervisor import main as serve

        sys.exit(serve(sys.argv[2:]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spyglass.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
