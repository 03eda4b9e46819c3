"""Bigger charts than sparklines, and safe links from untrusted URLs."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from spyglass.events.views import web_url
from spyglass.web.templatetags.spyglass_web import bar_geometry

register = template.Library()

WIDTH, HEIGHT = 600, 80


@register.simple_tag
def barchart(values: Sequence[int], labels: Sequence[str], period: str) -> SafeString:
    """Bars as an inline SVG that stretches to its box (presentation attributes only: the CSP
    forbids inline style); each bar says its label and count on hover."""
    if not values:
        return format_html("{}", "")
    geometry = bar_geometry(values, WIDTH, HEIGHT, gap=2)
    bars = [
        (f"{x:.2f}", f"{y:.2f}", f"{w:.2f}", f"{h:.2f}", f"{label}: {value}")
        for (x, y, w, h), value, label in zip(geometry, values, labels, strict=False)
    ]
    rects = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        bars,
    )
    total = sum(values)
    return format_html(
        '<svg class="barchart" viewBox="0 0 {} {}" preserveAspectRatio="none" height="{}" '
        'role="img" aria-label="{}"><rect class="baseline" x="0" y="{}" width="{}" height="1">'
        "</rect>{}</svg>",
        WIDTH,
        HEIGHT,
        HEIGHT,
        f"{total} events in {period}",
        HEIGHT - 1,
        WIDTH,
        rects,
    )


@register.filter
def weburl(value: object) -> str:
    """The URL if it may be a link (absolute http or https), else "": never javascript: or
    data:."""
    return web_url(value)
