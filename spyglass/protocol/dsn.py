"""Parse DSNs: ``scheme://public[:secret]@host[:port][/prefix]/project_id``."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Dsn:
    scheme: str
    public_key: str
    host: str
    port: int | None
    path_prefix: str
    project_id: int

    @property
    def origin(self) -> str:
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{self.host}{port}{self.path_prefix}"

    def endpoint(self, kind: str) -> str:
        return f"{self.origin}/api/{self.project_id}/{kind}/"


def parse_dsn(text: str) -> Dsn:
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
        raise ValueError(f"not a DSN: {text!r}")
    prefix, _, project = parts.path.rstrip("/").rpartition("/")
    if not (project.isascii() and project.isdigit()) or len(project) > 18:
        raise ValueError(f"DSN has no numeric project id: {text!r}")
    return Dsn(parts.scheme, parts.username, parts.hostname, parts.port, prefix, int(project))
