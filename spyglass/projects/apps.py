from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "spyglass.projects"
    label = "projects"
