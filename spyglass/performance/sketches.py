"""Small mergeable sketches the rollups keep per (project, transaction, environment, minute or
hour): a log-linear duration histogram (DDSketch-like) for percentiles, and a HyperLogLog for
distinct users. Both merge by plain addition / maximum, so any window and any set of rows is
one merge. Pure: no models. Error bounds are stated (and tested) in docs/performance.md."""

from __future__ import annotations

import hashlib
import math
import struct
from array import array
from collections import Counter
from collections.abc import Iterable
from itertools import compress, repeat

# --- Duration histogram --------------------------------------------------------------------
# Bucket i holds durations in (GAMMA**(i-1), GAMMA**i] ms; reporting 2·GAMMA**i/(GAMMA+1) for
# it is off by at most RELATIVE_ERROR of any value in the bucket.
RELATIVE_ERROR = 0.01
GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(GAMMA)
_MIDPOINT = 2 / (GAMMA + 1)
# Durations at or below this (ms) share one bucket, reported as 0.
MIN_DURATION_MS = 0.001
ZERO_BUCKET = -32768
_MAX_BUCKET = 32767
_HEADER = struct.Struct("<I")


def bucket_of(duration_ms: float) -> int:
    if not duration_ms > MIN_DURATION_MS:  # also NaN
        return ZERO_BUCKET
    return min(_MAX_BUCKET, math.ceil(math.log(duration_ms) / _LOG_GAMMA))


def value_of(bucket: int) -> float:
    """The value reported for a bucket: within RELATIVE_ERROR of every duration in it."""
    if bucket == ZERO_BUCKET:
        return 0.0
    return float(_MIDPOINT * GAMMA**bucket)


def bounds_of(bucket: int) -> tuple[float, float]:
    if bucket == ZERO_BUCKET:
        return 0.0, MIN_DURATION_MS
    return float(GAMMA ** (bucket - 1)), float(GAMMA**bucket)


Histogram = dict[int, int]  # bucket -> count


def add_durations(histogram: Histogram, durations: Iterable[float]) -> None:
    for duration in durations:
        bucket = bucket_of(duration)
        histogram[bucket] = histogram.get(bucket, 0) + 1


def merge_histogram(into: Histogram, other: Histogram) -> None:
    for bucket, count in other.items():
        into[bucket] = into.get(bucket, 0) + count


def encode_histogram(histogram: Histogram) -> bytes:
    """Count of buckets, then the bucket numbers (int16), then their counts (uint32)."""
    buckets = sorted(histogram)
    keys = array("h", buckets)
    counts = array("I", [histogram[b] for b in buckets])
    if keys.itemsize != 2 or counts.itemsize != 4:  # pragma: no cover - exotic platforms
        raise RuntimeError("unexpected array item sizes")
    return _HEADER.pack(len(buckets)) + keys.tobytes() + counts.tobytes()


def decode_histogram(data: bytes | memoryview | None, into: Histogram | None = None) -> Histogram:
    histogram: Histogram = {} if into is None else into
    if not data:
        return histogram
    data = bytes(data)
    (size,) = _HEADER.unpack_from(data)
    keys = array("h")
    keys.frombytes(data[4 : 4 + 2 * size])
    counts = array("I")
    counts.frombytes(data[4 + 2 * size : 4 + 6 * size])
    if into is None:
        return dict(zip(keys, counts, strict=True))
    for bucket, count in zip(keys, counts, strict=True):
        histogram[bucket] = histogram.get(bucket, 0) + count
    return histogram


def merge_encoded_histograms(blobs: Iterable[bytes | memoryview]) -> Histogram:
    """Many stored histograms as one: their arrays joined, then one pass. A blob may hold
    several encoded histograms one after the other (concatenated by the database)."""
    keys = array("h")
    counts = array("I")
    for blob in blobs:
        data = bytes(blob)
        at, end = 0, len(data)
        while at < end:
            (size,) = _HEADER.unpack_from(data, at)
            keys.frombytes(data[at + 4 : at + 4 + 2 * size])
            at += 4 + 6 * size
            counts.frombytes(data[at - 4 * size : at])
    merged: Histogram = {}
    get = merged.get
    for bucket, count in zip(keys, counts, strict=True):
        merged[bucket] = get(bucket, 0) + count
    return merged


def percentiles(histogram: Histogram, quantiles: Iterable[float]) -> list[float | None]:
    """For each q, the value of the bucket holding the q-th duration by nearest rank (the
    ceil(q * n)-th smallest, 1-based; the smallest for q = 0): within RELATIVE_ERROR of
    that duration (absolute MIN_DURATION_MS at the bottom). None when there is none."""
    wanted = list(quantiles)
    total = sum(histogram.values())
    if total == 0:
        return [None] * len(wanted)
    ranks = sorted((nearest_rank(q, total), i) for i, q in enumerate(wanted))
    found: list[float | None] = [None] * len(wanted)
    seen = 0
    position = 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        while position < len(ranks) and ranks[position][0] < seen:
            found[ranks[position][1]] = value_of(bucket)
            position += 1
        if position == len(ranks):
            break
    return found


def nearest_rank(quantile: float, total: int) -> int:
    """The 0-based index of the q-th of ``total`` sorted values by nearest rank."""
    return min(total - 1, max(0, math.ceil(quantile * total) - 1))


# --- Distinct users: HyperLogLog ----------------------------------------------------------
# 2**11 registers: a standard error of 1.04/√2048 ≈ 2.3 % for large counts; small counts are
# estimated by linear counting, exact in practice up to a few hundred. Sparse while few
# registers are set (minute rows usually see a handful of users).
HLL_BITS = 11
HLL_REGISTERS = 1 << HLL_BITS
_SPARSE_LIMIT = HLL_REGISTERS // 4
_REST_BITS = 64 - HLL_BITS

