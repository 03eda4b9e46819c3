"""The metric chart of a metric alert rule: its values as bars (the shared bar chart's
geometry and classes, spyglass_charts' size) with the thresholds as lines."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from spyglass.web.templatetags.spyglass_charts import HEIGHT, WIDTH

register = template.Library()

PAD = 4.0  # room above the highest bar or line


@register.simple_tag
def metric_chart(
    points: Sequence[tuple[datetime, float | None]],
    thresholds: Sequence[tuple[str, float]],
    label: str,
) -> SafeString:
    """An inline SVG (presentation attributes only: the CSP forbids inline style)."""
    if not points:
        return format_html('<p class="muted chart-empty">{}</p>', "No values yet.")
    values = [v for _, v in points if v is not None]
    top = max([*values, *(t for _, t in thresholds), 0.0]) or 1.0
    scale = (HEIGHT - PAD) / top
    step = WIDTH / len(points)
    bars = []
    for n, (at, value) in enumerate(points):
        if value is None:
            continue
        tall = max(1.0, value * scale) if value > 0 else 0.0
        bars.append(
            (
                f"{n * step:.2f}",
                f"{HEIGHT - tall:.2f}",
                f"{max(step - 1, 1.0):.2f}",
                f"{tall:.2f}",
                f"{at:%Y-%m-%d %H:%M} UTC: {value:g}",
            )
        )
    rects = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        bars,
    )
    lines = format_html_join(
        "",
        '<line class="threshold threshold-{}" x1="0" x2="{}" y1="{}" y2="{}">'
        "<title>{} threshold: {}</title></line>",
        [
            (
                name,
                WIDTH,
                f"{HEIGHT - limit * scale:.2f}",
                f"{HEIGHT - limit * scale:.2f}",
                name,
                f"{limit:g}",
            )
            for name, limit in thresholds
            if limit >= 0
        ],
    )
    return format_html(
        '<svg class="barchart metric-chart" viewBox="0 0 {} {}" preserveAspectRatio="none" '
        'height="{}" role="img" aria-label="{}"><rect class="baseline" x="0" y="{}" '
        'width="{}" height="1"></rect>{}{}</svg>',
        WIDTH,
        HEIGHT,
        HEIGHT * 2,
        label,
        HEIGHT - 1,
        WIDTH,
        rects,
        lines,
    )
