"""The /api/0/ application: routers from the domains, token auth on every endpoint, and
every error answered as Sentry does, ``{"detail": "…"}`` (never an HTML page, never a 500
for bad input). The OpenAPI spec is served at /api/0/openapi.json."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from spyglass.api.auth import TokenAuth
from spyglass.lib.restapi import NOT_FOUND, ApiError

api = NinjaAPI(
    title="Spyglass API",
    version="0",
    description="Sentry-compatible REST API. Authenticate with `Authorization: Bearer <token>` "
    "(`spyglass token create`).",
    auth=TokenAuth(),
    urls_namespace="api",
    docs_url=None,  # the interactive docs load scripts from a CDN, which the CSP forbids
    openapi_url="/openapi.json",
)


def _detail(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


@api.exception_handler(ApiError)
def _api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    response = _detail(request, exc.status, exc.detail)
    if exc.status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _detail(request, 401, "Authentication credentials were not provided.")
    response["WWW-Authenticate"] = "Bearer"
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _detail(request, 404, NOT_FOUND)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
    return _detail(request, 400, f"Invalid {where}: {first.get('msg', 'invalid value')}")


def _register() -> None:
    from spyglass.alerts.api import router as alerts_router
    from spyglass.events.api import router as events_router
    from spyglass.issues.api import router as issues_router
    from spyglass.notifications.api import router as channels_router
    from spyglass.performance.api import router as discover_router

    api.add_router("", issues_router, auth=TokenAuth("event"))
    api.add_router("", events_router, auth=TokenAuth("event"))
    api.add_router("", alerts_router, auth=TokenAuth("alerts"))
    api.add_router("", channels_router, auth=TokenAuth("alerts"))
    api.add_router("", discover_router, auth=TokenAuth("event"))


_register()
urls = api.urls
