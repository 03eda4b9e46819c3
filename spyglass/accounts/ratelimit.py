"""Failed sign-ins counted per client IP and address, and per IP alone, in a sliding window.

Rows live in the main database, so every web process on every machine shares the count.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from spyglass.accounts.models import SignInFailure


def client_ip(request: HttpRequest) -> str:
    if settings.TRUST_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[0].strip()
        if forwarded:
            return str(forwarded)[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]


def _keys(ip: str, email: str) -> tuple[str, str]:
    address = (email or "").strip().lower()
    return (
        hashlib.sha256(f"{ip}|{address}".encode()).hexdigest(),
        hashlib.sha256(f"{ip}|".encode()).hexdigest(),
    )


def _window() -> timedelta:
    return timedelta(seconds=settings.SIGN_IN_FAILURE_WINDOW)


def blocked_for(ip: str, email: str) -> int:
    """Seconds until this IP may try this address again; 0 when it may now."""
    now = timezone.now()
    since = now - _window()
    wait = 0
    for key, limit in zip(
        _keys(ip, email),
        (settings.SIGN_IN_FAILURES_PER_ADDRESS, settings.SIGN_IN_FAILURES_PER_IP),
        strict=True,
    ):
        times = list(
            SignInFailure.objects.filter(key=key, created_at__gte=since)
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(times) >= limit:
            # Free again when the oldest of the last `limit` failures leaves the window.
            left = (times[-1] + _window() - now).total_seconds()
            wait = max(wait, math.ceil(left))
    return wait


def record_failure(ip: str, email: str) -> None:
    now = timezone.now()
    SignInFailure.objects.filter(created_at__lt=now - _window()).delete()
    SignInFailure.objects.bulk_create(
        [SignInFailure(key=key, created_at=now) for key in _keys(ip, email)]
    )


def clear(ip: str, email: str) -> None:
    """A successful sign-in forgets this address's failures from this IP."""
    SignInFailure.objects.filter(key=_keys(ip, email)[0]).delete()
