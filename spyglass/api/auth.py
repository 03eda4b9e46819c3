"""Bearer tokens (``Authorization: Bearer sntryu_…``): the SHA-256 of the token is looked up
in ApiToken; an unknown, expired or inactive user's token is a 401. The request then runs as
the token's user (``request.user``), so the web UI's access rules (spyglass.projects.access)
apply unchanged. Each router is mounted with the scope resource it reads (``event`` for
issues and events): a token without ``<resource>:read``, ``:write`` or ``:admin`` is a 403."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer

from spyglass.accounts.models import ApiToken, hash_token
from spyglass.lib.restapi import ApiError

# last_used_at is written at most this often per token (a write per request would not do).
LAST_USED_RESOLUTION = timedelta(minutes=1)
NO_PERMISSION = "You do not have permission to perform this action."


class TokenAuth(HttpBearer):
    def __init__(self, resource: str | None = None) -> None:
        super().__init__()
        self.resource = resource

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        if not token or len(token) > 200:
            raise ApiError(401, "Invalid token")
        row = ApiToken.objects.select_related("user").filter(token_hash=hash_token(token)).first()
        now = timezone.now()
        if row is None or not row.user.is_active:
            raise ApiError(401, "Invalid token")
        if row.expires_at is not None and row.expires_at <= now:
            raise ApiError(401, "Token expired")
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        if self.resource is not None and not has_scope(row, self.resource):
            raise ApiError(403, NO_PERMISSION)
        request.user = row.user
        return row


def has_scope(token: ApiToken, resource: str) -> bool:
    """Whether the token holds ``<resource>:read`` or a stronger scope of it."""
    return bool(set(token.scopes) & {f"{resource}:{level}" for level in ("read", "write", "admin")})
