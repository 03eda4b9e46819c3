from django.urls import path

from spyglass.alerts import views

app_name = "alerts"
P = "<org:org_slug>/<slug:project_slug>/alerts/"
urlpatterns = [
    path(P, views.rules, name="rules"),
    path(P + "new/", views.issue_rule_new, name="issue_rule_new"),
    path(P + "<int:rule_id>/", views.issue_rule, name="issue_rule"),
    path(P + "<int:rule_id>/edit/", views.issue_rule_edit, name="issue_rule_edit"),
    path(P + "<int:rule_id>/mute/", views.issue_rule_mute, name="issue_rule_mute"),
    path(P + "<int:rule_id>/delete/", views.issue_rule_delete, name="issue_rule_delete"),
    path(P + "metric/new/", views.metric_rule_new, name="metric_rule_new"),
    path(P + "metric/<int:rule_id>/", views.metric_rule, name="metric_rule"),
    path(P + "metric/<int:rule_id>/edit/", views.metric_rule_edit, name="metric_rule_edit"),
    path(P + "metric/<int:rule_id>/mute/", views.metric_rule_mute, name="metric_rule_mute"),
    path(P + "metric/<int:rule_id>/delete/", views.metric_rule_delete, name="metric_rule_delete"),
    path("<org:org_slug>/alerts/incidents/", views.incidents, name="incidents"),
    path("<org:org_slug>/alerts/incidents/<int:identifier>/", views.incident, name="incident"),
]
