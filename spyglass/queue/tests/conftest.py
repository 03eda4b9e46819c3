from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from spyglass.queue.writer import GroupCommitWriter


@pytest.fixture
def make_writer() -> Iterator[Callable[..., GroupCommitWriter]]:
    """Writers (not started) that are stopped at the end of the test, whatever happens."""
    writers: list[GroupCommitWriter] = []

    def make(window: float = 0.0, max_depth: int = 1000) -> GroupCommitWriter:
        writer = GroupCommitWriter(window=window, max_depth=max_depth)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.stop()
