"""Server-rendered SVG charts for the scorecards page: a line chart with a target line and a
bar chart, with axes, labels, a title and a description (no script, no outside library).

Every plotted value carries ``data-period`` and ``data-value`` and a visible label, so people
and tests read the same figures."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH, HEIGHT = 560, 240
LEFT, RIGHT, TOP, BOTTOM = 60, 16, 30, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
TICKS = 5
INK, MUTED, GRID, LINE, TARGET, BAR = "#222", "#777", "#eee", "#1d5fd1", "#e4393c", "#6a3fc7"


@dataclass(frozen=True, slots=True)
class Point:
    label: str  # the period, e.g. ``11-01``
    value: float | None  # None: nothing to plot in this period


Format = Callable[[float], str]


def percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _x(index: int, count: int) -> float:
    return LEFT + (index + 0.5) * PLOT_W / max(count, 1)


def _y(value: float, low: float, high: float) -> float:
    span = (high - low) or 1.0
    return TOP + PLOT_H * (1 - (value - low) / span)


def _attr(value: object) -> str:
    return str(escape(str(value)))


def _frame(chart_id: str, title: str, desc: str, body: list[str]) -> Markup:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'data-testid="chart-{_attr(chart_id)}" '
        f'aria-labelledby="{_attr(chart_id)}-title {_attr(chart_id)}-desc">'
        f'<title id="{_attr(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{_attr(chart_id)}-desc">{escape(desc)}</desc>'
    )
    # Every text and attribute value above went through escape(); numbers are formatted here.
    return Markup(head + "".join(body) + "</svg>")  # noqa: S704


def _axes(points: Sequence[Point], low: float, high: float, fmt: Format) -> list[str]:
    parts = []
    for i in range(TICKS + 1):
        value = low + (high - low) * i / TICKS
        y = _y(value, low, high)
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{MUTED}">{escape(fmt(value))}</text>'
        )
    base = TOP + PLOT_H
    parts.append(
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="{MUTED}"/>'
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="{MUTED}"/>'
    )
    for i, point in enumerate(points):
        parts.append(
            f'<text x="{_x(i, len(points)):.1f}" y="{base + 18}" text-anchor="middle" '
            f'font-size="11" fill="{MUTED}">{escape(point.label)}</text>'
        )
    return parts


def rate_range(values: Sequence[float | None], target: float | None) -> tuple[float, float]:
    """A 0-1 axis that starts a tenth below the lowest figure (or the target), in tenths."""
    seen = [v for v in values if v is not None] + ([target] if target is not None else [])
    low = math.floor((min(seen, default=0.0) - 0.1) * 10) / 10
    high = max(1.0, max(seen, default=1.0))
    return max(0.0, low), high


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[Point],
    low: float,
    high: float,
    fmt: Format,
    target: float | None = None,
    target_label: str = "",
) -> Markup:
    """Values per period joined by a line (broken where a period has none), with the
    agreement's target as a dashed line."""
    body = _axes(points, low, high, fmt)
    if target is not None:
        y = _y(target, low, high)
        body.append(
            f'<g class="target" data-value="{target:g}">'
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" '
            f'stroke="{TARGET}" stroke-dasharray="6 4"/>'
            f'<text x="{WIDTH - RIGHT}" y="{y - 5:.1f}" text-anchor="end" font-size="11" '
            f'fill="{TARGET}">{escape(target_label)} {escape(fmt(target))}</text></g>'
        )
    segment: list[str] = []
    segments: list[list[str]] = [segment]
    for i, point in enumerate(points):
        if point.value is None:
            segment = []
            segments.append(segment)
            continue
        segment.append(f"{_x(i, len(points)):.1f},{_y(point.value, low, high):.1f}")
    for run in segments:
        if len(run) > 1:
            body.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{LINE}" stroke-width="2"/>'
            )
    for i, point in enumerate(points):
        if point.value is None:
            continue
        x, y = _x(i, len(points)), _y(point.value, low, high)
        shown = escape(fmt(point.value))
        body.append(
            f'<g class="point" data-period="{_attr(point.label)}" data-value="{point.value:.4f}">'
            f"<title>{escape(point.label)}: {shown}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{LINE}"/>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="11" '
            f'fill="{INK}" class="value">{shown}</text></g>'
        )
    return _frame(chart_id, title, desc, body)


def nice_ceiling(value: float) -> float:
    """The axis top for bars: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def bar_chart(
    *, chart_id: str, title: str, desc: str, points: Sequence[Point], fmt: Format
) -> Markup:
    """One bar per period from zero, labelled with its value."""
    high = nice_ceiling(max((p.value or 0.0 for p in points), default=0.0))
    body = _axes(points, 0.0, high, fmt)
    band = PLOT_W / max(len(points), 1)
    for i, point in enumerate(points):
        if point.value is None:
            continue
        x, y = _x(i, len(points)), _y(point.value, 0.0, high)
        shown = escape(fmt(point.value))
        body.append(
            f'<g class="bar" data-period="{_attr(point.label)}" data-value="{point.value:g}">'
            f"<title>{escape(point.label)}: {shown}</title>"
            f'<rect x="{x - band * 0.3:.1f}" y="{y:.1f}" width="{band * 0.6:.1f}" '
            f'height="{TOP + PLOT_H - y:.1f}" fill="{BAR}"/>'
            f'<text x="{x:.1f}" y="{y - 5:.1f}" text-anchor="middle" font-size="11" '
            f'fill="{INK}" class="value">{shown}</text></g>'
        )
    return _frame(chart_id, title, desc, body)
