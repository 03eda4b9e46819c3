from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    name = "spyglass.releases"
    label = "releases"
