from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "spyglass.notifications"
    label = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from spyglass.notifications import workflow

        workflow.connect()
