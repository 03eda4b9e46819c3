from django.contrib import admin

from spyglass.projects.models import Organization, Project, ProjectKey


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin[Organization]):
    list_display = ("slug", "name", "created_at")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    list_display = ("slug", "organization", "platform", "created_at")


@admin.register(ProjectKey)
class ProjectKeyAdmin(admin.ModelAdmin[ProjectKey]):
    list_display = ("public_key", "project", "is_active", "rate_limit_count", "rate_limit_window")
