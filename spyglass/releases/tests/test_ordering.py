from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spyglass.releases.ordering import compare


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("api@2.0.0", "api@1.9.9", 1),
        ("api@1.10.0", "api@1.9.0", 1),
        ("api@2.0.0-rc.1", "api@2.0.0", -1),
        ("api@2.0.0-rc.2", "api@2.0.0-rc.10", -1),
        ("api@2.0.0", "api@2.0.0", 0),
    ],
)
def test_it_orders_semver_releases_by_version(a: str, b: str, expected: int) -> None:
    assert compare(a, b) == expected
    assert compare(b, a) == -expected


def test_it_orders_other_releases_by_date_and_says_so_when_it_cannot() -> None:
    dates = {
        "a1b2c3": datetime(2026, 1, 1, tzinfo=UTC),
        "d4e5f6": datetime(2026, 2, 1, tzinfo=UTC),
    }
    assert compare("d4e5f6", "a1b2c3", dates) == 1
    assert compare("a1b2c3", "d4e5f6", dates) == -1
    assert compare("a1b2c3", "d4e5f6") is None


def test_versions_without_a_package_are_not_semver_and_go_by_date_as_in_sentry() -> None:
    dates = {"1.0.0": datetime(2026, 1, 1, tzinfo=UTC), "0.9.0": datetime(2026, 3, 1, tzinfo=UTC)}
    assert compare("1.0.0", "0.9.0") is None
    assert compare("1.0.0", "0.9.0", dates) == -1
