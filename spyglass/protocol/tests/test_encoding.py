from __future__ import annotations

import contextlib
import gzip
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spyglass.protocol.encoding import decode_all, make_decoder
from spyglass.protocol.errors import BadRequest, PayloadTooLarge

MIB = 1024 * 1024
BOMB_SIZE = 200 * MIB
BOMB_LIMIT = 8 * MIB
FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def deflate_raw(data: bytes) -> bytes:
    obj = zlib.compressobj(wbits=-15)
    return obj.compress(data) + obj.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, mtime=0),
    "deflate": zlib.compress,  # zlib-wrapped, as RFC 9110 means it
    "deflate-raw": deflate_raw,  # what some clients send as "deflate"
    "br": brotli.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def coding(name: str) -> str:
    return "deflate" if name == "deflate-raw" else name


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def decode_in_chunks(encoding: str, body: bytes, limit: int, size: int) -> bytes:
    decoder = make_decoder(encoding, limit)
    for chunk in chunks(body, size):
        decoder.feed(chunk)
    return decoder.finish()


SAMPLE = b'{}\n{"type":"event","length":17}\n{"message":"hi"}\n' * 500 + bytes(range(256)) * 20


@pytest.mark.parametrize("name", ENCODERS)
def test_it_round_trips_every_encoding(name: str) -> None:
    assert decode_all(coding(name), ENCODERS[name](SAMPLE), MIB) == SAMPLE


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("size", [1, 7, 1024, 65536])
def test_it_decodes_a_body_that_arrives_in_chunks(name: str, size: int) -> None:
    body = ENCODERS[name](SAMPLE)
    assert decode_in_chunks(coding(name), body, MIB, size) == SAMPLE


@pytest.mark.parametrize("value", ["", "identity", "utf-8", "UTF8", " Identity "])
def test_it_passes_identity_bodies_through(value: str) -> None:
    assert decode_all(value, SAMPLE, MIB) == SAMPLE


@pytest.mark.parametrize(
    ("value", "name"), [("GZIP", "gzip"), ("x-gzip", "gzip"), (" br ", "br"), ("ZSTD", "zstd")]
)
def test_it_reads_the_encoding_name_in_any_case_and_spacing(value: str, name: str) -> None:
    assert decode_all(value, ENCODERS[name](SAMPLE), MIB) == SAMPLE


@pytest.mark.parametrize("value", ["compress", "gzip, br", "lzma", "bzip2", "x"])
def test_it_refuses_an_unknown_encoding_with_400(value: str) -> None:
    with pytest.raises(BadRequest, match="unsupported content encoding"):
        make_decoder(value, MIB)


@pytest.mark.parametrize("name", [*ENCODERS, "identity"])
def test_it_accepts_exactly_the_limit_and_refuses_one_byte_more(name: str) -> None:
    data = bytes(range(256)) * 64
    body = ENCODERS[name](data) if name != "identity" else data
    assert decode_all(coding(name), body, len(data)) == data
    with pytest.raises(PayloadTooLarge):
        decode_all(coding(name), body, len(data) - 1)


