from django.apps import AppConfig


class FeedbackConfig(AppConfig):
    name = "spyglass.feedback"
    label = "feedback"
