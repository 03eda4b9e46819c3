"""The lenient readers of wire values the item handlers share."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spyglass.digest.items_common import hex_id, moment

TRACE = "0af7651916cd43dd8448eb211c80319c"


class Text(str):
    pass


@pytest.mark.parametrize(
    ("value", "size", "expected"),
    [
        (TRACE, 32, TRACE),
        (TRACE.upper(), 32, TRACE),
        (f"  {TRACE}\n", 32, TRACE),
        ("0af76519-16cd-43dd-8448-eb211c80319c", 32, TRACE),
        ("b7ad6b7169203331", 16, "b7ad6b7169203331"),
        ("b7ad-6b7169203331", 16, ""),  # only 32-digit ids may come hyphenated
        (TRACE[:31], 32, ""),
        (TRACE[:31] + "g", 32, ""),
        (TRACE, 16, ""),
        (None, 32, ""),
        (12345, 16, ""),
        (Text(TRACE), 32, TRACE),
    ],
)
def test_hex_ids_are_lower_case_hex_of_their_size(value: object, size: int, expected: str) -> None:
    found = hex_id(value, size)
    assert found == expected
    assert type(found) is str


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_795_000_000.5, datetime(2026, 11, 18, 11, 6, 40, 500000, tzinfo=UTC)),
        (1_795_000_000, datetime(2026, 11, 18, 11, 6, 40, tzinfo=UTC)),
        ("1795000000.5", datetime(2026, 11, 18, 11, 6, 40, 500000, tzinfo=UTC)),
        ("2026-11-18T09:46:40Z", datetime(2026, 11, 18, 9, 46, 40, tzinfo=UTC)),
        (True, None),
        (float("nan"), None),
        (1e300, None),
        ("soon", None),
        (None, None),
    ],
)
def test_moments_are_utc_datetimes_or_none(value: object, expected: datetime | None) -> None:
    assert moment(value) == expected
