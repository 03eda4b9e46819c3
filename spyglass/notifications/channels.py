"""Creating, changing and testing channels: what the pages and the API share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from spyglass.notifications import registry
from spyglass.notifications.message import Notification
from spyglass.notifications.models import Channel, Delivery
from spyglass.notifications.send import enqueue
from spyglass.projects.models import Organization

SECRET_MASK = "********"  # noqa: S105  (what pages and the API show instead of a secret)
RESERVED_SLUGS = frozenset({"new"})


def clean_slug(org: Organization, slug: str, name: str, channel: Channel | None = None) -> str:
    slug = slugify(slug or name)[:50]
    if not slug:
        raise ValidationError({"slug": ["Enter a slug of letters, digits and hyphens."]})
    if slug in RESERVED_SLUGS:
        raise ValidationError(
            {"slug": [f"“{slug}” is a path of the channel pages; choose another."]}
        )
    taken = Channel.objects.filter(organization=org, slug=slug)
    if channel is not None:
        taken = taken.exclude(pk=channel.pk)
    if taken.exists():
        raise ValidationError({"slug": [f"This organization already has a channel “{slug}”."]})
    return slug


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ValidationError({"name": ["This field is required."]})
    if len(name) > 200:
        raise ValidationError({"name": ["At most 200 characters."]})
    return name


def merged_config(channel: Channel | None, kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Form or API input, where an empty or masked secret keeps the stored one."""
    config = dict(data)
    if channel is not None:
        for name in registry.get(kind).secret_fields:
            if config.get(name) in (None, "", SECRET_MASK) and name in channel.config:
                config[name] = channel.config[name]
    return config


def create(
    org: Organization, kind: str, name: str, slug: str, config: Mapping[str, Any]
) -> Channel:
    errors: dict[str, list[str]] = {}
    try:
        spec = registry.get(kind)
    except LookupError:
        raise ValidationError(
            {"kind": [f"Choose one of: {', '.join(registry.kinds())}."]}
        ) from None
    values: dict[str, Any] = {}
    for key, check in (
        ("name", lambda: clean_name(name)),
        ("slug", lambda: clean_slug(org, slug, name)),
        ("config", lambda: spec.clean_config(config)),
    ):
        try:
            values[key] = check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return Channel.objects.create(organization=org, kind=kind, **values)


def update(
    channel: Channel,
    *,
    name: str | None = None,
    slug: str | None = None,
    config: Mapping[str, Any] | None = None,
) -> Channel:
    errors: dict[str, list[str]] = {}
    new_name, new_slug, new_config = channel.name, channel.slug, channel.config
    try:
        if name is not None:
            new_name = clean_name(name)
        if slug is not None and slug != channel.slug:
            new_slug = clean_slug(channel.organization, slug, new_name, channel)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if config is not None:
        try:
            new_config = registry.get(channel.kind).clean_config(
                merged_config(channel, channel.kind, config)
            )
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    channel.name, channel.slug, channel.config = new_name, new_slug, new_config
    channel.updated_at = timezone.now()
    channel.save(update_fields=["name", "slug", "config", "updated_at"])
    return channel


def public_config(channel: Channel) -> dict[str, Any]:
    """The config with secrets masked, for pages and the API."""
    secrets = registry.get(channel.kind).secret_fields
    return {
        key: (SECRET_MASK if key in secrets and value else value)
        for key, value in channel.config.items()
    }


def page_url(channel: Channel) -> str:
    path = reverse("notifications:channel", args=(channel.organization.slug, channel.slug))
    return f"{settings.BASE_URL}{path}"


def send_test(channel: Channel) -> Delivery:
    """Queue a test message (delivered once, even to a broken channel; never breaks it)."""
    notification = Notification(
        kind="test",
        title=f"Test notification for {channel.name}",
        text=f"This is a test message from Spyglass for the channel “{channel.name}” "
        f"({registry.get(channel.kind).label}). If you can read it, the channel works.",
        url=page_url(channel),
        level="info",
        dedup_key=f"test-{channel.pk}-{int(timezone.now().timestamp())}",
        fields={"channel": channel.slug},
    )
    with transaction.atomic():
        return enqueue(channel, notification, is_test=True)
