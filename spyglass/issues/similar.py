"""Similar issues: other issues of the project that are probably the same problem.

The rule (docs/ui.md, "Similar issues"): a candidate is an issue of the same project and
category, not the issue itself, with the same exception type (``metadata.type``; issues
without one compare only with others without one). Among the 50 most recently seen such
candidates, one is similar when

* its title has the same *shape*: the titles are equal once numbers, hex ids, UUIDs and
  quoted strings are replaced by placeholders (``KeyError: 'user_42'`` and
  ``KeyError: 'order_7'`` have one shape), or
* the in-app frames of its latest event overlap the issue's: the frames (module or file,
  function) they share are at least half of all the in-app frames of both (Jaccard ≥ 0.5).

Results are ordered by frame overlap, then by the title match, then by last seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spyglass.events.bodies import read_body
from spyglass.events.models import Event
from spyglass.issues.models import Issue

CANDIDATES = 50
MIN_OVERLAP = 0.5

_SHAPES = [
    (re.compile(r"'[^']*'|\"[^\"]*\""), "'…'"),
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-fA-F]{12,}\b"), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]


def title_shape(title: str) -> str:
    for pattern, placeholder in _SHAPES:
        title = pattern.sub(placeholder, title)
    return " ".join(title.split()).lower()


Frame = tuple[str, str]


def in_app_frames(event: Event | None) -> set[Frame]:
    """(module or file, function) of the in-app frames of every exception of the event."""
    if event is None:
        return set()
    body = read_body(event.body)
    exceptions = body.get("exception")
    values = exceptions.get("values") if isinstance(exceptions, dict) else exceptions
    frames: set[Frame] = set()
    for exception in values if isinstance(values, list) else []:
        stack = exception.get("stacktrace") if isinstance(exception, dict) else None
        found = stack.get("frames") if isinstance(stack, dict) else None
        for frame in found if isinstance(found, list) else []:
            if isinstance(frame, dict) and frame.get("in_app") is True:
                where = frame.get("module") or frame.get("filename") or frame.get("abs_path")
                frames.add((str(where or ""), str(frame.get("function") or "")))
    return frames


def _latest_event(issue: Issue) -> Event | None:
    return Event.objects.filter(issue=issue).order_by("-timestamp", "-id").first()


@dataclass(frozen=True)
class Similar:
    issue: Issue
    same_title_shape: bool
    overlap: float  # 0..1: shared in-app frames / all in-app frames of both

    @property
    def percent(self) -> int:
        return round(self.overlap * 100)


def similar_issues(issue: Issue) -> list[Similar]:
    exception_type = issue.metadata.get("type") if isinstance(issue.metadata, dict) else None
    candidates = Issue.objects.filter(project_id=issue.project_id, category=issue.category)
    if exception_type:
        candidates = candidates.filter(metadata__type=exception_type)
    else:
        candidates = candidates.exclude(metadata__has_key="type")
    rows = list(candidates.exclude(pk=issue.pk).order_by("-last_seen", "-id")[:CANDIDATES])
    if not rows:
        return []
    shape = title_shape(issue.title)
    mine = in_app_frames(_latest_event(issue))
    found: list[Similar] = []
    for other in rows:
        theirs = in_app_frames(_latest_event(other)) if mine else set()
        union = mine | theirs
        overlap = len(mine & theirs) / len(union) if union else 0.0
        same_shape = title_shape(other.title) == shape
        if same_shape or overlap >= MIN_OVERLAP:
            found.append(Similar(other, same_shape, overlap))
    found.sort(key=lambda s: (-s.overlap, not s.same_title_shape, -s.issue.last_seen.timestamp()))
    return found
