from django.contrib import admin

from spyglass.issues.models import Issue


@admin.register(Issue)
class IssueAdmin(admin.ModelAdmin[Issue]):
    list_display = ("id", "project", "title", "status", "substatus", "times_seen", "last_seen")
    list_filter = ("status", "substatus", "project")
    search_fields = ("title", "culprit")
    exclude = ("metadata",)
