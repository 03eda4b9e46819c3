"""Errors the API answers with, in Sentry's shape: ``{"detail": "…"}``."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BadRequest(ApiError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)


NOT_FOUND = "The requested resource does not exist"
