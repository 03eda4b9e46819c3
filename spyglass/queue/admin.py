from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path

from spyglass.queue import dead_letters, views
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
    """The queue, and the envelopes the digest set aside with their last error.

    The status page (``status/``, linked from the changelist and the admin index) shows
    depth, age and throughput, and retries or discards what was set aside."""

    list_display = ("id", "project_id", "event_id", "attempts", "failed_at", "last_error")
    list_filter = (FailedFilter,)
    exclude = ("body",)
    readonly_fields = ("project_id", "key_id", "received_at", "event_id", "last_error")
    actions = ("retry_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # envelopes come from the ingest edge, never from a form

    def get_urls(self) -> list[URLPattern]:
        def status(request: HttpRequest) -> HttpResponse:
            return views.status_page(request, self)

        own = [
            path(
                "status/",
                self.admin_site.admin_view(status),
                name=f"{self.opts.app_label}_{self.opts.model_name}_status",
            )
        ]
        return own + super().get_urls()  # before the catch-all `<object_id>/`

    @admin.action(description="Retry selected set-aside envelopes", permissions=["change"])
    def retry_selected(self, request: HttpRequest, queryset: QuerySet[QueuedEnvelope]) -> None:
        done = dead_letters.retry(list(queryset.values_list("id", flat=True)))
        self.message_user(
            request, f"{done} set-aside envelope(s) sent back to the queue.", messages.SUCCESS
        )
