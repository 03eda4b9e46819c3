from django.contrib import admin
from django.urls import include, path, register_converter

from spyglass.lib.lazyurls import LazyInclude
from spyglass.web.converters import OrganizationSlug

register_converter(OrganizationSlug, "org")

# Fixed prefixes first: an organization's pages live at /<org slug>/ below them.
urlpatterns = [
    path("admin/", admin.site.urls),
    # django-ninja is imported on the first API request (see spyglass/lib/lazyurls.py).
    LazyInclude("api/0/", "spyglass.api.urls", app_name="ninja", namespace="api"),
    path("accounts/", include("spyglass.accounts.urls")),
    path("manage/", include("spyglass.queue.urls")),
    path("", include("spyglass.notifications.urls")),
    path("", include("spyglass.issues.urls")),
    path("", include("spyglass.savedsearches.urls")),
    path("", include("spyglass.alerts.urls")),
    path("", include("spyglass.projects.urls")),
    path("", include("spyglass.performance.urls")),
]
