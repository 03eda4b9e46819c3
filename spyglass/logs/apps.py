from django.apps import AppConfig


class LogsConfig(AppConfig):
    name = "spyglass.logs"
    label = "logs"
