from django.urls import path

from spyglass.perfissues import views as settings_views
from spyglass.performance import views

app_name = "performance"
urlpatterns = [
    path("<org:org_slug>/<slug:project_slug>/performance/", views.overview, name="overview"),
    path(
        "<org:org_slug>/<slug:project_slug>/performance/summary/",
        views.summary,
        name="summary",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/performance/vitals/",
        views.vitals,
        name="vitals",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/performance/events/<str:event_id>/",
        views.event,
        name="event",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/performance/events/<str:event_id>/json/",
        views.event_json,
        name="event_json",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/performance/settings/",
        settings_views.detector_settings,
        name="settings",
    ),
    path("<org:org_slug>/traces/<str:trace_id>/", views.trace, name="trace"),
]
