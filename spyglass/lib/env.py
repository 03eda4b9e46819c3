"""Strict settings from the environment.

Every setting read through these helpers is recorded in ``REGISTRY`` so that a test can
prove each one is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class EnvSetting:
    name: str
    default: str | None


REGISTRY: dict[str, EnvSetting] = {}


def _raw(name: str, default: str | None) -> str | None:
    REGISTRY[name] = EnvSetting(name, default)
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value


def env_str(name: str, default: str) -> str:
    value = _raw(name, default)
    assert value is not None
    return value


def env_optional(name: str) -> str | None:
    return _raw(name, None)


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name, "true" if default else "false")
    if value not in ("true", "false"):
        raise ImproperlyConfigured(f"{name} must be 'true' or 'false', not {value!r}")
    return value == "true"


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(name, str(default))
    assert value is not None
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _raw(name, repr(default))
    assert value is not None
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number):  # float() takes "nan" and "inf"; no setting means them
        raise ImproperlyConfigured(f"{name} must be a finite number, not {value!r}")
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


_SIZE_RE = re.compile(r"^\s*(\d+)\s*(|b|k|kb|kib|m|mb|mib|g|gb|gib)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int:
    """``"20MiB"``, ``"512k"`` or ``"1048576"`` -> bytes (units are powers of 1024)."""
    match = _SIZE_RE.match(text)
    if match is None:
        raise ValueError(text)
    unit = match.group(2).lower()[:1]
    return int(match.group(1)) * _SIZE_UNITS[unit]


def env_size(name: str, default: str) -> int:
    value = _raw(name, default)
    assert value is not None
    try:
        size = parse_size(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a size such as 1048576, 512KiB or 20MiB, not {value!r}"
        ) from None
    if size <= 0:
        raise ImproperlyConfigured(f"{name} must be positive")
    return size
