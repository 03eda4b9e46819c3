"""A channel's form, built from its kind's config fields."""

from __future__ import annotations

from typing import Any

from django import forms

from spyglass.notifications.base import Kind
from spyglass.notifications.models import Channel, NotificationPreference


def _config_field(spec: Any, editing: bool, is_secret: bool) -> forms.Field:
    help_text = spec.help
    required = spec.required
    if is_secret and editing:
        required = False
        help_text = f"{help_text} Leave empty to keep the current value.".strip()
    if spec.type == "bool":
        return forms.BooleanField(label=spec.label, required=False, help_text=help_text)
    if spec.type == "choice":
        return forms.ChoiceField(
            label=spec.label, choices=spec.choices, required=False, help_text=help_text
        )
    widget: forms.Widget
    if is_secret:
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"})
    elif spec.type == "url":
        widget = forms.URLInput(attrs={"placeholder": "https://"})
    elif spec.type == "emails":
        widget = forms.Textarea(attrs={"rows": 2})
    else:
        widget = forms.TextInput()
    # Validation is the kind's (clean_config), so the API and the page refuse the same things.
    return forms.CharField(
        label=spec.label, required=required, help_text=help_text, widget=widget, strip=True
    )


def channel_form(kind: Kind, data: Any = None, channel: Channel | None = None) -> forms.Form:
    fields: dict[str, forms.Field] = {
        "name": forms.CharField(label="Name", max_length=200),
        "slug": forms.SlugField(
            label="Slug",
            max_length=50,
            required=False,
            help_text="How alert rules and the API name this channel. Empty: made from the name.",
        ),
    }
    for spec in kind.fields:
        fields[f"config_{spec.name}"] = _config_field(
            spec, channel is not None, spec.name in kind.secret_fields
        )
    form_class = type("ChannelForm", (forms.Form,), fields)
    initial: dict[str, Any] = {}
    if channel is not None:
        initial = {"name": channel.name, "slug": channel.slug}
        for spec in kind.fields:
            if spec.name in kind.secret_fields:
                continue
            value = channel.config.get(spec.name, "")
            initial[f"config_{spec.name}"] = ", ".join(value) if isinstance(value, list) else value
    form: forms.Form = form_class(data=data, initial=initial)
    return form


def config_from(form: forms.Form, kind: Kind) -> dict[str, Any]:
    return {spec.name: form.cleaned_data.get(f"config_{spec.name}") for spec in kind.fields}


class PreferencesForm(forms.ModelForm[NotificationPreference]):
    class Meta:
        model = NotificationPreference
        fields = ["assigned", "regression", "comment"]
        labels = {
            "assigned": "An issue is assigned to me",
            "regression": "An issue I follow regresses",
            "comment": "Someone comments on an issue I follow",
        }
