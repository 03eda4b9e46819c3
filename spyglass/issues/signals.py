"""The ``issue_activity`` signal: sent once per recorded Activity, after its transaction
commits, with ``activity=<Activity>`` (workflow notifications subscribe to it).

Record activities with :func:`record`. Activities created any other way (``Activity.objects.
create`` in the digest) send it too, through the ``post_save`` hook below; ``bulk_create``
does not (Django sends no ``post_save`` for it), so don't use it for activities.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal, receiver

from spyglass.accounts.models import User
from spyglass.issues.models import Activity, Issue

issue_activity = Signal()  # kwargs: activity


def record(issue: Issue, kind: str, user: User | None = None, /, **data: object) -> Activity:
    """Record what happened to ``issue``; ``issue_activity`` follows after commit."""
    return Activity.objects.create(issue=issue, kind=kind, user=user, data=data)


@receiver(post_save, sender=Activity, dispatch_uid="spyglass.issues.activity_signal")
def _send_after_commit(sender: type[Activity], instance: Activity, created: bool, **_: Any) -> None:
    if not created:
        return
    transaction.on_commit(
        lambda: issue_activity.send(sender=Activity, activity=instance), robust=True
    )
