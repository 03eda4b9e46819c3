"""The user settings' side navigation, built from one list.

To add a page (e.g. "Notifications"), append ``(key, label, url name)`` to ``USER_SETTINGS``
and pass ``user_settings_nav("<key>")`` as ``settings_nav`` to a template that extends
``web/settings_base.html``.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse

USER_SETTINGS: list[tuple[str, str, str]] = [
    ("profile", "Profile", "accounts:profile"),
    ("password", "Password", "accounts:password_change"),
    ("tokens", "API tokens", "accounts:tokens"),
    ("notifications", "Notifications", "notifications:user_settings"),
]


def user_settings_nav(current: str) -> list[dict[str, Any]]:
    return [
        {"label": label, "url": reverse(name), "current": key == current}
        for key, label, name in USER_SETTINGS
    ]
