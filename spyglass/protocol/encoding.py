"""Content-Encoding decoders that never hold more than a limit of decompressed bytes.

``feed()`` takes each received chunk and raises PayloadTooLarge as soon as the output would
pass the limit, so a zip bomb costs a 413, not memory.
"""

from __future__ import annotations

import io
import zlib
from typing import Protocol

import brotli
import zstandard

from spyglass.protocol.errors import BadRequest, PayloadTooLarge

SUPPORTED = ("gzip", "deflate", "br", "zstd")
# Values clients send that mean "not encoded".
IDENTITY = ("", "identity", "utf-8", "utf8")
# Decompress in steps of this many bytes, so memory follows the output, not a guess.
STEP = 256 * 1024


class Decoder(Protocol):
    def feed(self, chunk: bytes) -> None: ...
    def finish(self) -> bytes: ...


class _Budget:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> None:
        if not data:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.parts.clear()
            raise PayloadTooLarge(f"payload exceeds the limit of {self.limit} bytes")
        self.parts.append(data)

    def result(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


class IdentityDecoder:
    def __init__(self, limit: int) -> None:
        self.out = _Budget(limit)

    def feed(self, chunk: bytes) -> None:
        self.out.add(chunk)

    def finish(self) -> bytes:
        return self.out.result()


class ZlibDecoder:
    """gzip (``wbits=31``) or deflate: zlib-wrapped, falling back to raw deflate."""

    def __init__(self, limit: int, *, gzip: bool) -> None:
        self.out = _Budget(limit)
        self.gzip = gzip
        self.obj: zlib._Decompress | None = zlib.decompressobj(31 if gzip else 15)
        self.started = False

    def feed(self, chunk: bytes) -> None:
        assert self.obj is not None
        if not self.started and not self.gzip and chunk:
            self.started = True
            if (chunk[0] & 0x0F) != 8:  # not a zlib header: a raw deflate stream
                self.obj = zlib.decompressobj(-15)
        try:
            data = chunk
            while True:
                # Small steps, never more than one byte over the budget: enough to know.
                step = min(STEP, self.out.limit - self.out.size + 1)
                self.out.add(self.obj.decompress(data, step))
                data = self.obj.unconsumed_tail
                if not data:
                    break
        except zlib.error as exc:
            raise BadRequest(f"failed to decode body: {exc}") from None

    def finish(self) -> bytes:
        assert self.obj is not None
        try:
            self.out.add(self.obj.flush())
        except zlib.error as exc:
            raise BadRequest(f"failed to decode body: {exc}") from None
        # zlib leaves a truncated stream's output without an error: only ``eof`` tells.
        if not self.obj.eof:
            raise BadRequest("failed to decode body: truncated stream")
        return self.out.result()


class BrotliDecoder:
    def __init__(self, limit: int) -> None:
        self.out = _Budget(limit)
        self.obj = brotli.Decompressor()

    def feed(self, chunk: bytes) -> None:
        try:
            data = chunk
            while True:
                step = min(STEP, self.out.limit - self.out.size + 1)
                out = self.obj.process(data, output_buffer_limit=step)
                self.out.add(out)
                data = b""
                # A full step means more output may be waiting inside the decoder.
                if len(out) < step and self.obj.can_accept_more_data():
                    break
        except brotli.error as exc:
            raise BadRequest(f"failed to decode body: {exc}") from None

    def finish(self) -> bytes:
        if not self.obj.is_finished():
            raise BadRequest("failed to decode body: truncated brotli stream")
        return self.out.result()


class ZstdDecoder:
    """zstd output can't be bounded per input chunk, so buffer the (bounded) compressed body
    and stream it out in slices at the end."""

    SLICE = 64 * 1024

    def __init__(self, limit: int, compressed_limit: int) -> None:
        self.out = _Budget(limit)
        self.compressed = _Budget(compressed_limit)

    def feed(self, chunk: bytes) -> None:
        self.compressed.add(chunk)

    def finish(self) -> bytes:
        data = self.compressed.result()
        try:
            # First pass, output counted and dropped: a bomb stops here at the limit.
            reader = zstandard.ZstdDecompressor().stream_reader(
                io.BytesIO(data), read_across_frames=True
            )
            size = 0
            while chunk := reader.read(self.SLICE):
                size += len(chunk)
                if size > self.out.limit:
                    raise PayloadTooLarge(f"payload exceeds the limit of {self.out.limit} bytes")
            # Second pass, now known to be bounded, frame by frame: the stream reader ends a
            # truncated frame silently, a decompressobj says so (``eof`` stays False).
            while data:
                obj = zstandard.ZstdDecompressor().decompressobj()
                self.out.add(obj.decompress(data))
                if not obj.eof:
                    raise BadRequest("failed to decode body: truncated zstd stream")
                data = obj.unused_data
        except zstandard.ZstdError as exc:
            raise BadRequest(f"failed to decode body: {exc}") from None
        return self.out.result()


def make_decoder(content_encoding: str, limit: int) -> Decoder:
    """A decoder for one ``Content-Encoding`` value (a single coding, as SDKs send)."""
    coding = content_encoding.strip().lower()
    if coding in IDENTITY:
        return IdentityDecoder(limit)
    if coding in ("gzip", "x-gzip"):
        return ZlibDecoder(limit, gzip=True)
    if coding == "deflate":
        return ZlibDecoder(limit, gzip=False)
    if coding == "br":
        return BrotliDecoder(limit)
    if coding == "zstd":
        return ZstdDecoder(limit, compressed_limit=limit)
    raise BadRequest(f"unsupported content encoding {content_encoding!r}")


def decode_all(content_encoding: str, body: bytes, limit: int) -> bytes:
    decoder = make_decoder(content_encoding, limit)
    decoder.feed(body)
    return decoder.finish()
