"""A project's own address, `/<org>/<project>/`: the issue stream once the project has
issues; before that, how to send the first event (SDK snippets with the project's real DSN)
and a page that notices the first event without a reload (``setup.js`` polls
``first-event.json``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from spyglass.issues.models import Issue
from spyglass.projects.access import can_write, get_project
from spyglass.projects.models import Project


def _first_issue(project: Project) -> Issue | None:
    return Issue.objects.filter(project=project).order_by("id").only("id", "number").first()


def snippets(dsn: str) -> list[dict[str, str]]:
    """Setup for the SDKs most of our users run; the DSN is the only project-specific part."""
    return [
        {
            "id": "python",
            "name": "Python",
            "install": "pip install --upgrade sentry-sdk",
            "code": (
                "import sentry_sdk\n\n"
                "sentry_sdk.init(\n"
                f'    dsn="{dsn}",\n'
                "    traces_sample_rate=1.0,\n"
                ")\n\n"
                "division_by_zero = 1 / 0"
            ),
        },
        {
            "id": "javascript",
            "name": "JavaScript (browser)",
            "install": "npm install --save @sentry/browser",
            "code": (
                'import * as Sentry from "@sentry/browser";\n\n'
                "Sentry.init({\n"
                f'  dsn: "{dsn}",\n'
                "  integrations: [Sentry.browserTracingIntegration()],\n"
                "  tracesSampleRate: 1.0,\n"
                "});\n\n"
                'throw new Error("My first Spyglass error");'
            ),
        },
        {
            "id": "node",
            "name": "Node.js",
            "install": "npm install --save @sentry/node",
            "code": (
                "// instrument.js, required before anything else\n"
                'const Sentry = require("@sentry/node");\n\n'
                "Sentry.init({\n"
                f'  dsn: "{dsn}",\n'
                "  tracesSampleRate: 1.0,\n"
                "});\n\n"
                'Sentry.captureException(new Error("My first Spyglass error"));'
            ),
        },
        {
            "id": "go",
            "name": "Go",
            "install": "go get github.com/getsentry/sentry-go",
            "code": (
                "package main\n\n"
                'import (\n\t"errors"\n\t"log"\n\t"time"\n\n'
                '\t"github.com/getsentry/sentry-go"\n)\n\n'
                "func main() {\n"
                "\terr := sentry.Init(sentry.ClientOptions{\n"
                f'\t\tDsn: "{dsn}",\n'
                "\t})\n"
                "\tif err != nil {\n"
                '\t\tlog.Fatalf("sentry.Init: %s", err)\n'
                "\t}\n"
                "\tdefer sentry.Flush(2 * time.Second)\n\n"
                '\tsentry.CaptureException(errors.New("my first Spyglass error"))\n'
                "}"
            ),
        },
    ]


@login_required
def project_home(request: HttpRequest, org_slug: str, project_slug: str) -> HttpResponse:
    project, member = get_project(request, org_slug, project_slug)
    if _first_issue(project) is not None:
        return redirect("issues:stream", project.organization.slug, project.slug)
    key = project.default_key()
    return render(
        request,
        "projects/setup.html",
        {
            "organization": project.organization,
            "project": project,
            "key": key,
            "snippets": snippets(key.dsn) if key else [],
            "can_write": can_write(member),
            "poll_url": reverse("projects:first_event", args=(org_slug, project.slug)),
        },
    )


@login_required
def first_event(request: HttpRequest, org_slug: str, project_slug: str) -> JsonResponse:
    """`{"received": false}` until the project's first issue exists, then its address."""
    project, _member = get_project(request, org_slug, project_slug)
    issue = _first_issue(project)
    if issue is None:
        return JsonResponse({"received": False})
    return JsonResponse(
        {
            "received": True,
            "issueUrl": reverse(
                "issues:detail", args=(project.organization.slug, project.slug, issue.number)
            ),
            "streamUrl": reverse("issues:stream", args=(project.organization.slug, project.slug)),
        }
    )
