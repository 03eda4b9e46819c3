"""Issue alerts hang on the digest's after-commit hook (the one module that knows the
digest)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from spyglass.alerts import issue_alerts
from spyglass.digest import hooks

if TYPE_CHECKING:
    from spyglass.digest.store import StoreResult

log = logging.getLogger(__name__)


@hooks.register
def evaluate_issue_alerts(result: StoreResult) -> None:
    issue_alerts.process(result.events, result.new_issues, result.state_changes)
