"""A namespaced URL include whose patterns are imported when first needed.

django-ninja and pydantic cost ≈ 15 MB in every web process that imports them, and most web
processes only ever serve SDKs and pages, so /api/0/ is included lazily. Django imports a
resolver's urlconf (given by dotted name) when it first resolves a path below it or when its
namespace is first reversed; only ``_populate``, which Django calls on every resolver when any
URL is reversed, would import it early. For a namespaced include the parent needs nothing from
that (it keeps the namespace and reverses into it later), so it waits for the import.
"""

from __future__ import annotations

from django.urls import URLResolver
from django.urls.resolvers import RoutePattern


class LazyInclude(URLResolver):
    def __init__(self, route: str, urlconf: str, *, app_name: str, namespace: str) -> None:
        super().__init__(
            RoutePattern(route, is_endpoint=False), urlconf, app_name=app_name, namespace=namespace
        )

    @property
    def imported(self) -> bool:
        return "urlconf_module" in self.__dict__  # Django's cached_property, once imported

    def _populate(self) -> None:
        if self.imported:
            super()._populate()
