"""Send the queue's tables to the queue database and everything else to the default one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import Model

QUEUE_APP = "queue"


def queue_alias() -> str:
    alias: str = settings.QUEUE_DATABASE
    return alias


class QueueRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return queue_alias() if model._meta.app_label == QUEUE_APP else "default"

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return queue_alias() if model._meta.app_label == QUEUE_APP else "default"

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        if app_label == QUEUE_APP:
            return db == queue_alias()
        return db == "default"
