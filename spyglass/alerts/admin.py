from django.contrib import admin

from spyglass.alerts.models import Incident, MetricRule, Rule, RuleFire


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin[Rule]):
    list_display = ("id", "project", "name", "frequency", "muted_until", "last_fired_at")
    list_filter = ("project",)
    search_fields = ("name",)


@admin.register(RuleFire)
class RuleFireAdmin(admin.ModelAdmin[RuleFire]):
    list_display = ("id", "rule", "issue", "fired_at")
    raw_id_fields = ("rule", "issue")


@admin.register(MetricRule)
class MetricRuleAdmin(admin.ModelAdmin[MetricRule]):
    list_display = ("id", "organization", "name", "dataset", "aggregate", "time_window")
    search_fields = ("name",)


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin[Incident]):
    list_display = ("id", "organization", "identifier", "title", "status", "started_at")
    list_filter = ("status",)
    raw_id_fields = ("rule",)
