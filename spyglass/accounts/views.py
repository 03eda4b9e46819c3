"""Sign in and out, password change and reset (Django's views with our templates), and the
user's settings: profile, password, personal API tokens."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST

from spyglass.accounts.forms import ProfileForm, SignInForm, TokenForm
from spyglass.accounts.models import ApiToken, User
from spyglass.accounts.nav import user_settings_nav

sign_in = auth.LoginView.as_view(
    template_name="accounts/sign_in.html",
    authentication_form=SignInForm,
    redirect_authenticated_user=True,
)
sign_out = auth.LogoutView.as_view()


class PasswordChangeView(auth.PasswordChangeView):
    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change_done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "settings_nav": user_settings_nav("password")}


password_change = PasswordChangeView.as_view()
password_change_done = auth.PasswordChangeDoneView.as_view(
    template_name="accounts/password_change_done.html"
)
# Links in the email are built from SPYGLASS_BASE_URL, never from the request's Host header.
password_reset = auth.PasswordResetView.as_view(
    template_name="accounts/password_reset.html",
    email_template_name="accounts/password_reset_email.txt",
    subject_template_name="accounts/password_reset_subject.txt",
    success_url=reverse_lazy("accounts:password_reset_done"),
    extra_email_context={"base_url": settings.BASE_URL},
)
password_reset_done = auth.PasswordResetDoneView.as_view(
    template_name="accounts/password_reset_done.html"
)
password_reset_confirm = auth.PasswordResetConfirmView.as_view(
    template_name="accounts/password_reset_confirm.html",
    success_url=reverse_lazy("accounts:password_reset_complete"),
)
password_reset_complete = auth.PasswordResetCompleteView.as_view(
    template_name="accounts/password_reset_complete.html"
)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User), "behind login_required"
    return user


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The user's own name, email address and time zone."""
    form = ProfileForm(request.POST or None, instance=_user(request))
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your settings are saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "settings_nav": user_settings_nav("profile")},
    )


@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    """Personal API tokens: the list, and (POST) a new one, whose value is shown once, on
    this response only (never stored, never put in the session)."""
    user = _user(request)
    form = TokenForm(request.POST if request.method == "POST" else None)
    created: str | None = None
    if request.method == "POST" and form.is_valid():
        _token, created = ApiToken.issue(
            user, scopes=tuple(form.cleaned_data["scopes"]), name=form.cleaned_data["name"]
        )
        form = TokenForm()
    response = render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "created": created,
            "rows": ApiToken.objects.filter(user=user).order_by("-created_at", "-id"),
            "settings_nav": user_settings_nav("tokens"),
        },
    )
    if created:
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    deleted, _ = ApiToken.objects.filter(user=_user(request), pk=token_id).delete()
    if not deleted:
        raise Http404("No such token")
    messages.success(request, "Token revoked: requests with it are refused from now on.")
    return redirect("accounts:tokens")
