"""Template helpers shared by every page: relative times and sparklines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def ago(when: datetime, now: datetime) -> str:
    """A short relative time: "just now", "5 min ago", "3 h ago", "2 d ago", "4 mo ago"."""
    seconds = int((now - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now"
    for size, unit in ((31_536_000, "y"), (2_592_000, "mo"), (86_400, "d"), (3600, "h")):
        if seconds >= size:
            amount = f"{seconds // size} {unit}"
            break
    else:
        amount = f"{max(1, round(seconds / 60))} min"
    return f"in {amount}" if future else f"{amount} ago"


@register.simple_tag
def reltime(when: datetime | None) -> SafeString:
    """<time> with the relative time as text and the absolute one (user's zone) on hover."""
    if when is None:
        return format_html("{}", "—")
    local = timezone.localtime(when)
    absolute = local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        when.isoformat(),
        absolute,
        ago(when, timezone.now()),
    )


WIDTH, HEIGHT = 96, 24


def bar_geometry(
    values: Sequence[int], width: float, height: float, gap: float
) -> list[tuple[float, float, float, float]]:
    """(x, y, width, height) of one bar per value, scaled to the largest; a non-zero value
    gets at least a pixel."""
    top = max(values) or 1
    step = width / len(values)
    bars = []
    for n, value in enumerate(values):
        tall = 0.0 if value == 0 else max(1.0, value / top * (height - 2))
        bars.append((n * step, height - tall, max(step - gap, 1.0), tall))
    return bars


@register.simple_tag
def sparkline(values: Sequence[int], label: str = "events", span: str = "24 hours") -> SafeString:
    """Bars as an inline SVG (presentation attributes only: the CSP forbids inline style);
    ``span`` names the time the bars cover, for the accessible label."""
    if not values:
        return format_html("{}", "")
    bars = [
        f'<rect x="{x:.2f}" y="{y:.2f}" width="{w:.2f}" height="{h:.2f}"></rect>'
        for x, y, w, h in bar_geometry(values, WIDTH, HEIGHT, gap=1)
    ]
    # A hairline baseline, so quiet hours or days read as zero rather than as nothing drawn.
    bars.insert(
        0, f'<rect class="baseline" x="0" y="{HEIGHT - 1}" width="{WIDTH}" height="1"></rect>'
    )
    total = sum(values)
    noun = label[:-1] if total == 1 and label.endswith("s") else label  # "1 event"
    # The bars are numbers we computed, never user data, so joining them is safe.
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        f"{total} {noun} in {span}",
        f"{total} {noun} in {span}",
        SafeString("".join(bars)),
    )
