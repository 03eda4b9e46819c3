from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "spyglass.accounts"
    label = "accounts"
