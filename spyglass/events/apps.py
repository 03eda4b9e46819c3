from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "spyglass.events"
    label = "events"
