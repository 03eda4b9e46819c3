"""Channels, deliveries and workflow email.

Callers build a ``Notification`` (``spyglass.notifications.message``) and enqueue it with
``send(channel, notification)`` or ``email_users(user_ids, notification)`` from
``spyglass.notifications.send``; the worker delivers it (``spyglass.notifications.outbox``).
"""

from spyglass.notifications.message import Notification

__all__ = ["Notification"]
