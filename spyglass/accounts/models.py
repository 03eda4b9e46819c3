"""Users (email is the login) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

# Every scope Sentry knows for user auth tokens; `spyglass token create` grants them all.
ALL_SCOPES = (
    "org:read",
    "org:write",
    "org:admin",
    "org:integrations",
    "member:read",
    "member:write",
    "member:admin",
    "team:read",
    "team:write",
    "team:admin",
    "project:read",
    "project:write",
    "project:admin",
    "project:releases",
    "event:read",
    "event:write",
    "event:admin",
    "alerts:read",
    "alerts:write",
)


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("an email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Sign-in: addresses are stored in lower case (create_user), typed any way.
        return self.get(email=(username or "").strip().lower())

    async def aget_by_natural_key(self, username: str | None) -> User:
        return await self.aget(email=(username or "").strip().lower())

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # An IANA zone name (Europe/Berlin); pages show times in it. Empty: UTC.
    time_zone = models.CharField(max_length=64, blank=True, default="")

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email


class SignInFailure(models.Model):
    """A failed sign-in, kept for the rate limit's window (spyglass/accounts/ratelimit.py)."""

    # sha256 of "ip|email" and of "ip|" (hashed: no typed addresses or passwords kept).
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["key", "created_at"], name="sign_in_failure_key")]

    def __str__(self) -> str:
        return f"sign-in failure {self.key[:8]} at {self.created_at}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for /api/0/. Only its hash is stored; the token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=200, blank=True)
    token_hash = models.CharField(max_length=64, unique=True)
    token_last_characters = models.CharField(max_length=4)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"token …{self.token_last_characters} of {self.user}"

    @classmethod
    def issue(
        cls, user: User, *, scopes: tuple[str, ...] = ALL_SCOPES, name: str = ""
    ) -> tuple[ApiToken, str]:
        """Create a token; return the row and the plain token (never stored)."""
        plain = "sntryu_" + secrets.token_hex(32)
        token = cls.objects.create(
            user=user,
            name=name,
            token_hash=hash_token(plain),
            token_last_characters=plain[-4:],
            scopes=list(scopes),
        )
        return token, plain
