from django.apps import AppConfig


class PerfIssuesConfig(AppConfig):
    name = "spyglass.perfissues"
    label = "perfissues"
    verbose_name = "Performance issues"

    def ready(self) -> None:
        from spyglass.digest import hooks
        from spyglass.perfissues.hook import detect_after_commit

        hooks.register(detect_after_commit)
