"""The digest scenarios, sent by the real sentry-sdk in a process of its own.

    python python_digest_client.py CASE     (env: SENTRY_DSN, E2E_RELEASE)

Prints one JSON object with the event ids the SDK returned.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any

import sentry_sdk

if TYPE_CHECKING:
    from sentry_sdk._types import Event


def init(**options: Any) -> None:
    sentry_sdk.init(
        dsn=os.environ["SENTRY_DSN"],
        release=os.environ["E2E_RELEASE"],
        environment="e2e",
        **options,
    )


def lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def parse(text: str) -> int:
    return int(text)


def divide(a: int, b: int) -> float:
    return a / b


def capture(fn: Any, *args: Any) -> str | None:
    try:
        fn(*args)
    except Exception as exc:
        return sentry_sdk.capture_exception(exc)
    raise AssertionError("did not raise")


def three_exceptions() -> dict[str, Any]:
    init()
    ids = []
    for n in range(20):
        ids.append(capture(lookup, {}, f"user-{n}"))
        ids.append(capture(parse, f"x{n}"))
        ids.append(capture(divide, n, 0))
    return {"ids": ids}


def chained() -> dict[str, Any]:
    init()

    def load() -> None:
        try:
            lookup({}, "config")
        except KeyError as exc:
            raise RuntimeError("could not load the configuration") from exc

    return {"ids": [capture(load) for _ in range(2)]}


def messages() -> dict[str, Any]:
    init()
    return {
        "ids": [
            sentry_sdk.capture_message(f"Processed batch {n} with {n * 3} failures")
            for n in (1, 7, 250)
        ]
    }


def fingerprints() -> dict[str, Any]:
    init()
    ids = []
    for kind in ("payment", "payment", "auth"):
        with sentry_sdk.new_scope() as scope:
            scope.fingerprint = ["{{ default }}", kind]
            ids.append(capture(parse, "x"))
    return {"ids": ids}


def secrets() -> dict[str, Any]:
    init(send_default_pii=True, include_local_variables=True)

    def add_request(event: Event, hint: dict[str, Any]) -> Event:
        event["request"] = {
            "url": "https://api.example/login",
            "method": "POST",
            "headers": {"Authorization": "Bearer very.secret.token", "Accept": "*/*"},
        }
        return event

    def login(user: str) -> None:
        password = "hunter2-" + user
        raise PermissionError(f"login failed for {user} ({len(password)})")

    with sentry_sdk.new_scope() as scope:
        scope.add_event_processor(add_request)
        return {"ids": [capture(login, "alice")]}


def filtered() -> dict[str, Any]:
    init()
    return {
        "ids": [
            sentry_sdk.capture_message("worker 3: context canceled"),
            sentry_sdk.capture_message("worker 3: queue unreachable"),
        ]
    }


def one_error() -> dict[str, Any]:
    init()
    return {"ids": [capture(divide, 1, 0)]}


CASES = {
    f.__name__: f
    for f in (three_exceptions, chained, messages, fingerprints, secrets, filtered, one_error)
}

if __name__ == "__main__":
    result = CASES[sys.argv[1]]()
    sentry_sdk.flush(timeout=10)
    print(json.dumps(result))
