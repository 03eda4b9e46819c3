from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spyglass.core"
    label = "core"
    verbose_name = "Spyglass"

    def ready(self) -> None:
        from spyglass import checks  # noqa: F401  (registers the system checks)
