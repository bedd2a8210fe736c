"""What every benchmark prints: a ratio beside its target shows which side of it it is on."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def fmt_ratio_to(monkeypatch: pytest.MonkeyPatch) -> Callable[[float, float], str]:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    shown: Callable[[float, float], str] = importlib.import_module("bench_common").fmt_ratio_to
    return shown


@pytest.mark.parametrize(
    ("ratio", "bound", "shown"),
    [
        (0.84, 0.80, "0.84x"),
        (1.37, 1.30, "1.37x"),
        (0.80, 0.80, "0.80x"),  # on the bound: met, as shown
        # Two decimals would show the bound itself: "0.80x ... MISSED" (make bench, 2026-12-07)
        (0.797, 0.80, "0.797x"),
        (1.304, 1.30, "1.304x"),
        (0.7999, 0.80, "0.7999x"),
    ],
)
def test_a_ratio_beside_its_bound_shows_which_side_of_it_it_is_on(
    fmt_ratio_to: Callable[[float, float], str], ratio: float, bound: float, shown: str
) -> None:
    assert fmt_ratio_to(ratio, bound) == shown


@pytest.mark.parametrize(
    ("ratio", "at_least", "shown", "judged"),
    [
        (1.19, False, "1.19x", "<= 1.30x raw: met"),
        (1.304, False, "1.304x", "<= 1.30x raw: MISSED"),
        (1.30, False, "1.30x", "<= 1.30x raw: met"),
        (1.31, True, "1.31x", ">= 1.30x raw: met"),
        (1.297, True, "1.297x", ">= 1.30x raw: MISSED"),
    ],
)
def test_a_ratio_target_is_shown_and_judged_from_one_bound(
    monkeypatch: pytest.MonkeyPatch, ratio: float, at_least: bool, shown: str, judged: str
) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    ratio_target = importlib.import_module("bench_common").ratio_target
    text, target = ratio_target("x", ratio, 1.30, "raw", at_least=at_least)
    assert (text, f"{target.detail}: {target.verdict}") == (shown, judged)
