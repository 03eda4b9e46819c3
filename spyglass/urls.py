from django.contrib import admin
from django.urls import include, path

# Fixed prefixes first: an organization's pages live at /<org slug>/ below them.
urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("spyglass.accounts.urls")),
    path("", include("spyglass.issues.urls")),
    path("", include("spyglass.projects.urls")),
]
