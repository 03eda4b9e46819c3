from django.urls import path

from spyglass.projects import org_settings_views as org_settings
from spyglass.projects import settings_views as project_settings
from spyglass.projects import setup_views, views

app_name = "projects"
P = "<org:org_slug>/<slug:project_slug>/"
S = P + "settings/"
O = "<org:org_slug>/settings/"  # noqa: E741
urlpatterns = [
    path("", views.home, name="home"),
    path("<org:org_slug>/", views.organization, name="organization"),
    # The organization's settings come before its projects' paths ("settings" is reserved).
    path(O, org_settings.index, name="org_settings"),
    path(O + "members/", org_settings.members, name="org_settings_members"),
    path(
        O + "members/<int:member_id>/role/",
        org_settings.member_role,
        name="org_settings_member_role",
    ),
    path(
        O + "members/<int:member_id>/remove/",
        org_settings.member_remove,
        name="org_settings_member_remove",
    ),
    path(O + "teams/", org_settings.teams, name="org_settings_teams"),
    path(O + "teams/<slug:team_slug>/", org_settings.team, name="org_settings_team"),
    path(
        O + "teams/<slug:team_slug>/delete/",
        org_settings.team_delete,
        name="org_settings_team_delete",
    ),
    path(O + "projects/", org_settings.projects, name="org_settings_projects"),
    # A project: its setup page until the first event, then the issue stream.
    path(P, setup_views.project_home, name="project"),
    path(P + "first-event.json", setup_views.first_event, name="first_event"),
    path(S, project_settings.general, name="settings"),
    path(S + "keys/", project_settings.keys, name="settings_keys"),
    path(S + "keys/<int:key_id>/", project_settings.key_edit, name="settings_key_edit"),
    path(
        S + "keys/<int:key_id>/<str:action>/",
        project_settings.key_action,
        name="settings_key_action",
    ),
    path(S + "filters/", project_settings.filters, name="settings_filters"),
    path(S + "scrubbing/", project_settings.scrubbing, name="settings_scrubbing"),
    path(S + "rules/", project_settings.rules, name="settings_rules"),
    path(S + "teams/", project_settings.teams, name="settings_teams"),
    path(S + "delete/", project_settings.delete, name="settings_delete"),
]
