"""Event attachments: files under ``DATA_DIR/attachments/``, one row each."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import models
from django.utils import timezone

from spyglass.issues.models import Issue
from spyglass.projects.models import Project

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100


def safe_filename(name: str) -> str:
    """A file name that is only a name: the last path component, in a small alphabet, not
    hidden, never ``.``/``..``. The original name is kept on the row."""
    base = re.split(r"[/\\]", name)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[:MAX_NAME]
    return cleaned or "attachment"


def root() -> Path:
    return Path(settings.DATA_DIR) / "attachments"


class Attachment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="attachments")
    event_id = models.CharField(max_length=32)
    issue = models.ForeignKey(
        Issue, on_delete=models.SET_NULL, null=True, blank=True, related_name="attachments"
    )
    name = models.CharField(max_length=255)  # as sent (display only, never a path)
    content_type = models.CharField(max_length=128, blank=True)
    attachment_type = models.CharField(max_length=64, default="event.attachment")
    size = models.PositiveBigIntegerField()
    path = models.CharField(max_length=255)  # relative to DATA_DIR
    sha1 = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # The same file sent twice for an event (a redelivered envelope) is one row.
            models.UniqueConstraint(
                fields=["project", "event_id", "name", "sha1"], name="attachment_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_id}/{self.name} ({self.size} B)"

    @property
    def file(self) -> Path:
        return Path(settings.DATA_DIR) / self.path


def write_file(project_id: int, event_id: str, n: int, name: str, data: bytes) -> str:
    """Write an attachment's bytes; returns the path relative to DATA_DIR. The directory is
    built from our own ids only and the result is checked to stay under the root."""
    if not re.fullmatch(r"[0-9a-f]{32}", event_id):
        raise ValueError(f"not an event id: {event_id!r}")
    base = root().resolve()
    directory = base / str(int(project_id)) / event_id
    target = (directory / f"{int(n)}-{safe_filename(name)}").resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"attachment path escapes the data directory: {target}")
    directory.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # readers never see half a file
    return str(target.relative_to(Path(settings.DATA_DIR).resolve()))


@dataclass(frozen=True)
class AttachmentFile:
    """One ``attachment`` item, read from the wire."""

    name: str
    content_type: str
    attachment_type: str
    data: bytes


def store_for_event(
    project_id: int, event_id: str, issue_id: int | None, files: Sequence[AttachmentFile]
) -> list[Attachment]:
    """Write an event's attachments and their rows; a file the event has already (same name
    and content: a redelivered envelope) is skipped. Returns the rows created."""
    known = set(
        Attachment.objects.filter(project_id=project_id, event_id=event_id).values_list(
            "name", "sha1"
        )
    )
    n = len(known)
    rows: list[Attachment] = []
    for f in files:
        sha1 = hashlib.sha1(f.data, usedforsecurity=False).hexdigest()
        if (f.name, sha1) in known:
            continue
        known.add((f.name, sha1))
        rows.append(
            Attachment(
                project_id=project_id,
                event_id=event_id,
                issue_id=issue_id,
                name=f.name,
                content_type=f.content_type,
                attachment_type=f.attachment_type,
                size=len(f.data),
                path=write_file(project_id, event_id, n, f.name, f.data),
                sha1=sha1,
            )
        )
        n += 1
    Attachment.objects.bulk_create(rows, ignore_conflicts=True)
    return rows
