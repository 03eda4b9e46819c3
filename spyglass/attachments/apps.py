from django.apps import AppConfig


class AttachmentsConfig(AppConfig):
    name = "spyglass.attachments"
    label = "attachments"
