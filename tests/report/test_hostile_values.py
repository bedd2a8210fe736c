"""Values a results or samples file may hold that the comparison and the report must take:
from the adversarial try of the report (each failed before its fix)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from lmms_eval_client import EvalResults, InvalidArgumentError, compare
from lmms_eval_client._report.compare import compare_scores
from lmms_eval_client._report.data import MAX_TEXT
from lmms_eval_client._report.page import _x, comparison_section
from lmms_eval_client._report.svg import _ticks

from ..results.conftest import SINGLE


def test_a_flips_table_of_long_doc_ids_stays_small() -> None:
    # Before: each doc_id in full: 150 flips of 100 KB ids made a 15 MB page.
    long = "d" * 100_000
    a = {"t" * 5000: {"m": {f"{i}{long}": 1.0 for i in range(150)}}}
    b = {"t" * 5000: {"m": {f"{i}{long}": 0.0 for i in range(150)}}}
    comparison = compare_scores(a, b)
    assert len(comparison.flips) == 150
    assert len(comparison_section(comparison)) < 160 * 3 * (MAX_TEXT + 100)


def test_two_nan_scores_are_no_flip() -> None:
    nan = math.nan
    comparison = compare_scores({"t": {"m": {0: nan, 1: 1.0}}}, {"t": {"m": {0: nan, 1: 0.0}}})
    assert [flip.doc_id for flip in comparison.flips] == [1]


@pytest.mark.parametrize("tasks", ["e2e_arith", 5, [5], b"e2e_arith"], ids=repr)
def test_tasks_of_another_type_than_a_collection_of_names(tasks: Any) -> None:
    # Before: a str was read as a set of letters ("no task in common"), 5 a raw TypeError.
    results = EvalResults.load(SINGLE)
    with pytest.raises(InvalidArgumentError, match="tasks must be a collection of task names"):
        compare(results, results, tasks=tasks)


@pytest.mark.parametrize(
    ("label", "x"),
    [("0.5", 0.5), ("1.5", 1.5), ("100", 100.0), (" 2.5 ", 2.5), ("1e3", 1000.0), (0.5, 0.5),
     ("nan", 7.0), ("inf", 7.0), ("1_0", 7.0), ("abc", 7.0), ("1e99999", 7.0)],
)  # fmt: skip
def test_a_step_label_of_decimal_text_is_drawn_at_its_value(label: Any, x: float) -> None:
    # Before: --label epoch=0.5 (stored as text) was drawn at the job's seq (7 here).
    assert _x({"epoch": label}, "epoch", 7) == x


@pytest.mark.parametrize(("low", "high"), [(1e-14, 2e-14), (0.1, 0.3), (-5e-9, 5e-9), (1e5, 3e5)])
def test_the_y_ticks_of_a_small_range_are_its_own(low: float, high: float) -> None:
    # Before: rounded to 12 decimals, the ticks of metric values 1e-14..2e-14 were all 0.
    ticks = _ticks(low, high)
    assert len(set(ticks)) == len(ticks) >= 3
    assert all(low <= tick <= high for tick in ticks)
