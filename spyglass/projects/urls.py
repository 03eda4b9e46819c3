from django.urls import path

from spyglass.projects import views

app_name = "projects"
urlpatterns = [
    path("", views.home, name="home"),
    path("<org:org_slug>/", views.organization, name="organization"),
]
