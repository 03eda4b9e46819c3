"""Issue alerts hang on the digest's after-commit hook (registered by name in
``AlertsConfig.ready``, imported by the first batch that commits)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spyglass.alerts import issue_alerts

if TYPE_CHECKING:
    from spyglass.digest.store import StoreResult

log = logging.getLogger(__name__)


def evaluate_issue_alerts(result: StoreResult) -> None:
    issue_alerts.process(result.events, result.new_issues, result.state_changes)
