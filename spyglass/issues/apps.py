from django.apps import AppConfig


class IssuesConfig(AppConfig):
    name = "spyglass.issues"
    label = "issues"

    def ready(self) -> None:
        from spyglass.issues import signals  # noqa: F401  (connects the activity hook)
