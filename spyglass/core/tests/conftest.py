from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings


@pytest.fixture(autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """PBKDF2 takes ~0.3 s a user on purpose; these tests need hashes, not slow ones."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield
