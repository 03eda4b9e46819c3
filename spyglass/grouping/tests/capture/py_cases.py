"""Python cases for `regenerate.py`: each sends one event with the real sentry-sdk.

usage: SENTRY_DSN=... python py_cases.py CASE  (run by regenerate.py, never by the tests)
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable

import sentry_sdk


def init(**options: object) -> None:
    sentry_sdk.init(
        release="capture@1.0.0",
        environment="production",
        server_name="capture-host",
        **options,  # type: ignore[arg-type]
    )


class PaymentError(Exception):
    pass


def charge_card(amount: float) -> None:
    raise ValueError(f"card declined for amount={amount}")


def checkout(order_id: str) -> None:
    try:
        charge_card(42.5)
    except ValueError as e:
        raise PaymentError(f"checkout failed for order {order_id}") from e


def case_chained_raise_from() -> None:
    init()
    try:
        checkout("ord-1001")
    except PaymentError as e:
        sentry_sdk.capture_exception(e)


def load_settings(path: str) -> dict[str, str]:
    try:
        with open(path) as f:
            return dict(json.load(f))
    except FileNotFoundError:
        # A bug in the handler: the KeyError is raised "during handling" of the first one.
        defaults: dict[str, str] = {}
        return {"theme": defaults["theme"]}


def case_chained_during_handling() -> None:
    init()
    try:
        load_settings("/nonexistent/settings.json")
    except KeyError as e:
        sentry_sdk.capture_exception(e)


def validate(row: dict[str, object]) -> None:
    errors: list[Exception] = []
    if "email" not in row:
        errors.append(KeyError("email"))
    if not isinstance(row.get("age"), int):
        errors.append(TypeError(f"age must be an int, not {type(row.get('age')).__name__}"))
    nested = [ValueError("zip code 1234 is too short"), ValueError("unknown country XX")]
    errors.append(ExceptionGroup("address is invalid", nested))
    raise ExceptionGroup(f"row {row.get('id')} is invalid", errors)


def case_exception_group() -> None:
    init()
    try:
        validate({"id": 7, "age": "old"})
    except ExceptionGroup as e:
        sentry_sdk.capture_exception(e)


def _log_payment_failure(template: bool, order: int, retries: int) -> None:
    init()
    logger = logging.getLogger("payments")
    if template:
        logger.error("payment for order %d failed after %d retries", order, retries)
    else:
        logger.error(f"payment for order {order} failed after {retries} retries")


def case_logging_params_a() -> None:
    _log_payment_failure(True, 1001, 3)


def case_logging_params_b() -> None:
    _log_payment_failure(True, 20417, 12)


def case_logging_formatted_a() -> None:
    _log_payment_failure(False, 1001, 3)


def case_logging_formatted_b() -> None:
    _log_payment_failure(False, 20417, 12)


def walk(tree: dict[str, object], depth: int) -> int:
    child = tree.get("child")
    return 1 + walk(child if isinstance(child, dict) else tree, depth + 1)


def case_recursion() -> None:
    init()
    sys.setrecursionlimit(80)  # a deep stack, but a small capture
    try:
        node: dict[str, object] = {}
        node["child"] = node
        walk(node, 0)
    except RecursionError as e:
        sentry_sdk.capture_exception(e)


def case_message_threads() -> None:
    # attach_stacktrace puts the current stack into a `threads` interface, not `stacktrace`
    init(attach_stacktrace=True)
    sentry_sdk.capture_message("cache warmup took 3512 ms for 48 keys", level="warning")


def worker(batch: list[int]) -> None:
    print(sum(batch) / len(batch))  # ZeroDivisionError for an empty batch


def case_thread_unhandled() -> None:
    init()  # the threading integration reports an exception that ends a thread
    thread = threading.Thread(target=worker, args=([],), name="batch-worker")
    thread.start()
    thread.join()


def parse_config(text: str) -> object:
    return json.loads(text)  # raises inside the standard library: system frames


def case_library_frames() -> None:
    init()
    try:
        parse_config('{"retries": 3,')
    except json.JSONDecodeError as e:
        sentry_sdk.capture_exception(e)


def required_version(spec: str) -> object:
    from packaging.version import Version  # a library in site-packages (pytest needs it)

    return Version(spec.removeprefix(">="))


def case_library_package_frames() -> None:
    init()
    try:
        required_version(">=release 42")
    except ValueError as e:  # packaging's InvalidVersion
        sentry_sdk.capture_exception(e)


CASES: dict[str, Callable[[], None]] = {
    name.removeprefix("case_"): func
    for name, func in list(globals().items())
    if name.startswith("case_") and callable(func)
}

if __name__ == "__main__":
    CASES[sys.argv[1]]()
    sentry_sdk.flush(10)
