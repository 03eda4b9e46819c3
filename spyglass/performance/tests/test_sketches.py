"""The sketches' stated error bounds (docs/performance.md), against exact values."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from spyglass.performance import sketches

QUANTILES = [0.5, 0.75, 0.95, 0.99, 1.0]


def exact(durations: list[float], q: float) -> float:
    ordered = sorted(durations)
    return ordered[sketches.nearest_rank(q, len(ordered))]


def assert_within_bound(durations: list[float], histogram: sketches.Histogram) -> None:
    for q, found in zip(QUANTILES, sketches.percentiles(histogram, QUANTILES), strict=True):
        expected = exact(durations, q)
        assert found is not None
        if expected <= sketches.MIN_DURATION_MS:
            assert found == 0.0
        else:
            assert abs(found - expected) <= sketches.RELATIVE_ERROR * expected + 1e-9, (q, found)


durations = st.floats(min_value=0.0, max_value=1e8, allow_nan=False, allow_infinity=False)


@given(st.lists(durations, min_size=1, max_size=300))
@settings(max_examples=300, deadline=None)
def test_percentiles_are_within_one_percent_of_the_exact_ones(values: list[float]) -> None:
    histogram: sketches.Histogram = {}
    sketches.add_durations(histogram, values)
    assert_within_bound(values, histogram)


@given(st.lists(st.lists(durations, min_size=1, max_size=50), min_size=1, max_size=8))
@settings(max_examples=150, deadline=None)
def test_merged_and_stored_histograms_keep_the_bound(parts: list[list[float]]) -> None:
    merged: sketches.Histogram = {}
    for part in parts:
        own: sketches.Histogram = {}
        sketches.add_durations(own, part)
        sketches.decode_histogram(sketches.encode_histogram(own), merged)
    assert_within_bound([d for part in parts for d in part], merged)


def test_real_shaped_durations_keep_the_bound() -> None:
    rng = random.Random(6)
    # An endpoint: log-normal around 120 ms, a slow tail of timeouts at 30 s, a few 0 ms.
    values = [rng.lognormvariate(math.log(120), 0.8) for _ in range(20_000)]
    values += [30_000 + rng.random() for _ in range(300)] + [0.0] * 20
    histogram: sketches.Histogram = {}
    sketches.add_durations(histogram, values)
    assert_within_bound(values, histogram)
    assert len(sketches.encode_histogram(histogram)) < 6 * 700  # a few hundred buckets


def test_an_empty_histogram_has_no_percentiles() -> None:
    assert sketches.percentiles({}, [0.5]) == [None]
    assert sketches.decode_histogram(b"") == {}


def test_few_users_are_counted_within_one_or_three_percent() -> None:
    registers: sketches.Registers = {}
    for n in range(1, 201):
        sketches.add_user(registers, sketches.user_hash(f"id:{n}"))
        sketches.add_user(registers, sketches.user_hash(f"id:{n}"))  # twice: once counted
        assert abs(sketches.estimate(registers) - n) <= max(1, 0.03 * n)
    assert sketches.estimate({}) == 0


@given(st.integers(min_value=1000, max_value=40_000), st.integers(min_value=0, max_value=10**6))
@settings(max_examples=8, deadline=None)
def test_many_users_are_counted_within_the_stated_error(n: int, seed: int) -> None:
    registers: sketches.Registers = {}
    for i in range(n):
        sketches.add_user(registers, sketches.user_hash(f"{seed}:{i}"))
    # 3 standard errors of 2.3 %; stored and read back on the way.
    estimate = sketches.estimate(sketches.decode_registers(sketches.encode_registers(registers)))
    assert abs(estimate - n) <= 0.07 * n


def test_user_sketches_merge_like_a_union() -> None:
    a: sketches.Registers = {}
    b: sketches.Registers = {}
    for i in range(300):
        sketches.add_user(a, sketches.user_hash(f"u{i}"))
    for i in range(200, 2000):
        sketches.add_user(b, sketches.user_hash(f"u{i}"))
    merged = sketches.decode_registers(sketches.encode_registers(a))
    sketches.decode_registers(sketches.encode_registers(b), merged)
    assert sketches.encode_registers(a)[:1] == b"S"
    assert sketches.encode_registers(b)[:1] == b"D"
    assert abs(sketches.estimate(merged) - 2000) <= 0.07 * 2000


@given(st.integers(min_value=0, max_value=2**32), st.integers(min_value=1, max_value=5))
@settings(max_examples=50, deadline=None)
def test_dense_sketches_merge_to_the_bytewise_maximum(seed: int, count: int) -> None:
    rng = random.Random(seed)
    # Ranks from 0 to 54 (the largest a 53-bit rest gives), zeros common, as in real sketches.
    dense = [[rng.choice([0, 0, rng.randint(1, 54)]) for _ in range(2048)] for _ in range(count)]
    blobs = [b"D" + bytes(registers) for registers in dense]
    expected = {i: max(column) for i, column in enumerate(zip(*dense, strict=True)) if max(column)}
    assert sketches.merge_encoded_registers(blobs) == expected


@given(st.lists(st.lists(durations, max_size=40), min_size=1, max_size=8), st.integers(1, 4))
@settings(max_examples=100, deadline=None)
def test_concatenated_histograms_merge_as_the_separate_ones(
    parts: list[list[float]], join: int
) -> None:
    """What the database's group_concat / string_agg gives: encoded histograms one after
    the other in one blob (empty ones add nothing)."""
    encoded = []
    for values in parts:
        histogram: sketches.Histogram = {}
        sketches.add_durations(histogram, values)
        encoded.append(sketches.encode_histogram(histogram) if values else b"")
    joined = [b"".join(encoded[at : at + join]) for at in range(0, len(encoded), join)]
    merged = sketches.merge_encoded_histograms(joined)
    assert merged == sketches.merge_encoded_histograms([e for e in encoded if e])
    everything = [value for values in parts for value in values]
    if everything:
        assert_within_bound(everything, merged)
