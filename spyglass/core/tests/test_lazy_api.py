"""A web process imports django-ninja only when the API is first asked for, and the grouping
rules only when project settings are validated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
import django
django.setup()
from django.test import Client
from django.urls import reverse
client = Client(HTTP_HOST="127.0.0.1")
assert client.get(reverse("accounts:login")).status_code == 200
assert client.get("/acme/").status_code in (302, 404)
assert "ninja" not in sys.modules, "a page loaded django-ninja"
assert "spyglass.grouping" not in sys.modules, "a page loaded the grouping rules"
assert client.get("/api/0/openapi.json").status_code == 200
assert "ninja" in sys.modules
assert reverse("api:openapi-json") == "/api/0/openapi.json"
print("ok")
"""


def test_pages_and_reversing_urls_leave_the_api_and_grouping_unloaded_until_needed(
    tmp_path: Path,
) -> None:
    # A fresh interpreter: this test process has imported the API long ago.
    env = dict(
        os.environ, SPYGLASS_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="spyglass.settings"
    )
    subprocess.run(
        [sys.executable, "-m", "spyglass", "migrate", "--noinput", "-v0"], env=env, check=True
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
