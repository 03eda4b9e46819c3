from __future__ import annotations

import pytest

from spyglass.performance.models import SpanStatus


@pytest.mark.parametrize(
    ("sent", "status"),
    [
        ("ok", "ok"),
        ("error", "internal_error"),  # span v2
        ("unknown_error", "unknown"),
        ("Deadline_Exceeded", "deadline_exceeded"),
        ("canceled", "cancelled"),
        ("teapot", "unknown"),
        (None, "unknown"),
        (500, "unknown"),
    ],
)
def test_span_statuses_are_relays_names(sent: object, status: str) -> None:
    assert SpanStatus.parse(sent) == status
