from django.urls import path

from spyglass.savedsearches import views

app_name = "savedsearches"
PREFIX = "<org:org_slug>/<slug:project_slug>/searches/"
ORG_PREFIX = "<org:org_slug>/searches/"
urlpatterns = [
    path(PREFIX + "save/", views.save, name="save"),
    path(PREFIX + "autocomplete/", views.autocomplete, name="autocomplete"),
    path(PREFIX + "<int:search_id>/delete/", views.delete, name="delete"),
    path(PREFIX + "<int:search_id>/pin/", views.pin, name="pin"),
    # the organization's stream (all its projects): the same, over every project
    path(ORG_PREFIX + "save/", views.save, name="org_save"),
    path(ORG_PREFIX + "autocomplete/", views.autocomplete, name="org_autocomplete"),
    path(ORG_PREFIX + "<int:search_id>/delete/", views.delete, name="org_delete"),
    path(ORG_PREFIX + "<int:search_id>/pin/", views.pin, name="org_pin"),
]
