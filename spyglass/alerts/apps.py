from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "spyglass.alerts"
    label = "alerts"

    def ready(self) -> None:
        from spyglass.digest import hooks

        # Issue alerts run after each digest batch commits.
        hooks.register_lazy("spyglass.alerts.hooks:evaluate_issue_alerts")
