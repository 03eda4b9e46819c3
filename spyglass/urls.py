from django.contrib import admin
from django.urls import include, path, register_converter

from spyglass.api.app import urls as api_urls
from spyglass.web.converters import OrganizationSlug

register_converter(OrganizationSlug, "org")

# Fixed prefixes first: an organization's pages live at /<org slug>/ below them.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/0/", api_urls),
    path("accounts/", include("spyglass.accounts.urls")),
    path("", include("spyglass.issues.urls")),
    path("", include("spyglass.projects.urls")),
]
