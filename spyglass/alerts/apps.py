from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "spyglass.alerts"
    label = "alerts"

    def ready(self) -> None:
        # Issue alerts run after each digest batch commits.
        from spyglass.alerts import hooks  # noqa: F401
