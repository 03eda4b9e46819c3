"""The Sentry-compatible REST API at /api/0/ (django-ninja): token auth, errors in Sentry's
``{"detail": …}`` shape, cursor pagination in ``Link`` headers. Each domain's endpoints live
in its own ``<app>/api.py``; this package assembles them."""
