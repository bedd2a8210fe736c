"""Metric-vs-step charts as static inline SVG, drawn by this module.

Why not matplotlib: a chart here is a few lines, bands and dots; our SVG of one is about 2 KB
and needs nothing installed, where matplotlib's SVG backend writes every glyph as a path
(20-40 KB a chart, so a run of 30 task x metric pairs would be a megabyte) and pulls numpy
and a 40 MB wheel into an SDK install. Nothing here fetches anything: no fonts, no scripts.
Every text in the SVG goes through ``html_visible`` (HTML-escaped, control and
bidirectional characters shown as escapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._visible import html_visible as _e

WIDTH, HEIGHT = 460, 250
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 14, 40
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b")


@dataclass
class Point:
    """One checkpoint's value of a metric."""

    x: float
    y: float
    stderr: float | None
    tip: str  # the tooltip: which job, which value


@dataclass
class Series:
    """One run's points of one task x metric."""

    name: str
    points: list[Point]
    best: int | None  # the index of the best point, when the direction is known


def _fmt(value: float) -> str:
    return f"{value:.4g}"


# Beyond this a value is not drawn: a range of two such values would overflow a float.
_DRAWABLE = 1e300


def drawable(value: float) -> bool:
    """Whether a value can be drawn: finite, within ±1e300."""
    return math.isfinite(value) and abs(value) <= _DRAWABLE


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (a ``_span``'s: wide enough to count on)."""
    raw = (high - low) / (count - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    # Counted, not summed: adding a step below the values' float resolution never ends.
    last = min(count * 3, math.floor((high - first) / step + 1e-9))
    # Rounded at the step's own scale (a fixed 12 decimals made ticks of 1e-14 all "0").
    digits = 2 - math.floor(math.log10(step))
    return [round(first + i * step, digits) for i in range(last + 1)]


def _span(low: float, high: float, flat: float) -> tuple[float, float]:
    """[low, high] made drawable: one that is flat, or only float noise wide (0.3 against
    0.1 + 0.2), widened around its middle, by ``flat`` or 5% of the value's size."""
    # (1e-300: a range of subnormals would underflow to a zero step)
    if high - low > max(abs(low), abs(high)) * 1e-9 and high - low > 1e-300:
        return low, high
    middle = low / 2 + high / 2
    half = max(flat, abs(middle) * 0.05)
    return middle - half, middle + half


def _clean(series: list[Series]) -> tuple[list[Series], int]:
    """The series with only the points that can be drawn (a NaN or infinite value is
    not; an unusable stderr is dropped), and how many points were left out."""
    kept: list[Series] = []
    dropped = 0
    for one in series:
        points: list[Point] = []
        best = None
        for i, p in enumerate(one.points):
            if not (drawable(p.x) and drawable(p.y)):
                dropped += 1
                continue
            if i == one.best:
                best = len(points)
            usable = p.stderr is not None and drawable(p.stderr) and drawable(p.y + p.stderr)
            points.append(p if usable or p.stderr is None else Point(p.x, p.y, None, p.tip))
        kept.append(Series(one.name, points, best))
    return kept, dropped


def chart(title: str, x_label: str, series: list[Series]) -> str:
    """One chart: a line per series, its stderr band, the best point ringed; values that
    cannot be drawn (NaN, infinities, past ±1e300) are counted under it instead."""
    series, dropped = _clean(series)
    note = f"{dropped} value(s) not drawn (NaN, infinite or past ±1e300)" if dropped else ""
    points = [p for s in series for p in s.points]
    if not points:
        return f'<p class="empty">{_e(title)}: no values{"; " + note if note else ""}</p>'
    xs = [p.x for p in points]
    ys = [p.y for p in points] + [
        p.y + sign * p.stderr for p in points if p.stderr is not None for sign in (-1, 1)
    ]
    x0, x1 = _span(min(xs), max(xs), 1.0)
    y0, y1 = _span(min(ys), max(ys), 0.5)
    pad = (y1 - y0) * 0.08
    y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(x: float) -> float:
        return LEFT + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{_e(title)}">',
        f'<rect class="frame" x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}"/>',
    ]
    for tick in _ticks(y0, y1):
        y = py(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{_fmt(tick)}</text>"
        )
    for tick in sorted(set(xs))[:: max(1, len(set(xs)) // 8)]:
        parts.append(
            f'<text class="tick" x="{px(tick):.1f}" y="{TOP + plot_h + 16}" '
            f'text-anchor="middle">{_fmt(tick)}</text>'
        )
    parts.append(
        f'<text class="axis" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{_e(x_label)}</text>'
    )
    for index, one in enumerate(series):
        color = COLORS[index % len(COLORS)]
        ordered = sorted(one.points, key=lambda p: p.x)
        banded = [p for p in ordered if p.stderr is not None]
        if len(banded) > 1:
            upper = [f"{px(p.x):.1f},{py(p.y + (p.stderr or 0)):.1f}" for p in banded]
            lower = [f"{px(p.x):.1f},{py(p.y - (p.stderr or 0)):.1f}" for p in reversed(banded)]
            parts.append(
                f'<polygon class="band" fill="{color}" points="{" ".join(upper + lower)}"/>'
            )
        line = " ".join(
            f"{'M' if i == 0 else 'L'}{px(p.x):.1f},{py(p.y):.1f}" for i, p in enumerate(ordered)
        )
        parts.append(f'<path class="line" stroke="{color}" d="{line}"/>')
        for p in ordered:
            parts.append(
                f'<circle class="dot" fill="{color}" cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" '
                f'r="3.5"><title>{_e(p.tip)}</title></circle>'
            )
        if one.best is not None:
            best = one.points[one.best]
            parts.append(
                f'<circle class="best" stroke="{color}" cx="{px(best.x):.1f}" '
                f'cy="{py(best.y):.1f}" r="8"><title>best: {_e(best.tip)}</title></circle>'
            )
    if note:
        parts.append(f'<text class="axis" x="{LEFT + 4}" y="{TOP + 12}">{_e(note)}</text>')
    parts.append("</svg>")
    return "".join(parts)
