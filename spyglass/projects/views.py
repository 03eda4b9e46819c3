"""Pages of organizations: the list of the user's organizations and an organization's home."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from spyglass.alerts.models import Incident
from spyglass.issues.series import hourly_by_project
from spyglass.issues.stream import latest_across
from spyglass.projects.access import get_membership, organizations_of, signed_in_user
from spyglass.projects.models import Project


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """`/`: straight to the only organization, else the list of them."""
    organizations = organizations_of(signed_in_user(request))
    if len(organizations) == 1:
        return redirect("projects:organization", organizations[0].slug)
    return render(request, "projects/home.html", {"organizations": organizations})


@login_required
def organization(request: HttpRequest, org_slug: str) -> HttpResponse:
    member = get_membership(request, org_slug)
    org = member.organization
    projects = list(Project.objects.filter(organization=org).order_by("name", "id"))
    series = hourly_by_project([p.id for p in projects])
    rows = [{"project": p, "series": series[p.id], "events": sum(series[p.id])} for p in projects]
    return render(
        request,
        "projects/organization.html",
        {
            "organization": org,
            "member": member,
            "rows": rows,
            "latest": latest_across([p.id for p in projects]),
            "open_incidents": Incident.objects.filter(
                organization=org, closed_at__isnull=True
            ).count(),
        },
    )
