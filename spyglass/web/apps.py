from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "spyglass.web"
    label = "web"
    verbose_name = "Web UI"
