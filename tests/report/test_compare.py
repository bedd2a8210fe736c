"""Checkpoint comparison (issue 25): our paired t-test is lmms-eval's ``paired_ttest`` to
1e-9, and the flipped samples are exactly those whose score changed.

The reference is the function itself, read from the installed lmms-eval (importing its
module needs sacrebleu and the ML stack: the function's source is compiled alone, with the
names it uses); it needs scipy, as our stdlib version does not.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError, Sample, paired_ttest
from lmms_eval_client._report.compare import compare_scores, sample_scores
from lmms_eval_client._report.stats import t_cdf, t_ppf
from lmms_eval_client._runs.ledger_copy import copy_ledger

from .conftest import MadeRun

Reference = Callable[[list[float], list[float]], dict[str, Any]]


@pytest.fixture(scope="module")
def reference() -> Reference:
    pytest.importorskip("scipy")
    spec = importlib.util.find_spec("lmms_eval")
    if spec is None or spec.origin is None:
        pytest.skip("lmms-eval is not installed")
    source = (Path(spec.origin).parent / "api" / "metrics.py").read_text(encoding="utf-8")
    (node,) = [
        n
        for n in ast.parse(source).body
        if isinstance(n, ast.FunctionDef) and n.name == "paired_ttest"
    ]
    namespace: dict[str, Any] = {"math": math, "List": list}
    exec(
        compile(ast.Module(body=[node], type_ignores=[]), "lmms_eval/api/metrics.py", "exec"),
        namespace,
    )
    function: Reference = namespace["paired_ttest"]
    return function


def _same(ours: float, theirs: float) -> bool:
    if math.isnan(theirs):
        return math.isnan(ours)
    if math.isinf(theirs):
        return ours == theirs
    return abs(ours - theirs) <= 1e-9


def _cases() -> list[tuple[list[float], list[float]]]:
    rng = random.Random(25)
    cases: list[tuple[list[float], list[float]]] = []
    for n in (0, 1, 2, 3, 5, 8, 30, 101, 500, 2000):
        a = [float(rng.random() < 0.6) for _ in range(n)]  # exact-match-like 0/1 scores
        b = [float(rng.random() < 0.5) for _ in range(n)]
        cases.append((a, b))
        c = [rng.gauss(0.5, 0.2) for _ in range(n)]  # continuous scores, a small shift
        cases.append((c, [x - 0.03 + rng.gauss(0, 0.05) for x in c]))
    cases.append(([1.0, 1.0, 1.0], [0.0, 0.0, 0.0]))  # every difference the same: se 0
    cases.append(([0.5, 0.5], [0.5, 0.5]))
    return cases


@pytest.mark.parametrize("case", range(len(_cases())))
@pytest.mark.slow
def test_our_paired_test_is_lmms_evals_to_1e_9(reference: Reference, case: int) -> None:
    a, b = _cases()[case]
    theirs = reference(a, b)
    ours = paired_ttest(a, b).model_dump()
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert _same(float(ours[name]), float(value)), (name, ours[name], value)


def test_the_t_distribution_is_scipys() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 29, 100, 1999):
        for t in (-40.0, -3.2, -1.0, -0.1, 0.0, 0.3, 1.96, 2.5, 8.0, 60.0):
            assert abs(t_cdf(t, df) - float(stats.t.cdf(t, df))) <= 1e-12, (t, df)
        assert abs(t_ppf(0.975, df) - float(stats.t.ppf(0.975, df))) <= 1e-9, df


def test_scores_too_large_to_square_give_infinite_or_nan_statistics() -> None:
    # Before: "OverflowError: Numerical result out of range" from (d - mean) ** 2, which
    # crashed compare and runs report --compare (an adversarial try).
    wide = paired_ttest([1e200, 1e200, 2e200], [-1e200, -1e200, -1e200])
    assert wide.se_diff == math.inf and wide.p_value == 1.0
    beyond = paired_ttest([1e308, 1e308], [-1e308, -1e308])
    assert beyond.mean_diff == math.inf and math.isnan(beyond.p_value)


def test_unequal_lengths_are_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="same length"):
        paired_ttest([1.0], [1.0, 0.0])


def _samples(scores: Mapping[int, float | None]) -> list[Sample]:
    return [
        Sample.from_record({"doc_id": d, "target": "A", "exact_match": s})
        for d, s in scores.items()
    ]


def test_flips_are_the_samples_whose_score_changed(reference: Reference) -> None:
    a = {0: 1.0, 1: 0.0, 2: 1.0, 3: 1.0, 4: 0.0, 5: None, 7: 1.0}
    b = {0: 1.0, 1: 1.0, 2: 0.0, 3: 1.0, 4: 0.0, 5: 1.0, 6: 0.0, 7: 0.0}
    comparison = compare_scores(
        {"t": sample_scores(_samples(a))}, {"t": sample_scores(_samples(b))}
    )
    assert [(f.doc_id, f.score_a, f.score_b) for f in comparison.flips] == [
        (1, 0.0, 1.0),
        (2, 1.0, 0.0),
        (7, 1.0, 0.0),
    ]
    (row,) = comparison.metrics
    paired = [0, 1, 2, 3, 4, 7]  # scored in both; 5 (no score in a) and 6 (not in a) are out
    assert row.n == len(paired)
    theirs = reference([a[d] or 0.0 for d in paired], [b[d] or 0.0 for d in paired])
    assert abs(row.test.t_stat - theirs["t_stat"]) <= 1e-9
    assert abs(row.test.p_value - theirs["p_value"]) <= 1e-9


def test_run_compare_reads_the_samples_files(made_run: MadeRun) -> None:
    with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
        comparison = run.compare("step-100", "step-200")
        files = {}
        for key in ("step-100", "step-200"):
            info = run.job(key).info
            assert info is not None and info.result is not None
            (result,) = info.result.values()
            files[key] = {Path(p).name.rsplit("_", 1)[-1][:-6]: p for p in result.samples}
    for row in comparison.metrics:
        expected = []
        read = {}
        for key in ("step-100", "step-200"):
            samples = [
                Sample.model_validate_json(line)
                for line in Path(files[key][row.task]).read_text(encoding="utf-8").splitlines()
            ]
            read[key] = {s.doc_id: float((s.model_extra or {})["exact_match"]) for s in samples}
        for doc_id, score in read["step-100"].items():
            if read["step-200"][doc_id] != score:
                expected.append((row.task, doc_id, score, read["step-200"][doc_id]))
        got = [
            (f.task, f.doc_id, f.score_a, f.score_b) for f in comparison.flips if f.task == row.task
        ]
        assert got == expected and row.n == len(read["step-100"])


def test_run_compare_on_a_postgresql_ledger(made_run: MadeRun, postgres_url: str) -> None:
    # Before: LedgerAuthError: the comparison reopened the ledger by the URL it shows, whose
    # password is masked.
    copy_ledger(str(made_run.ledger), postgres_url)
    with EvalClient(made_run.base_url) as client, EvalRun(client, postgres_url) as run:
        assert run.compare("step-100", "step-200").metrics


def test_a_t_statistic_near_zero_has_lmms_evals_p_value(reference: Reference) -> None:
    # Before: df / (df + t²) rounded to 1, and p was exactly 1.0 (lmms-eval: 0.99999998).
    a, b = [1.0] * 1000 + [0.0] * 1000 + [1e-6], [0.0] * 1000 + [1.0] * 1000 + [0.0]
    assert _same(paired_ttest(a, b).p_value, reference(a, b)["p_value"])
    assert paired_ttest(a, b).p_value < 1.0


@pytest.mark.parametrize(
    ("a", "b"),
    [([1, "x"], [0, 1]), ([10**400, 1], [0, 0]), ((x for x in (1, 2)), [0, 1]), (None, [1]),
     ("ab", [1, 2]), ([1, 2], [object(), 1])],
    ids=["text", "huge-int", "generator", "none", "str", "object"],
)  # fmt: skip
def test_paired_ttest_of_what_is_no_scores(a: Any, b: Any) -> None:
    # Before: TypeError, OverflowError (a raw error of a public function).
    with pytest.raises(InvalidArgumentError, match=r"must (be a sequence of|hold) numbers"):
        paired_ttest(a, b)


def test_paired_ttest_takes_arrays_and_series() -> None:
    # The review: a check for Sequence refused numpy arrays and pandas Series (lmms-eval's
    # paired_ttest takes them).
    np = pytest.importorskip("numpy")
    a, b = [0.9, 0.8, 0.7], [0.5, 0.6, 0.7]
    expected = paired_ttest(a, b)
    assert paired_ttest(np.array(a), np.array(b)) == expected
    pd = pytest.importorskip("pandas")
    assert paired_ttest(pd.Series(a), pd.Series(b)) == expected
