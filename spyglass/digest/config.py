"""Each project's digest settings, compiled once and cached until they change."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from spyglass.digest.filters import FilterSettings
from spyglass.digest.scrubbing import Scrubber, ScrubbingConfig, compile_scrubber
from spyglass.grouping import GroupingConfig, parse_enhancements, parse_fingerprint_rules
from spyglass.projects.models import Project

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProjectConfig:
    project_id: int
    organization_id: int
    filters: FilterSettings
    scrubber: Scrubber
    grouping: GroupingConfig
    # Settings that failed to compile (they are validated on save; this is the safety net).
    problems: tuple[str, ...] = field(default=())


_cache: dict[int, tuple[datetime, ProjectConfig]] = {}


def _known(cls: type[Any], values: dict[str, Any]) -> dict[str, Any]:
    """Only the fields ``cls`` has, lists as tuples (the configs are hashable)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in names}


def compile_config(project: Project) -> ProjectConfig:
    problems: list[str] = []
    try:
        scrubbing = ScrubbingConfig(**_known(ScrubbingConfig, project.data_scrubbing or {}))
        scrubber = compile_scrubber(scrubbing)
    except Exception as exc:
        problems.append(f"data scrubbing settings: {exc}")
        scrubber = compile_scrubber(ScrubbingConfig())  # never store unscrubbed data
    try:
        filters = FilterSettings(**_known(FilterSettings, project.inbound_filters or {}))
    except Exception as exc:
        problems.append(f"inbound filters: {exc}")
        filters = FilterSettings()
    rules = enhancements = None
    try:
        if project.fingerprint_rules.strip():
            rules = parse_fingerprint_rules(project.fingerprint_rules)
        if project.stacktrace_rules.strip():
            enhancements = parse_enhancements(project.stacktrace_rules)
    except Exception as exc:
        problems.append(f"grouping rules: {exc}")
    grouping = GroupingConfig(
        id=project.grouping_config, fingerprint_rules=rules, enhancements=enhancements
    )
    for problem in problems:
        log.warning("project %s: %s", project.id, problem)
    return ProjectConfig(
        project.id, project.organization_id, filters, scrubber, grouping, tuple(problems)
    )


def project_configs(project_ids: Iterable[int]) -> dict[int, ProjectConfig]:
    configs: dict[int, ProjectConfig] = {}
    for project in Project.objects.filter(id__in=set(project_ids)):
        cached = _cache.get(project.id)
        if cached is None or cached[0] != project.settings_updated_at:
            cached = (project.settings_updated_at, compile_config(project))
            _cache[project.id] = cached
        configs[project.id] = cached[1]
    return configs
