"""Grouping configurations: versioned, so that a project keeps its hashes until it upgrades."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spyglass.grouping.enhancers import Enhancements
    from spyglass.grouping.fingerprints import FingerprintRules

# Sentry's long-standing default ("winter 2023") configuration.
DEFAULT_CONFIG = "newstyle:2023-01-11"


@dataclass(frozen=True)
class GroupingConfig:
    """What a project groups with: the config id plus its own rules (applied on top of the
    config's built-in ones)."""

    id: str = DEFAULT_CONFIG
    fingerprint_rules: FingerprintRules | None = None
    enhancements: Enhancements | None = None


@dataclass(frozen=True)
class Settings:
    """The behaviour a config id stands for. A new config gets a new entry; an existing
    entry never changes, since that would regroup every project using it."""

    id: str
    # Platforms whose source lines (`context_line`) are trusted enough to group by.
    contextline_platforms: frozenset[str]
    # Sentry's 2023 config ignores a single-frame JavaScript stack when the frame *is* a URL
    # (the opposite of what was meant); kept for hash compatibility.
    js_single_frame_url_backwards: bool
    # Sub-components of an exception in the 2023 order: stacktrace, type, (ns-error,) value.
    legacy_exception_order: bool
    # Unknown `{{ variables }}` in fingerprints stay as written instead of becoming a marker.
    legacy_unknown_variables: bool
    # Names of the built-in stack trace and fingerprint rule sets.
    enhancements_base: str
    fingerprinting_bases: tuple[str, ...]


CONFIGS: dict[str, Settings] = {
    DEFAULT_CONFIG: Settings(
        id=DEFAULT_CONFIG,
        contextline_platforms=frozenset(("javascript", "node", "python", "php", "ruby")),
        js_single_frame_url_backwards=True,
        legacy_exception_order=True,
        legacy_unknown_variables=True,
        enhancements_base="all-platforms@2023-01-11",
        fingerprinting_bases=("javascript@2024-02-02",),
    ),
}


def settings_for(config_id: str) -> Settings:
    try:
        return CONFIGS[config_id]
    except KeyError:
        raise ValueError(f"unknown grouping config {config_id!r}") from None
