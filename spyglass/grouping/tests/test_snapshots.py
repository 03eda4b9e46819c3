"""Golden files: every event a real SDK sent, normalized by Relay, grouped, and compared with
a readable snapshot per grouping config (`snapshots/<config>/`).

Regenerate after an intended change with `SPYGLASS_UPDATE_SNAPSHOTS=1 pytest ...`, then
read the diff: every changed hash regroups events in production.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spyglass.grouping import DEFAULT_CONFIG, GroupingConfig, calculate_grouping
from spyglass.grouping.tests.sdk_events import SdkEvent, normalize, sdk_events

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("SPYGLASS_UPDATE_SNAPSHOTS") == "1"
CONFIGS = [DEFAULT_CONFIG]


def snapshot_path(config: str, event: SdkEvent) -> Path:
    return SNAPSHOTS / config.replace(":", "@") / f"{event.slug}.txt"


def render(config: str, event: SdkEvent) -> str:
    result = calculate_grouping(normalize(event.payload), GroupingConfig(id=config))
    return f"# {event.name}\n" + result.render()


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("event", sdk_events(), ids=lambda e: e.name)
def test_grouping_matches_the_snapshot(config: str, event: SdkEvent) -> None:
    path = snapshot_path(config, event)
    actual = render(config, event)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"no snapshot {path.name}: run with SPYGLASS_UPDATE_SNAPSHOTS=1"
    assert actual == path.read_text()


@pytest.mark.parametrize("config", CONFIGS)
def test_every_snapshot_belongs_to_a_captured_event(config: str) -> None:
    expected = {snapshot_path(config, e).name for e in sdk_events()}
    directory = SNAPSHOTS / config.replace(":", "@")
    stale = {p.name for p in directory.glob("*.txt")} - expected
    if UPDATE:
        for name in stale:
            (directory / name).unlink()
        return
    assert not stale, f"snapshots without an event: {sorted(stale)}"