Registers = dict[int, int]  # register index -> rank (only the non-zero ones)


def user_hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def add_user(registers: Registers, hashed: int) -> None:
    index = hashed >> _REST_BITS
    rest = hashed & ((1 << _REST_BITS) - 1)
    rank = _REST_BITS - rest.bit_length() + 1
    if registers.get(index, 0) < rank:
        registers[index] = rank


def merge_registers(into: Registers, other: Registers) -> None:
    for index, rank in other.items():
        if into.get(index, 0) < rank:
            into[index] = rank


def encode_registers(registers: Registers) -> bytes:
    if not registers:
        return b""
    if len(registers) <= _SPARSE_LIMIT:
        indexes = sorted(registers)
        return (
            b"S"
            + array("H", indexes).tobytes()
            + bytes(map(registers.__getitem__, indexes))  # ranks fit a byte (≤ 54)
        )
    return b"D" + bytes(map(registers.get, range(HLL_REGISTERS), repeat(0)))


def decode_registers(data: bytes | memoryview | None, into: Registers | None = None) -> Registers:
    registers: Registers = {} if into is None else into
    if not data:
        return registers
    data = bytes(data)
    pairs: Iterable[tuple[int, int]]
    if data[:1] == b"S":
        size = (len(data) - 1) // 3
        indexes = array("H")
        indexes.frombytes(data[1 : 1 + 2 * size])
        pairs = zip(indexes, data[1 + 2 * size :], strict=True)
    else:
        pairs = _set_registers(data[1:])
    if into is None:
        return dict(pairs)
    for index, rank in pairs:
        if registers.get(index, 0) < rank:
            registers[index] = rank
    return registers


def merge_encoded_registers(blobs: Iterable[bytes | memoryview]) -> Registers:
    """Many stored sketches as one: sparse ones joined, then one pass; dense ones merged as
    big integers, a byte-wise maximum in a few whole-number operations (see _dense_max)."""
    indexes = array("H")
    ranks = bytearray()
    dense: int | None = None
    for blob in blobs:
        data = bytes(blob)
        if data[:1] == b"S":
            size = (len(data) - 1) // 3
            indexes.frombytes(data[1 : 1 + 2 * size])
            ranks += data[1 + 2 * size :]
        elif data:
            value = int.from_bytes(data[1:], "little")
            dense = value if dense is None else _dense_max(dense, value)
    merged: Registers = {}
    if dense is not None:
        registers = dense.to_bytes(HLL_REGISTERS, "little")
        merged = dict(_set_registers(registers))
    get = merged.get
    for index, rank in zip(indexes, ranks, strict=True):
        if get(index, 0) < rank:
            merged[index] = rank
    return merged


def _set_registers(registers: bytes) -> Iterable[tuple[int, int]]:
    """(index, rank) of a dense sketch's set registers, picked in C (``compress`` and
    ``filter`` walk the bytes; a Python loop over 2,048 registers costs ten times more)."""
    return zip(compress(range(len(registers)), registers), filter(None, registers), strict=True)


_HIGH_BITS = int.from_bytes(b"\x80" * HLL_REGISTERS, "little")
_ALL_BITS = (1 << (8 * HLL_REGISTERS)) - 1


def _dense_max(a: int, b: int) -> int:
    """The byte-wise maximum of two dense sketches held as integers (SWAR: ranks are below
    128, so 128 + a - b never borrows from the next byte, and its top bit says a >= b)."""
    a_wins = (((a | _HIGH_BITS) - b) & _HIGH_BITS) >> 7
    mask = a_wins * 0xFF
    return (a & mask) | (b & (mask ^ _ALL_BITS))


def add_to_encoded(data: bytes | memoryview | None, registers: Registers) -> bytes:
    """Stored registers with these added, re-encoded: a dense sketch is patched in place,
    so adding a few users to a busy hour costs a few operations, not 2048."""
    if data is not None and bytes(data[:1]) == b"D":
        dense = bytearray(data)
        for index, rank in registers.items():
            if dense[index + 1] < rank:
                dense[index + 1] = rank
        return bytes(dense)
    stored = decode_registers(data)
    merge_registers(stored, registers)
    return encode_registers(stored)


def add_to_encoded_histogram(data: bytes | memoryview | None, histogram: Histogram) -> bytes:
    stored = decode_histogram(data)
    merge_histogram(stored, histogram)
    return encode_histogram(stored)


def estimate(registers: Registers) -> int:
    """Ertl's improved estimator ("New cardinality estimation algorithms for HyperLogLog
    sketches", 2017): no bias correction tables, and no switch between linear counting and
    the raw estimate, whose bias around 2.5 times 2,048 users went past 7 %."""
    if not registers:
        return 0
    q = _REST_BITS
    histogram = [0] * (q + 2)
    histogram[0] = HLL_REGISTERS - len(registers)
    for rank, count in Counter(registers.values()).items():  # counted in C
        histogram[min(rank, q + 1)] += count
    m = HLL_REGISTERS
    z = m * _tau(1 - histogram[q + 1] / m)
    for k in range(q, 0, -1):
        z = (z + histogram[k]) * 0.5
    z += m * _sigma(histogram[0] / m)
    return round(_ALPHA_INFINITY * m * m / z)


_ALPHA_INFINITY = 1 / (2 * math.log(2))


def _sigma(x: float) -> float:
    if x == 1:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    if x in (0, 1):
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1 - x) ** 2 * y
        if z == previous:
            return z / 3
