from django.urls import path

from spyglass.events import views as event_views
from spyglass.issues import triage, views

app_name = "issues"
urlpatterns = [
    path("<org:org_slug>/issues/", triage.organization_stream, name="organization_stream"),
    path("<org:org_slug>/issues/bulk/", triage.organization_bulk, name="organization_bulk"),
    path("<org:org_slug>/<slug:project_slug>/issues/", views.stream, name="stream"),
    path("<org:org_slug>/<slug:project_slug>/issues/bulk/", views.bulk, name="bulk"),
    path("<org:org_slug>/<slug:project_slug>/issues/<int:number>/", views.detail, name="detail"),
    path("<org:org_slug>/<slug:project_slug>/issues/<int:number>/act/", triage.act, name="act"),
    path(
        "<org:org_slug>/<slug:project_slug>/issues/<int:number>/delete/",
        triage.delete,
        name="delete",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/issues/<int:number>/similar/",
        triage.similar,
        name="similar",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/issues/<int:number>/tags/<path:key>/",
        triage.tag_values,
        name="tag_values",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/issues/<int:number>/events/",
        views.events,
        name="events",
    ),
    path(
        "<org:org_slug>/<slug:project_slug>/issues/<int:number>/events/<str:event_id>/json/",
        event_views.raw,
        name="event_json",
    ),
]
