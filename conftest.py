"""Test-wide setup that must happen before Django reads its settings."""

import os
import tempfile

# Every test run gets its own data directory (secret key, SQLite files), never ./data.
os.environ.setdefault("SPYGLASS_DATA_DIR", tempfile.mkdtemp(prefix="spyglass-test-"))

import pytest


@pytest.fixture
def world(db: None) -> "object":
    from spyglass.test import build_world

    return build_world()