def zeros_compressed(name: str, size: int) -> bytes:
    """``size`` zero bytes compressed, without ever holding them all."""
    block = bytes(MIB)
    out: list[bytes] = []
    if name == "br":
        compressor = brotli.Compressor(quality=1)
        out += [compressor.process(block) for _ in range(size // MIB)]
        out.append(compressor.finish())
    elif name == "zstd":
        zobj = zstandard.ZstdCompressor(level=1).compressobj()
        out += [zobj.compress(block) for _ in range(size // MIB)]
        out.append(zobj.flush())
    else:
        wbits = {"gzip": 31, "deflate": 15, "deflate-raw": -15}[name]
        obj = zlib.compressobj(1, zlib.DEFLATED, wbits)
        out += [obj.compress(block) for _ in range(size // MIB)]
        out.append(obj.flush())
    return b"".join(out)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {name: zeros_compressed(name, BOMB_SIZE) for name in ENCODERS}


@pytest.mark.parametrize("name", ENCODERS)
@pytest.mark.parametrize("size", [None, 4096])
def test_it_stops_a_zip_bomb_within_the_limit(
    bombs: dict[str, bytes], name: str, size: int | None
) -> None:
    body = bombs[name]
    assert len(body) < MIB  # 200 MiB of zeros in a few hundred KiB at most
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge):
            decode_in_chunks(coding(name), body, BOMB_LIMIT, size or len(body))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * BOMB_LIMIT


@pytest.mark.parametrize("name", ENCODERS)
def test_it_refuses_a_truncated_stream_with_400(name: str) -> None:
    body = ENCODERS[name](SAMPLE)
    for cut in (1, len(body) // 2, len(body) - 1):
        with pytest.raises(BadRequest):
            decode_all(coding(name), body[:cut], MIB)


@pytest.mark.parametrize("name", ENCODERS)
def test_it_refuses_garbage_with_400(name: str) -> None:
    garbage = b"this is not compressed at all, not even a little" * 10
    with pytest.raises(BadRequest):
        decode_all(coding(name), garbage, MIB)


@pytest.mark.parametrize("name", ["gzip", "deflate", "br"])
def test_it_refuses_a_stream_whose_checksum_does_not_match(name: str) -> None:
    body = bytearray(ENCODERS[name](SAMPLE))
    body[-1] ^= 0xFF  # gzip: CRC/ISIZE, deflate: Adler-32, br: last meta-block
    with pytest.raises(BadRequest):
        decode_all(name, bytes(body), MIB)


def test_it_refuses_a_zstd_frame_with_a_bad_checksum() -> None:
    body = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(SAMPLE))
    body[-1] ^= 0xFF
    with pytest.raises(BadRequest):
        decode_all("zstd", bytes(body), MIB)


def test_it_decodes_zstd_bodies_of_several_frames() -> None:
    compressor = zstandard.ZstdCompressor()
    body = compressor.compress(b"first ") + compressor.compress(b"second")
    assert decode_all("zstd", body, MIB) == b"first second"


def test_it_limits_the_compressed_size_of_a_zstd_body_too() -> None:
    with pytest.raises(PayloadTooLarge):
        make_decoder("zstd", 100).feed(b"x" * 101)


@FUZZ
@given(
    name=st.sampled_from(sorted(ENCODERS)),
    data=st.binary(max_size=2000),
    size=st.integers(min_value=1, max_value=300),
)
def test_it_decodes_any_data_in_any_chunking(name: str, data: bytes, size: int) -> None:
    assert decode_in_chunks(coding(name), ENCODERS[name](data), MIB, size) == data


@FUZZ
@given(
    name=st.sampled_from(sorted(ENCODERS)),
    data=st.binary(min_size=1, max_size=500),
    cut=st.integers(min_value=1),
)
def test_it_refuses_any_truncation_of_a_stream(name: str, data: bytes, cut: int) -> None:
    body = ENCODERS[name](data)
    with pytest.raises(BadRequest):
        decode_all(coding(name), body[: cut % len(body)] or body[:1], MIB)


@FUZZ
@given(
    name=st.sampled_from(sorted(ENCODERS)),
    data=st.binary(max_size=500),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(1, 255)), max_size=4),
    noise=st.binary(max_size=20),
)
def test_it_decodes_or_refuses_corrupt_streams(
    name: str, data: bytes, flips: list[tuple[int, int]], noise: bytes
) -> None:
    body = bytearray(ENCODERS[name](data) + noise)
    for at, mask in flips:
        body[at % len(body)] ^= mask
    with contextlib.suppress(BadRequest, PayloadTooLarge):
        decode_in_chunks(coding(name), bytes(body), 4096, 64)


@FUZZ
@given(name=st.sampled_from([*sorted(ENCODERS), "identity"]), body=st.binary(max_size=500))
def test_it_decodes_or_refuses_random_bytes(name: str, body: bytes) -> None:
    with contextlib.suppress(BadRequest, PayloadTooLarge):
        decode_all(coding(name), body, 4096)
