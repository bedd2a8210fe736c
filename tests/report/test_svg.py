"""The charts draw whatever values a run holds: a diverged checkpoint (NaN, infinities),
float noise, huge values or steps (an adversarial try found each hanging or crashing the
report before: an endless tick loop, a NaN to int, a division by zero, an overflow)."""

from __future__ import annotations

import re

import pytest

from lmms_eval_client._report.svg import BOTTOM, HEIGHT, TOP, Point, Series, chart

NUMBER = re.compile(r'\s(?:x|y|x1|x2|y1|y2|cx|cy)="([^"]*)"')
GEOMETRY = re.compile(r'\s(?:x|y|x1|x2|y1|y2|cx|cy|d|points)="([^"]*)"')


def drawn(points: list[tuple[float, float, float | None]]) -> str:
    series = Series("run", [Point(x, y, se, f"p{i}") for i, (x, y, se) in enumerate(points)], 0)
    svg = chart("mme acc", "step", [series])
    coordinates = [float(v) for v in NUMBER.findall(svg)]
    assert all(abs(c) < 10**6 for c in coordinates), svg  # every coordinate on the canvas
    grid = [float(y) for y in re.findall(r'class="grid"[^>]*\sy1="([^"]*)"', svg)]
    assert all(TOP - 0.1 <= y <= HEIGHT - BOTTOM + 0.1 for y in grid), grid  # in the frame
    assert not [g for g in GEOMETRY.findall(svg) if "nan" in g.lower() or "inf" in g.lower()]
    return svg


@pytest.mark.parametrize(
    "points",
    [
        [(100, 0.3, None), (200, 0.1 + 0.2, None)],  # one float step apart: ticks never ended
        [(100, 0.5, None), (200, 0.5 + 2**-53, None)],
        [(100, 1e17, None)],  # one big value: a flat axis widened by 0.5 stayed flat
        [(1e17, 0.5, None)],  # a step that is a timestamp in ns
        [(100, 1e308, None), (200, -1e308, None)],  # the range overflowed
        [(100, 0.5, 1e308)],
        [(100, float("nan"), None), (200, 0.5, None)],  # a diverged checkpoint first
        [(100, 0.5, None), (200, float("inf"), None), (300, float("-inf"), None)],
        [(100, 0.5, float("nan")), (200, 0.6, float("inf"))],
        [(100, 5e-324, None), (200, -5e-324, None)],  # subnormals: the step underflowed
    ],
    ids=repr,
)
def test_any_values_are_drawn(points: list[tuple[float, float, float | None]]) -> None:
    svg = drawn(points)
    assert svg.startswith("<svg") or "no values" in svg


def test_points_that_cannot_be_drawn_are_said() -> None:
    svg = drawn([(100, float("nan"), None), (200, float("inf"), None), (300, 0.5, None)])
    assert svg.count('class="dot"') == 1
    assert "2 value(s) not drawn (NaN, infinite or past ±1e300)" in svg
    only_nan = chart("t", "step", [Series("run", [Point(1, float("nan"), None, "p")], 0)])
    assert "no values" in only_nan and "NaN, infinite" in only_nan


def test_the_best_point_is_ringed_after_undrawable_ones_are_left_out() -> None:
    points = [Point(1, float("nan"), None, "p0"), Point(2, 0.5, None, "p1"),
              Point(3, 0.7, None, "p2")]  # fmt: skip
    svg = chart("t", "step", [Series("run", points, 2)])
    assert svg.count('class="best"') == 1 and "best: p2" in svg
    assert 'class="best"' not in chart("t", "step", [Series("run", points, 0)])  # NaN: none
