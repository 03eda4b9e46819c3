from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from spyglass.queue.models import QueuedEnvelope


class FailedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("failed", "set aside (failed)"), ("waiting", "waiting")]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[QueuedEnvelope]
    ) -> QuerySet[QueuedEnvelope]:
        if self.value() == "failed":
            return queryset.filter(failed_at__isnull=False)
        if self.value() == "waiting":
            return queryset.filter(failed_at__isnull=True)
        return queryset


@admin.register(QueuedEnvelope)
class QueuedEnvelopeAdmin(admin.ModelAdmin[QueuedEnvelope]):
    """The queue, and the envelopes the digest set aside with their last error."""

    list_display = ("id", "project_id", "event_id", "attempts", "failed_at", "last_error")
    list_filter = (FailedFilter,)
    exclude = ("body",)
    readonly_fields = ("project_id", "key_id", "received_at", "event_id", "last_error")
