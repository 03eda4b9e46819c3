from django.urls import path

from spyglass.savedsearches import views

app_name = "savedsearches"
PREFIX = "<org:org_slug>/<slug:project_slug>/searches/"
urlpatterns = [
    path(PREFIX + "save/", views.save, name="save"),
    path(PREFIX + "autocomplete/", views.autocomplete, name="autocomplete"),
    path(PREFIX + "<int:search_id>/delete/", views.delete, name="delete"),
    path(PREFIX + "<int:search_id>/pin/", views.pin, name="pin"),
]
