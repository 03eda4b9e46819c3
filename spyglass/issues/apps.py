from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "spyglass.issues"
    label = "issues"
