"""Small event builders for behaviour tests; every event goes through Relay's normalizer,
as in production."""

from __future__ import annotations

import json
from typing import Any

from spyglass.grouping import Component, GroupingConfig, GroupingResult, calculate_grouping
from spyglass.grouping.tests.sdk_events import normalize

Event = dict[str, Any]


def frame(
    function: str | None = None,
    module: str | None = "app.orders",
    *,
    in_app: bool | None = True,
    lineno: int = 10,
    **fields: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {"lineno": lineno, **fields}
    if function is not None:
        data["function"] = function
    if module is not None:
        data["module"] = module
    if in_app is not None:
        data["in_app"] = in_app
    return data


def exception(
    type: str | None = "ValueError",
    value: str | None = "bad value",
    frames: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = dict(fields)
    if type is not None:
        data["type"] = type
    if value is not None:
        data["value"] = value
    if frames is not None:
        data["stacktrace"] = {"frames": frames}
    return data


def event(platform: str = "python", **fields: Any) -> dict[str, Any]:
    """A normalized event; `exceptions=[...]` is a shortcut for `exception.values`."""
    data: dict[str, Any] = {"platform": platform, **fields}
    if "exceptions" in data:
        data["exception"] = {"values": data.pop("exceptions")}
    return normalize(json.dumps(data).encode())


def group(data: dict[str, Any], config: GroupingConfig | None = None) -> GroupingResult:
    return calculate_grouping(data, config or GroupingConfig())


def primary(data: dict[str, Any], config: GroupingConfig | None = None) -> str:
    return group(data, config).hashes[0]


def contributing(result: GroupingResult) -> list[str]:
    return [name for name, variant in result.variants.items() if variant.contributes]


def leaves(result: GroupingResult, variant: str) -> list[str]:
    component = result.variants[variant].component
    assert component is not None
    return component.iter_values()


def component(result: GroupingResult, variant: str) -> Component:
    found = result.variants[variant].component
    assert found is not None
    return found
