"""Anything else, through an Apprise URL (https://github.com/caronc/apprise).

Apprise makes its own connections. For schemes that name a host of the user's choosing
(``json://``, ``xml://``, ``form://``, self-hosted chat servers), the host goes through the
same SSRF guard as every other request first; the guard cannot pin Apprise's connection to the
address it checked, so a name whose DNS answer changes within that moment is not caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from spyglass.lib import http
from spyglass.notifications.base import ConfigField, Kind, TransportError, plain_text
from spyglass.notifications.facts import Facts

# Schemes whose host part is a server the user names (not a token of a fixed service).
_HOSTED = ("json", "xml", "form", "gotify", "ntfy", "mmost", "matrix", "rocket", "apprise")
_HOSTED_MORE = ("nctalk", "ncloud", "mastodon", "misskey", "signal")
HOSTED_SCHEMES = frozenset(f"{s}{tls}" for s in _HOSTED + _HOSTED_MORE for tls in ("", "s"))
LEVEL_TYPES = {"info": "info", "resolved": "success", "warning": "warning"}


def render(facts: Facts) -> dict[str, str]:
    n = facts.notification
    return {
        "title": n.title[:250],
        "body": plain_text(facts),
        "type": LEVEL_TYPES.get(n.level, "failure"),
    }


def guard(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in HOSTED_SCHEMES or not parts.hostname:
        return
    try:
        port = parts.port or (443 if parts.scheme.endswith("s") else 80)
        http.resolve(parts.hostname, port)
    except http.Refused as exc:
        raise TransportError(str(exc), permanent=True) from exc
    except (http.OutboundError, ValueError) as exc:
        raise TransportError(str(exc), permanent=False) from exc


def deliver(config: Mapping[str, Any], payload: Mapping[str, str]) -> int | None:
    import apprise  # ≈ 10 MB: only in a process that sends through it

    url = str(config["url"])
    guard(url)
    notifier = apprise.Apprise()
    if not notifier.add(url):
        raise TransportError("Apprise does not understand this URL", permanent=True)
    ok = notifier.notify(title=payload["title"], body=payload["body"], notify_type=payload["type"])
    if not ok:
        # Apprise reports failure without saying whether a retry could help.
        raise TransportError("Apprise could not deliver the notification", permanent=False)
    return None


def _validate(config: dict[str, Any]) -> None:
    import apprise

    url = str(config.get("url", ""))
    if "://" not in url or apprise.Apprise.instantiate(url) is None:
        raise ValidationError({"url": ["Apprise does not understand this URL."]})


KIND = Kind(
    name="apprise",
    label="Apprise",
    description="Sends through any service Apprise supports, named by an Apprise URL.",
    fields=[
        ConfigField(
            "url",
            "Apprise URL",
            type="secret",
            help="For example json://hooks.example.com/path or tgram://bottoken/chatid.",
        ),
    ],
    render=render,
    deliver=deliver,
    extra_validation=_validate,
    secret_fields=frozenset({"url"}),
)
