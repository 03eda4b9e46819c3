"""A small multipart/form-data parser for minidump uploads (the body is already bounded)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from spyglass.protocol.errors import BadRequest


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str
    data: bytes


def _params(header: str) -> Message:
    message = Message()
    message["content-type"] = header
    return message


def boundary_of(content_type: str) -> bytes:
    boundary = _params(content_type).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BadRequest("multipart body without a boundary")
    return boundary.encode("latin-1")


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    delimiter = b"--" + boundary_of(content_type)
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise BadRequest("invalid multipart body")
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the closing delimiter
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise BadRequest("invalid multipart body: part without headers")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip()
        disposition = _params(
            "form-data; " + headers.get("content-disposition", "").partition(";")[2]
        )
        part_name = disposition.get_param("name")
        filename = disposition.get_param("filename")
        if not isinstance(part_name, str):
            raise BadRequest("invalid multipart body: part without a name")
        parts.append(
            Part(
                name=part_name,
                filename=filename if isinstance(filename, str) else None,
                content_type=headers.get("content-type", "application/octet-stream"),
                data=data,
            )
        )
    return parts
