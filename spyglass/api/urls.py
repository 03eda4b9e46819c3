"""The URL patterns of /api/0/ (imported on first use: see spyglass/lib/lazyurls.py)."""

from spyglass.api.app import api

urlpatterns = api.urls[0]
