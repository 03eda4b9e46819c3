"""Drive the real sentry-sdk against a DSN, in a process of its own (the SDK's state is global).

    python python_client.py CASE       (env: SENTRY_DSN, E2E_RELEASE, E2E_COMPRESSION)

Prints one JSON object with the ids the SDK returned.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import sentry_sdk
from sentry_sdk.crons import capture_checkin


class CardDeclinedError(Exception):
    pass


def init(**options: Any) -> None:
    options.update(dsn=os.environ["SENTRY_DSN"], release=os.environ["E2E_RELEASE"])
    if os.environ.get("E2E_COMPRESSION"):
        options["_experiments"] = {"transport_compression_algo": os.environ["E2E_COMPRESSION"]}
    sentry_sdk.init(environment="e2e", **options)


def charge(amount: float) -> None:
    raise CardDeclinedError(f"card declined for amount={amount}")


def errors() -> dict[str, Any]:
    init()
    try:
        charge(42.5)
    except CardDeclinedError as exc:
        exception_id = sentry_sdk.capture_exception(exc)
    message_id = sentry_sdk.capture_message("Disk usage above 90%", level="warning")
    return {"exception": exception_id, "message": message_id}


def tracing() -> dict[str, Any]:
    init(traces_sample_rate=1.0)
    transaction = sentry_sdk.start_transaction(op="task", name="process_orders")
    with transaction.start_child(op="db", name="SELECT id FROM orders"):
        for _ in range(3):
            with transaction.start_child(op="db", name="SELECT name FROM users WHERE id = ?"):
                pass
    transaction_id = transaction.finish()

    sentry_sdk.start_session(session_mode="application")
    sentry_sdk.end_session()

    check_in_id = capture_checkin(monitor_slug="nightly-report", status="in_progress")
    capture_checkin(monitor_slug="nightly-report", check_in_id=check_in_id, status="ok")
    return {"transaction": transaction_id, "check_in": check_in_id}


def main() -> None:
    ids = {"errors": errors, "tracing": tracing}[sys.argv[1]]()
    sentry_sdk.flush(timeout=20)
    print(json.dumps(ids))


if __name__ == "__main__":
    main()
