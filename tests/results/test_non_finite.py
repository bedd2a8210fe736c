"""Issue 20, item 8: NaN and infinite metric values, which Python's json writes (``NaN``,
``Infinity``) and lmms-eval can produce (a mean of nothing, a stderr of one sample).

Such a file loads; its table showed nothing but a raw ValueError (OverflowError for
Infinity). Now they read ``nan`` / ``inf``, and a summary, which must be JSON, holds them as
the text json writes for them, which ``float()`` reads back.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lmms_eval_client import EvalResults
from lmms_eval_client._results.files import results_summary

from .conftest import MODEL, job_info

NON_FINITE = (
    '{"results": {"t": {"alias": "t", "acc,none": NaN, "acc_stderr,none": Infinity,'
    ' "f1,none": -Infinity, "f1_stderr,none": NaN, "em,none": 0.5}}, "n-shot": {"t": 0}}'
)


def write_non_finite(folder: Path) -> Path:
    path = folder / "20261202_055237_results.json"
    path.write_text(NON_FINITE)
    return path


def test_the_values_load_as_floats() -> None:
    results = EvalResults.from_json(NON_FINITE)
    acc = results.metric("t", "acc")
    assert math.isnan(acc.value or 0.0) and acc.stderr == math.inf
    assert results.metric("t", "f1").value == -math.inf


def test_the_table_shows_them() -> None:
    results = EvalResults.from_json(NON_FINITE)
    rows = {line.split()[3]: line.split() for line in str(results).splitlines()[2:]}
    assert rows["acc"][-3:] == ["nan", "±", "inf"]
    assert rows["f1"][-3:] == ["-inf", "±", "nan"]
    assert rows["em"][-2:] == ["0.5000", "N/A"]
    assert results.table() == str(results)


def test_the_summary_holds_them_as_json_text(tmp_path: Path) -> None:
    path = write_non_finite(tmp_path)
    job = job_info(result={MODEL: {"results": str(path), "samples": []}})
    summary = results_summary(job)
    assert summary == {MODEL: {"t": {"acc,none": "NaN", "f1,none": "-Infinity", "em,none": 0.5}}}
    json.dumps(summary, allow_nan=False)  # strict JSON, as the ledger stores it
    assert float("-Infinity") == -math.inf and math.isnan(float("NaN"))  # read back


@pytest.mark.parametrize(
    ("value", "text"), [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity")]
)
def test_json_number(value: float, text: str) -> None:
    from lmms_eval_client._results.metrics import json_number

    assert json_number(value) == text
    assert json_number(0.25) == 0.25 and json_number(None) is None


def test_an_integer_beyond_any_float_reads_as_infinite() -> None:
    # Before: a raw "OverflowError: int too large to convert to float" from metrics(),
    # table() and Sample.score() (an adversarial try): 1e400 as text already read as inf.
    big = "1" + "0" * 400
    results = EvalResults.from_json(
        f'{{"results": {{"t": {{"alias": "t", "acc,none": {big}, "f1,none": -{big}}}}}}}'
    )
    assert results.metric("t", "acc").value == math.inf
    assert results.metric("t", "f1").value == -math.inf
    assert "inf" in str(results)


def test_a_utf8_bom_is_read_as_the_samples_lines_read_it() -> None:
    # Before: "expected value at line 1 column 1", not naming the BOM an editor wrote;
    # samples lines with one already loaded (json.loads skips it).
    text = '\ufeff{"results": {"t": {"alias": "t", "acc,none": 0.5}}}'
    assert EvalResults.from_json(text.encode("utf-8")).metric("t", "acc").value == 0.5
    assert EvalResults.from_json(text).metric("t", "acc").value == 0.5
