from django.apps import AppConfig


class PerfIssuesConfig(AppConfig):
    name = "spyglass.perfissues"
    label = "perfissues"
    verbose_name = "Performance issues"

    def ready(self) -> None:
        from spyglass.digest import hooks

        hooks.register_lazy("spyglass.perfissues.hook:detect_after_commit")
