"""Errors answered to SDKs, as Relay answers them: status, ``{"detail": …}``, X-Sentry-Error."""

from __future__ import annotations


class IngestError(Exception):
    status = 400

    def __init__(self, detail: str, *, status: int | None = None, retry_after: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.retry_after = retry_after
        self.rate_limits: str | None = None


class BadRequest(IngestError):
    status = 400


class Unauthorized(IngestError):
    status = 401


class Forbidden(IngestError):
    status = 403


class PayloadTooLarge(IngestError):
    status = 413


class UnsupportedMediaType(IngestError):
    status = 415


class TooManyRequests(IngestError):
    status = 429
