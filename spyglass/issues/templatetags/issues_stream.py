"""The issue stream's row chart: the shared sparkline's bars, labelled with the chosen
length (24 hours or 14 days)."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from spyglass.issues.stream import DEFAULT_STATS, STATS
from spyglass.web.templatetags.spyglass_web import HEIGHT, WIDTH, bar_geometry

register = template.Library()


@register.simple_tag
def stream_sparkline(values: Sequence[int], stats: str = DEFAULT_STATS) -> SafeString:
    """Bars as an inline SVG (presentation attributes only: the CSP forbids inline style)."""
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
    spoken = STATS.get(stats, STATS[DEFAULT_STATS])[1]
    text = f"{total} event{'' if total == 1 else 's'} in {spoken}"
    # The bars are numbers we computed, never user data, so joining them is safe.
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" role="img" '
        'aria-label="{}"><title>{}</title>{}</svg>',
        WIDTH,
        HEIGHT,
        WIDTH,
        HEIGHT,
        text,
        text,
        SafeString("".join(bars)),
    )
