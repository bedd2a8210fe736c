"""Issue 22: the fast paths of reading results build what the validated paths build.

Samples lines are parsed by pydantic-core and built without pydantic's per-value check;
metric rows without validation; a file's per-task configs and sample counts are validated
when read (TaskMap). Each is held equal here to what the plain path (json.loads,
model_validate) gives.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    EvalResults,
    NSamples,
    ResultsFormatError,
    Sample,
    TaskConfig,
    iter_samples,
)
from lmms_eval_client._results import jsonparse
from lmms_eval_client._results.metrics import Metric, parse_task_metrics
from lmms_eval_client._results.samples import _metric_keys

from .conftest import GROUP, SINGLE, SINGLE_SAMPLES

LINES = [
    b'{"doc_id": 1, "x": NaN, "y": Infinity, "z": -Infinity}',
    b'{"doc_id": 12345678901234567890123, "big": -98765432109876543210}',
    b'{"a": "\\ud800 lone", "b": "caf\\u00e9", "c": "\xc3\xa9"}',
    b'{"a": 1, "a": 2, "f": 0.1, "e": 1e400, "n": null, "t": [true, false]}',
    b'  {"padded": [1, {"x": [2, 3]}]}  ',
    b'"just a string"',
]


@pytest.mark.parametrize("line", LINES)
def test_a_line_means_what_json_loads_reads(line: bytes) -> None:
    got, expected = jsonparse.parse_line(line), json.loads(line)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)


@pytest.mark.parametrize("line", [b'{"a": 1', b'{"a": "\xff"}', b"{'a': 1}", b"[1,]"])
def test_a_bad_line_raises_json_loads_error(line: bytes) -> None:
    with pytest.raises(ValueError) as caught:
        jsonparse.parse_line(line)
    with pytest.raises(ValueError) as plain:
        json.loads(line)
    assert type(caught.value) is type(plain.value) and str(caught.value) == str(plain.value)


@pytest.mark.parametrize("depth", [250, 1500])
def test_a_line_nested_deeper_than_the_limit_is_too_deep(depth: int) -> None:
    with pytest.raises(jsonparse.TooDeep):
        jsonparse.parse_line(b"[" * depth + b"]" * depth)
    assert jsonparse.parse_line(b"[" * 150 + b"]" * 150) is not None


RECORDS: list[dict[str, Any]] = [
    {"doc_id": 0, "target": "5", "exact_match": 1.0, "token_counts": [{"input_tokens": 3}]},
    {"doc_id": "a", "token_counts": [None, {"output_tokens": 2, "cost": 0.1}], "judge": {}},
    {"doc_id": True, "doc_hash": "h"},  # a bool id: validated, as before
    {"doc_id": 1, "token_counts": [{"input_tokens": 2.0}]},  # a float count: validated
    {"doc_id": 1, "token_counts": "nope"},
    {"metrics": {"x": 1}, "resps": [["a"]], "input_media": ["img"], "exact_match": 0},
    {"doc_id": 2, "token_counts": [{"input_tokens": None, "note": "x"}]},  # an unknown key
]


@pytest.mark.parametrize("record", RECORDS)
@pytest.mark.parametrize("names", [None, {"exact_match"}])
def test_a_sample_built_fast_equals_a_validated_one(
    record: dict[str, Any], names: set[str] | None
) -> None:
    try:
        expected = Sample.from_record(record, metric_names=names)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            Sample._from_json(dict(record), _metric_keys(names))
        return
    got = Sample._from_json(dict(record), _metric_keys(names))
    assert got == expected and repr(got) == repr(expected)
    assert got.model_fields_set == expected.model_fields_set
    assert got.model_dump(exclude_unset=True) == expected.model_dump(exclude_unset=True)
    for fast, slow in zip(got.token_counts, expected.token_counts, strict=True):
        assert (fast and fast.model_fields_set) == (slow and slow.model_fields_set)


def test_the_real_samples_read_as_validated_ones() -> None:
    expected = [
        Sample.from_record(json.loads(line)) for line in SINGLE_SAMPLES.read_bytes().splitlines()
    ]
    assert list(iter_samples(SINGLE_SAMPLES)) == expected


@pytest.mark.parametrize("path", [SINGLE, GROUP])
def test_metric_rows_equal_validated_ones(path: Path) -> None:
    results = EvalResults.load(path)
    for row in results.metrics:
        again = Metric.model_validate(row.model_dump())
        assert row == again and row.model_fields_set == again.model_fields_set


def test_metric_rows_of_an_odd_entry() -> None:
    entry = {
        "alias": " - t",
        "acc,none": True,
        "acc_stderr,none": "N/A",
        "a_stderr_b,none": 0.5,  # not a stderr: there is no a,none
        "x,f,g": "text",
        "bleu_stderr_clt,flex": 0.1,
        "bleu,flex": 7,
    }
    rows = parse_task_metrics("t", entry, is_group=True, higher_is_better={"acc": False})
    assert [(m.name, m.filter) for m in rows] == [
        ("acc", "none"),
        ("a_stderr_b", "none"),
        ("x", "f,g"),
        ("bleu", "flex"),
    ]
    assert rows[0].value == 1.0 and rows[0].stderrs == {"stderr": None}
    assert rows[0].higher_is_better is False and rows[0].is_group and rows[0].alias == " - t"
    assert rows[2].value is None and rows[2].raw == "text"
    assert rows[3].value == 7.0 and rows[3].stderrs == {"stderr_clt": 0.1}
    assert rows[3].stderr is None and math.isnan(float(rows[2]))


def test_configs_and_sample_counts_are_models_when_read() -> None:
    results = EvalResults.load(SINGLE)
    assert isinstance(results.configs["e2e_arith"], TaskConfig)
    assert results.configs["e2e_arith"] is results.configs["e2e_arith"]  # built once
    assert isinstance(results.n_samples["e2e_arith"], NSamples)
    assert dict(results.configs) == {"e2e_arith": results.configs["e2e_arith"]}
    assert "e2e_arith" in results.configs and len(results.n_samples) == 1


def test_a_bad_config_entry_raises_when_read_naming_the_file(tmp_path: Path) -> None:
    raw = json.loads(SINGLE.read_text())
    raw["configs"]["e2e_arith"]["num_fewshot"] = "many"
    path = tmp_path / "x_results.json"
    path.write_text(json.dumps(raw))
    results = EvalResults.load(path)  # the rest of the file reads
    assert results.metric("e2e_arith", "exact_match").value == 0.8
    with pytest.raises(ResultsFormatError) as caught:
        results.configs["e2e_arith"]
    assert str(path) in str(caught.value)
    assert "configs.e2e_arith.num_fewshot" in str(caught.value)
    # Found after the adversarial try of results loading: model_dump() raised pydantic's
    # PydanticSerializationError (the ResultsFormatError inside it). What was read comes
    # out again, the entry as the file had it.
    assert results.model_dump()["configs"]["e2e_arith"]["num_fewshot"] == "many"
    dumped = json.loads(results.model_dump_json(by_alias=True))
    assert dumped["configs"] == raw["configs"]
    assert "'num_fewshot': 'many'" in repr(results.configs)  # (raised too)
    assert results.configs == EvalResults.load(path).configs


@pytest.mark.parametrize("path", [SINGLE, GROUP])
def test_a_loaded_file_dumps_and_loads_again_alike(path: Path) -> None:
    results = EvalResults.load(path)
    dumped = results.model_dump(by_alias=True)
    assert dumped["configs"] == json.loads(path.read_text())["configs"] | {
        task: results.configs[task].model_dump() for task in results.configs
    }
    again = EvalResults.model_validate(dumped)
    assert again.configs == results.configs and again.n_samples == results.n_samples
    assert EvalResults.model_validate_json(results.model_dump_json(by_alias=True)) == again
    assert "configs" in EvalResults.model_json_schema()["properties"]


@pytest.mark.parametrize("second", ["acc_stderr_stderr,none", "acc_stderr_clt_stderr,none"])
def test_a_stderr_of_a_stderr_is_a_metric_of_its_own(second: str) -> None:
    # An adversarial try: a raw KeyError from .metrics, table() and `results` (exit 1 with
    # a traceback), since the stderr's metric was itself a stderr.
    first = second.replace("_stderr,none", ",none")
    results = EvalResults.from_json(
        json.dumps({"results": {"t": {"acc,none": 1, first: 0.1, second: 0.01}}}).encode()
    )
    rows = [(m.name, m.value, m.stderrs) for m in results.metrics]
    kind = first.split(",")[0].removeprefix("acc_")
    assert rows == [("acc", 1.0, {kind: 0.1}), (second.split(",")[0], 0.01, {})]
    assert "acc" in results.table()


def test_a_name_with_a_line_break_stays_on_its_row_of_the_table() -> None:
    # An adversarial try: an alias "mme ... 0.9500\nmmmu_val" printed a fake row of its own
    # under the real one.
    fake = "mme      none        0 exact_match ↑ 0.9500"
    entry = {"alias": f"{fake}\nmmmu_val", "acc\tx,none\r": 0.12}
    results = EvalResults.from_json(json.dumps({"results": {"t": entry}}).encode())
    lines = results.table().splitlines()
    assert len(lines) == 3, lines  # the header, its rule, one row
    assert "0.9500\\nmmmu_val" in lines[2] and "acc\\tx" in lines[2] and "none\\r" in lines[2]
