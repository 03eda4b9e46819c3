"""The sign-in form (Django's, plus the failed sign-in rate limit) and the profile form."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from spyglass.accounts import ratelimit
from spyglass.accounts.models import ALL_SCOPES, User


class SignInForm(AuthenticationForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].label = "Email"
        self.fields["username"].widget = forms.EmailInput(
            attrs={"autofocus": True, "autocomplete": "email"}
        )

    def clean(self) -> dict[str, Any]:
        email = self.data.get("username", "")
        ip = ratelimit.client_ip(self.request) if self.request else ""
        wait = ratelimit.blocked_for(ip, str(email))
        if wait:
            minutes = max(1, round(wait / 60))
            raise forms.ValidationError(
                f"Too many failed sign-in attempts. Try again in {minutes} "
                f"minute{'s' if minutes != 1 else ''}, or reset your password.",
                code="rate_limited",
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            ratelimit.record_failure(ip, str(email))
            raise
        ratelimit.clear(ip, str(email))
        return cleaned


def _zone_choices() -> list[tuple[str, str]]:
    return [("", "UTC (default)"), *((z, z) for z in sorted(zoneinfo.available_timezones()))]


class ProfileForm(forms.ModelForm[User]):
    time_zone = forms.ChoiceField(
        choices=_zone_choices,
        required=False,
        help_text="Times on every page are shown in this zone.",
    )

    class Meta:
        model = User
        fields = ("name", "email", "time_zone")
        help_texts = {"email": "You sign in with it; password resets go to it."}

    # The address receives password resets: changing it takes the password, so that a
    # borrowed session can't take the account over.
    current_password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed only to change your email address.",
    )

    def clean_email(self) -> str:
        email = str(self.cleaned_data["email"]).strip().lower()
        if User.objects.filter(email=email).exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError("Another account uses this address.")
        return email

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        email = cleaned.get("email")
        changed = email is not None and email != self.instance.email
        if changed and not self.instance.check_password(cleaned.get("current_password") or ""):
            self.add_error("current_password", "Type your password to change your email address.")
        return cleaned


SCOPE_CHOICES = [(scope, scope) for scope in ALL_SCOPES]
DEFAULT_SCOPES = ("org:read", "project:read", "project:releases", "event:read")


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text="What the token is for: “CI releases”."
    )
    scopes = forms.MultipleChoiceField(
        choices=SCOPE_CHOICES,
        initial=DEFAULT_SCOPES,
        widget=forms.CheckboxSelectMultiple,
        help_text="Sentry's scopes: a token can do what its scopes and your role both allow.",
    )
