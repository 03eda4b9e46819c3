from django.contrib import admin
from django.http import HttpRequest

from spyglass.performance.models import ProjectPerformanceSettings, TransactionRollup


@admin.register(ProjectPerformanceSettings)
class ProjectPerformanceSettingsAdmin(admin.ModelAdmin[ProjectPerformanceSettings]):
    """A project's Apdex threshold (applies to transactions digested from then on)."""

    list_display = ("project", "apdex_threshold_ms")


@admin.register(TransactionRollup)
class TransactionRollupAdmin(admin.ModelAdmin[TransactionRollup]):
    """Read-only: the digest writes rollups, the retention job deletes them."""

    list_display = ("project", "name", "environment", "resolution", "bucket", "count", "failures")
    list_filter = ("resolution", "project")
    search_fields = ("name",)
    exclude = ("histogram", "users", "miserable_users")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
