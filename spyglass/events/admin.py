from django.contrib import admin
from django.http import HttpRequest

from spyglass.events.models import CompressionDictionary, Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    list_display = ("event_id", "project", "issue", "title", "timestamp", "has_processing_errors")
    list_filter = ("has_processing_errors", "level", "project")
    exclude = ("body",)
    raw_id_fields = ("issue",)


@admin.register(CompressionDictionary)
class CompressionDictionaryAdmin(admin.ModelAdmin[CompressionDictionary]):
    """Read-only: event bodies name their dictionary, deleting one would lose them."""

    list_display = ("dict_id", "project", "created_at", "size", "sample_events")
    list_filter = ("project",)
    exclude = ("data",)

    @admin.display(description="bytes")
    def size(self, obj: CompressionDictionary) -> int:
        return len(obj.data)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: CompressionDictionary | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: CompressionDictionary | None = None
    ) -> bool:
        return False
