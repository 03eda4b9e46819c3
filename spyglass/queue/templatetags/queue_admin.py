"""`{% queue_status_module %}`: the queue's state on the admin index, linking to its page."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from spyglass.queue.stats import queue_stats
from spyglass.queue.views import age_text

register = template.Library()


@register.inclusion_tag("admin/queue/index_module.html", takes_context=True)
def queue_status_module(context: template.Context) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.has_perm("queue.view_queuedenvelope"):
        return {"show": False}
    stats = queue_stats()
    return {
        "show": True,
        "stats": stats,
        "oldest_age": age_text(stats["oldest_age_seconds"]),
        "url": reverse("admin:queue_queuedenvelope_status"),
    }
