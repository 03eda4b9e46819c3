"""Spyglass: a self-hosted, Sentry-compatible error tracking and performance monitoring server."""

__version__ = "0.1.0.dev0"
