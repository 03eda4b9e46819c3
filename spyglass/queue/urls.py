from django.urls import path

from spyglass.queue import status_views

app_name = "manage"
urlpatterns = [path("status/", status_views.status, name="status")]
