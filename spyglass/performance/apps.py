from django.apps import AppConfig


class PerformanceConfig(AppConfig):
    name = "spyglass.performance"
    label = "performance"
