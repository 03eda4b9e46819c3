"""Line charts and number formats for the performance pages (server-rendered SVG: the CSP
allows no inline style or script, so presentation attributes and classes only)."""

from __future__ import annotations

from collections.abc import Sequence

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

WIDTH, HEIGHT, PAD = 600, 80, 4


@register.simple_tag
def linechart(
    lines: Sequence[tuple[str, Sequence[float | None]]],
    labels: Sequence[str],
    unit: str = "ms",
    title: str = "",
) -> SafeString:
    """One polyline per (name, values); a missing value breaks its line. The y axis starts
    at 0 and its top value is written in the corner."""
    values = [v for _, series in lines for v in series if v is not None]
    if not values or not labels:
        return format_html('<p class="muted chart-empty">{}</p>', "No data in this range.")
    highest = max(values)
    top = highest or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(labels) - 1)

    def y(value: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * value / top

    paths, dots = [], []
    for index, (name, series) in enumerate(lines):
        segments: list[list[str]] = [[]]
        for n, value in enumerate(series):
            if value is None:
                segments.append([])
                continue
            x = PAD + n * step
            segments[-1].append(f"{x:.1f},{y(value):.1f}")
            label = labels[n] if n < len(labels) else ""
            dots.append(
                (index, f"{x:.1f}", f"{y(value):.1f}", f"{name} {label}: {fmt(value, unit)}")
            )
        for points in segments:
            if len(points) > 1:
                paths.append((index, " ".join(points)))
            elif points:
                px, _, py = points[0].partition(",")
                paths.append((index, f"{px},{py} {float(px) + 0.5:.1f},{py}"))
    lines_svg = format_html_join(
        "", '<polyline class="line line-{}" points="{}"></polyline>', paths
    )
    dots_svg = format_html_join(
        "",
        # A zero-length line with a round cap: a round dot however the chart is stretched.
        '<line class="dot line-{0}" x1="{1}" y1="{2}" x2="{1}" y2="{2}"><title>{3}</title></line>',
        dots,
    )
    legend = format_html_join(
        "",
        '<span class="legend-item line-{}">{}</span>',
        ((i, n) for i, (n, _) in enumerate(lines)),
    )
    return format_html(
        '<figure class="linechart"><div class="chart-legend">{}<span class="muted">max {}</span>'
        '</div><svg viewBox="0 0 {} {}" preserveAspectRatio="none" height="{}" role="img" '
        'aria-label="{}"><rect class="baseline" x="0" y="{}" width="{}" height="1"></rect>{}{}'
        "</svg></figure>",
        legend,
        fmt(highest, unit),
        WIDTH,
        HEIGHT,
        HEIGHT,
        title or ", ".join(name for name, _ in lines),
        HEIGHT - 1,
        WIDTH,
        lines_svg,
        dots_svg,
    )


@register.filter
def fmt(value: float | None, unit: str = "ms") -> str:
    """A duration, share or score as the pages write it; "—" when there is none."""
    if value is None:
        return "—"
    if unit == "ms":
        if value >= 10_000:
            return f"{value / 1000:.1f} s"
        if value >= 1000:
            return f"{value / 1000:.2f} s"
        return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "bytes":
        for size, name in ((1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= size:
                return f"{value / size:.1f} {name}"
        return f"{value:.0f} B"
    if unit == "score":
        return f"{value:.2f}"
    if unit == "cls":
        return f"{value:.3f}"
    if 0 < value < 0.01:
        return f"{value:.2g}"  # a rate of a few an hour still reads as more than none
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"
