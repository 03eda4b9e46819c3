"""Loaded with ``-p spyglass.pytest_env`` (see pyproject.toml), before pytest-django reads
the settings: every test run gets its own data directory, never ./data."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SPYGLASS_DATA_DIR", tempfile.mkdtemp(prefix="spyglass-test-"))
