from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings


def test_the_suite_runs_in_its_own_data_directory_not_the_checkouts() -> None:
    assert (Path.cwd() / "data").resolve() != settings.DATA_DIR
    assert settings.DATA_DIR.is_relative_to(Path(tempfile.gettempdir()).resolve())
