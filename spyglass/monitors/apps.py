from django.apps import AppConfig


class MonitorsConfig(AppConfig):
    name = "spyglass.monitors"
    label = "monitors"
