from __future__ import annotations

from django.contrib import admin

from spyglass.notifications.models import Channel, Delivery, DeliveryAttempt


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    list_display = ("slug", "name", "kind", "organization", "is_broken", "broken_reason")
    list_filter = ("kind", "is_broken")
    search_fields = ("slug", "name")


class AttemptInline(admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    fields = ("number", "started_at", "ok", "permanent", "status_code", "latency_ms", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin[Delivery]):
    """The outbox: what waits, what went, what failed (and why)."""

    list_display = ("id", "channel", "user", "status", "attempts", "next_attempt_at", "last_error")
    list_filter = ("status", "is_test")
    readonly_fields = ("channel", "user", "notification", "is_test", "attempts", "created_at")
    inlines = (AttemptInline,)
