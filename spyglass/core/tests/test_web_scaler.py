"""`spyglass serve`'s web processes follow the load: the decisions, from CPU samples."""

from __future__ import annotations

import pytest

from spyglass.supervisor import BUSY_WINDOW, TICK, WebScaler


def feed(scaler: WebScaler, start: float, seconds: float, cores: list[float]) -> list[int]:
    """Samples every TICK for ``seconds`` of processes using ``cores`` each; the decisions.
    After a +1 or -1 the process count changes as the supervisor would change it."""
    cpu = [0.0] * len(cores)
    decisions = []
    now = start
    while now <= start + seconds:
        step = scaler.observe(now, list(cpu))
        decisions.append(step)
        if step > 0:
            cores, cpu = [*cores, cores[-1]], [*cpu, 0.0]
        elif step < 0:
            cores, cpu = cores[:-1], cpu[:-1]
        now += TICK
        cpu = [c + u * TICK for c, u in zip(cpu, cores, strict=True)]
    return decisions


def test_a_busy_process_gets_a_second_one_after_the_busy_window_and_no_more() -> None:
    scaler = WebScaler(least=1, most=2, busy=0.5, idle_seconds=60.0)
    decisions = feed(scaler, 100.0, 10.0, [0.8])
    assert decisions.count(1) == 1  # the most is 2
    # not before the window is full of samples
    assert decisions.index(1) == int(BUSY_WINDOW / TICK)
    assert -1 not in decisions


def test_under_the_threshold_nothing_starts() -> None:
    scaler = WebScaler(least=1, most=4, busy=0.5, idle_seconds=60.0)
    assert set(feed(scaler, 0.0, 30.0, [0.45])) == {0}


def test_each_process_must_be_busy_to_start_one_more() -> None:
    scaler = WebScaler(least=1, most=4, busy=0.5, idle_seconds=60.0)
    scaler.observe(0.0, [0.0, 0.0])  # two running
    # one at 0.9 and one at 0.05: 0.95 cores for two processes, under 2 x 0.5
    cpu = [0.0, 0.0]
    for i in range(1, 20):
        cpu = [0.9 * i * TICK, 0.05 * i * TICK]
        assert scaler.observe(i * TICK, cpu) == 0


def test_quiet_extra_processes_stop_after_the_idle_time_but_never_below_the_least() -> None:
    scaler = WebScaler(least=1, most=3, busy=0.5, idle_seconds=10.0)
    scaler.observe(0.0, [0.0, 0.0, 0.0])  # three running, quiet
    decisions = feed(scaler, 0.0, 60.0, [0.01, 0.01, 0.01])
    stops = [i for i, d in enumerate(decisions) if d < 0]
    assert len(stops) == 2
    # each stop waits a whole idle time of its own samples
    assert stops[0] >= 10.0 / TICK
    assert stops[1] - stops[0] >= 10.0 / TICK
    assert 1 not in decisions


def test_load_that_would_make_one_fewer_half_busy_keeps_them_all() -> None:
    scaler = WebScaler(least=1, most=2, busy=0.5, idle_seconds=5.0)
    # 2 processes using 0.15 each: 0.3 cores would be 0.3 for one, over 0.25
    assert set(feed(scaler, 0.0, 30.0, [0.15, 0.15])) == {0}
    # 0.1 each: 0.2 for one, under half of busy: one stops
    assert -1 in feed(scaler, 31.0, 30.0, [0.1, 0.1])


def test_a_changed_process_count_starts_the_window_again() -> None:
    scaler = WebScaler(least=1, most=3, busy=0.5, idle_seconds=60.0)
    assert feed(scaler, 0.0, BUSY_WINDOW, [0.9])[-1] == 1
    # a web process died and came back: the samples of the old set are dropped
    assert scaler.observe(50.0, [10.0]) == 0
    assert scaler.observe(50.5, [10.5]) == 0


@pytest.mark.parametrize("least", [1, 2])
def test_least_equal_to_most_is_a_fixed_count(least: int) -> None:
    scaler = WebScaler(least=least, most=least, busy=0.5, idle_seconds=1.0)
    assert set(feed(scaler, 0.0, 20.0, [0.9] * least)) == {0}
    assert set(feed(scaler, 30.0, 20.0, [0.0] * least)) == {0}


def test_no_running_web_process_starts_none() -> None:
    # The only one died and waits for its restart: that is not load.
    scaler = WebScaler(least=1, most=2, busy=0.5, idle_seconds=60.0)
    assert {scaler.observe(t * TICK, []) for t in range(20)} == {0}
