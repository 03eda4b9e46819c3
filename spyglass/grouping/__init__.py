"""Grouping: which issue an event belongs to, the way Sentry decides it.

Pure and versioned: no models, no I/O. See README.md for what is (and is not) grouped like
Sentry, and why.
"""

from spyglass.grouping.api import calculate_grouping
from spyglass.grouping.components import Component
from spyglass.grouping.config import DEFAULT_CONFIG, GroupingConfig
from spyglass.grouping.enhancers import Enhancements, parse_enhancements
from spyglass.grouping.fingerprints import FingerprintRules, parse_fingerprint_rules
from spyglass.grouping.parameterize import normalize_message
from spyglass.grouping.result import GroupingResult, Variant
from spyglass.grouping.rules_syntax import RuleSyntaxError

__all__ = [
    "DEFAULT_CONFIG",
    "Component",
    "Enhancements",
    "FingerprintRules",
    "GroupingConfig",
    "GroupingResult",
    "RuleSyntaxError",
    "Variant",
    "calculate_grouping",
    "normalize_message",
    "parse_enhancements",
    "parse_fingerprint_rules",
]
