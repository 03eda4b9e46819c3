from django.contrib import admin

from spyglass.events.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin[Event]):
    list_display = ("event_id", "project", "issue", "title", "timestamp", "has_processing_errors")
    list_filter = ("has_processing_errors", "level", "project")
    exclude = ("body",)
    raw_id_fields = ("issue",)
