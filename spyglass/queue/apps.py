from django.apps import AppConfig


class QueueConfig(AppConfig):
    name = "spyglass.queue"
    label = "queue"
