"""Fixtures shared by every test package. (The data directory is set earlier, by
``spyglass.pytest_env``, before Django reads its settings.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from spyglass.test import World


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`make test` runs the suite once per database; a test about one database's mechanism
    (file lock, advisory lock, SKIP LOCKED) runs in that pass and is deselected in the other."""
    other = "sqlite_only" if settings.USING_POSTGRES else "postgres_only"
    deselected = [item for item in items if item.get_closest_marker(other)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker(other)]


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> Iterator[None]:
    """The shared world hashes several passwords; the production hasher makes that most of a
    test's time. Tests that check hashing itself can override this."""
    previous = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    settings.PASSWORD_HASHERS = previous


@pytest.fixture
def world(db: None) -> World:
    from spyglass.test import build_world

    return build_world()


@pytest.fixture(autouse=True)
def _no_cached_transaction_name_rules() -> None:
    """The digest keeps each project's transaction name rules for a minute, per process:
    every test starts without another test's (project ids repeat from test to test)."""
    from spyglass.performance import clustering

    clustering.forget()
