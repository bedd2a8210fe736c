"""Files that are not what lmms-eval writes: typed errors naming the file (and line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
import respx

from lmms_eval_client import (
    EvalClient,
    EvalResults,
    InvalidArgumentError,
    ResultsError,
    ResultsFormatError,
    ResultsNotReachableError,
    iter_samples,
    load_job_results,
)

from .conftest import GROUP, SINGLE, SINGLE_SAMPLES, completed_job


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("cut", [1, 100, 3000, -2])
def test_truncated_results_json(tmp_path: Path, cut: int) -> None:
    path = _write(tmp_path / "x_results.json", SINGLE.read_bytes()[:cut])
    with pytest.raises(ResultsFormatError) as caught:
        EvalResults.load(path)
    err = caught.value
    assert isinstance(err, ValueError)
    assert not isinstance(err, (json.JSONDecodeError, pydantic.ValidationError))
    assert err.path == str(path)
    assert str(path) in str(err)
    assert "truncated or corrupt" in str(err)
    assert err.line is None
    assert err.__cause__ is None and err.__suppress_context__  # no pydantic traceback


def test_empty_results_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "x_results.json", "")
    with pytest.raises(ResultsFormatError, match="empty file"):
        EvalResults.load(path)


def test_corrupt_bytes(tmp_path: Path) -> None:
    path = _write(tmp_path / "x_results.json", b'{"results": {"t": {"a,none": 0.5}}}\xff\xfe')
    with pytest.raises(ResultsFormatError, match="truncated or corrupt"):
        EvalResults.load(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[1, 2]", "top level is not a JSON object"),
        ('"results"', "top level is not a JSON object"),
        ('{"version": 1}', "no 'results' key"),
        ('{"results": [1]}', "results: Input should be"),
        ('{"results": {"t": 5}}', "results.t: Input should be"),
        ('{"results": {}, "n-samples": {"t": 5}}', "n-samples.t: Input should be"),
        ('{"results": {}, "group_subtasks": {"g": "t"}}', "group_subtasks.g"),
    ],
)
def test_results_file_of_another_shape(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path / "x_results.json", text)
    with pytest.raises(ResultsFormatError, match="not an lmms-eval results file") as caught:
        EvalResults.load(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_samples_file_given_as_results_file() -> None:
    with pytest.raises(ResultsFormatError) as caught:
        EvalResults.load(SINGLE_SAMPLES)
    assert str(SINGLE_SAMPLES) in str(caught.value)


def test_a_directory_given_as_results_file(tmp_path: Path) -> None:
    (tmp_path / "20261202_055237_results.json").write_bytes(SINGLE.read_bytes())
    with pytest.raises(ResultsFormatError, match="is a directory") as caught:
        EvalResults.load(tmp_path)
    assert caught.value.path == str(tmp_path)
    assert "20261202_055237_results.json" in str(caught.value)  # what it holds


def test_a_directory_given_as_samples_file(tmp_path: Path) -> None:
    with pytest.raises(ResultsFormatError, match="is a directory"):
        iter_samples(tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope_results.json"
    with pytest.raises(ResultsNotReachableError) as caught:
        EvalResults.load(path)
    assert caught.value.client_path == str(path)
    assert caught.value.server_path is None
    assert "no such file" in str(caught.value)


def test_missing_samples_file_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(ResultsNotReachableError):
        iter_samples(tmp_path / "nope.jsonl")  # before any iteration


def test_unreadable_file(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    path = _write(tmp_path / "x_results.json", SINGLE.read_bytes())
    path.chmod(0)
    with pytest.raises(ResultsNotReachableError, match="permission denied"):
        EvalResults.load(path)


def _samples_with(tmp_path: Path, bad_line: bytes, at: int = 3) -> Path:
    lines = SINGLE_SAMPLES.read_bytes().splitlines(keepends=True)
    lines.insert(at - 1, bad_line)
    return _write(tmp_path / "20261202_055237_samples_t.jsonl", b"".join(lines))


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (b"this is not json\n", "not JSON"),
        (b'{"doc_id": 9, "target": "x"\n', "not JSON"),  # a cut line
        (b"[1, 2, 3]\n", "a JSON list, not an object"),
        (b"42\n", "a JSON int, not an object"),
        (b'{"doc_id": 1, "target": "\xff"}\n', "not UTF-8 text"),
        (b'{"doc_id": [1], "target": "x"}\n', "doc_id"),
        (b'{"doc_id": 1, "token_counts": "many"}\n', "token_counts"),
    ],
)
def test_bad_samples_line_names_file_and_line(
    tmp_path: Path, bad_line: bytes, expected: str
) -> None:
    path = _samples_with(tmp_path, bad_line, at=3)
    rows = iter_samples(path)
    assert next(rows).doc_id == 0
    assert next(rows).doc_id == 1
    with pytest.raises(ResultsFormatError) as caught:
        next(rows)
    err = caught.value
    assert err.line == 3
    assert err.path == str(path)
    assert f"{path}, line 3" in str(err)
    assert expected in str(err)
    assert isinstance(err, ValueError) and isinstance(err, ResultsError)


def test_blank_lines_and_a_missing_last_newline_are_fine(tmp_path: Path) -> None:
    data = SINGLE_SAMPLES.read_bytes().replace(b"\n", b"\n\n", 1).rstrip(b"\n")
    path = _write(tmp_path / "s.jsonl", data)
    assert [s.doc_id for s in iter_samples(path)] == [0, 1, 2, 3, 4]


def test_a_truncated_last_samples_line(tmp_path: Path) -> None:
    data = SINGLE_SAMPLES.read_bytes()[:-40]
    path = _write(tmp_path / "s.jsonl", data)
    with pytest.raises(ResultsFormatError, match="line 5: not JSON") as caught:
        list(iter_samples(path))
    assert "truncated last line" in str(caught.value)


def test_an_unterminated_string_is_said_once_at_its_column(tmp_path: Path) -> None:
    # json says "Unterminated string starting at": the reason read "starting at at column".
    path = _write(tmp_path / "s.jsonl", b'{"doc_id": 0, "input": "cut\n')
    with pytest.raises(ResultsFormatError) as caught:
        list(iter_samples(path))
    assert "(Unterminated string starting at column 24)" in str(caught.value)


def test_newer_results_file_with_extra_keys_loads(tmp_path: Path) -> None:
    raw = json.loads(GROUP.read_text())
    raw["provenance"] = {"cluster": "a100-pool", "attempt": 2}
    raw["n-samples"]["e2e_arith"]["skipped"] = 0
    raw["config"]["scheduler"] = "slurm"
    raw["configs"]["e2e_arith"]["judge"] = {"model": "gpt-x"}
    raw["usage"]["total"]["cached_tokens"] = 7
    raw["efficiency"]["overall"]["energy_wh"] = 1.5
    raw["throughput"]["p50_latency"] = 0.2
    raw["results"]["e2e_arith"]["new_metric,none"] = 0.5
    raw["results"]["e2e_arith"]["new_metric_stderr,none"] = 0.1
    raw["results"]["e2e_arith"]["note"] = "not a metric: no comma"
    path = _write(tmp_path / "20270101_000000_results.json", json.dumps(raw))

    results = EvalResults.load(path)
    assert results["provenance"] == {"cluster": "a100-pool", "attempt": 2}
    assert results.model_extra is not None and results.model_extra["provenance"]["attempt"] == 2
    assert results.n_samples["e2e_arith"].model_extra == {"skipped": 0}
    assert results.config is not None and results.config.model_extra is not None
    assert results.config.model_extra["scheduler"] == "slurm"
    assert results.configs["e2e_arith"].model_extra is not None
    assert results.configs["e2e_arith"].model_extra["judge"] == {"model": "gpt-x"}
    assert results.usage is not None and results.usage.total is not None
    assert results.usage.total.model_extra == {"cached_tokens": 7}
    assert results.efficiency is not None and results.efficiency.overall is not None
    assert results.efficiency.overall.model_extra == {"energy_wh": 1.5}
    assert results.throughput is not None
    assert results.throughput.model_extra == {"p50_latency": 0.2}
    new = results.metric("e2e_arith", "new_metric")
    assert (new.value, new.stderr) == (0.5, 0.1)
    assert results["results"]["e2e_arith"]["note"] == "not a metric: no comma"
    assert {m.name for m in results.metrics if m.task == "e2e_arith"} == {
        "exact_match",
        "new_metric",
    }


def test_newer_samples_keys_are_kept(tmp_path: Path) -> None:
    record = json.loads(SINGLE_SAMPLES.read_bytes().splitlines()[0])
    record["judge_verdict"] = {"ok": True}
    path = _write(tmp_path / "20261202_055237_samples_e2e_arith.jsonl", json.dumps(record))
    (tmp_path / "20261202_055237_results.json").write_bytes(SINGLE.read_bytes())

    # alone, every unknown key may be a metric
    (alone,) = iter_samples(path)
    assert alone.metrics == {"exact_match": 1.0, "judge_verdict": {"ok": True}}
    # through the results, the task's metric names are known: the rest stays extra
    (sample,) = EvalResults.load(tmp_path / "20261202_055237_results.json").samples("e2e_arith")
    assert sample.metrics == {"exact_match": 1.0}
    assert sample.model_extra == {"judge_verdict": {"ok": True}}


def test_text_metric_values_are_kept_raw() -> None:
    results = EvalResults.from_json(
        '{"results": {"t": {"alias": "t", "submission,none": "written to sub.json",'
        ' "acc,none": "0.25", "acc_stderr,none": "N/A", "detail,none": {"a": 1}}}}'
    )
    sub = results.metric("t", "submission")
    assert (sub.value, sub.raw) == (None, "written to sub.json")
    acc = results.metric("t", "acc")
    assert (acc.value, acc.stderr, acc.stderrs) == (0.25, None, {"stderr": None})
    assert results.metric("t", "detail").raw == {"a": 1}
    assert "written to sub.json" in results.table()


def test_from_json_names_the_source() -> None:
    with pytest.raises(ResultsFormatError, match=r"^<results JSON>: "):
        EvalResults.from_json("{")
    with pytest.raises(ResultsFormatError, match=r"^/srv/x.json: "):
        EvalResults.from_json("{", path="/srv/x.json")


def test_text_with_a_lone_surrogate_is_a_format_error() -> None:
    # An adversarial try: a file with one byte that is not UTF-8, read with
    # errors="surrogateescape", then from_json(text): a raw TypeError ("Expected bytes,
    # bytearray or str") from the JSON parser.
    raw = b'{"results": {"t": {"acc,none": 1}}, "model_name": "caf\xe9"}'
    text = raw.decode("utf-8", errors="surrogateescape")
    with pytest.raises(ResultsFormatError) as caught:
        EvalResults.from_json(text, path="/srv/x_results.json")
    assert str(caught.value).startswith("/srv/x_results.json: not valid text")
    assert "character 55" in caught.value.reason and caught.value.path == "/srv/x_results.json"


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda r: r.metric("e2e_arith", None), "name must be a str"),
        (lambda r: r.metric(None, "exact_match"), "task must be a str"),
        (lambda r: type(r).from_json(5), "data must be the file's text"),
        (lambda r: type(r).from_json(None), "data must be the file's text"),
        (lambda r: type(r).from_json(memoryview(b"{}")), "data must be the file's text"),
        (lambda r: next(r.samples(["e2e_arith"])), "task must be a str"),
    ],
)
def test_an_argument_of_the_wrong_type_is_an_invalid_argument(call: Any, says: str) -> None:
    # Before: a raw TypeError or AttributeError; from_json(None) said "an empty file".
    results = EvalResults.from_json(json.dumps({"results": {"e2e_arith": {}}}))
    with pytest.raises(InvalidArgumentError, match=says):
        call(results)


@pytest.mark.parametrize("model", [5, ["stub-model"], b"stub-model"], ids=repr)
def test_a_model_of_the_wrong_type_is_an_invalid_argument_before_anything_is_read(
    model: Any,
) -> None:
    # Before: AttributeError ('int' object has no attribute 'split') or TypeError (unhashable).
    with pytest.raises(InvalidArgumentError, match="model must be a str"):
        load_job_results(completed_job(), model=model)
    with (
        respx.mock(assert_all_called=False) as mock,
        EvalClient("http://lmms.test") as client,
        pytest.raises(InvalidArgumentError, match="model must be a str"),
    ):
        client.load_results("some-job", model=model)
    assert mock.calls.call_count == 0


def _with_n_shot(n_shot: object, tmp_path: Path) -> EvalResults:
    data = json.loads(SINGLE.read_text())
    data["n-shot"] = {"e2e_arith": n_shot}
    data["n-samples"] = {"e2e_arith": {"original": 4, "effective": n_shot}}
    return EvalResults.load(_write(tmp_path / "x_results.json", json.dumps(data)))


@pytest.mark.parametrize("huge", [2**63, 10**30, -(2**63) - 1])
def test_counts_beyond_64_bits_are_missing_in_the_frame(tmp_path: Path, huge: int) -> None:
    # Before: TypeError (cannot safely cast uint64 to int64) or OverflowError.
    pytest.importorskip("pandas")
    frame = _with_n_shot(huge, tmp_path).to_pandas()
    assert frame["n_shot"].isna().all() and frame["n_samples"].isna().all()


def test_a_text_n_shot_cannot_add_a_row_to_the_table(tmp_path: Path) -> None:
    # Before: the n-shot cell was the file's text as it was: a newline forged a row.
    forged = "0\nFAKE ROW  none  0 exact_match ↑ 1.0000"
    table = _with_n_shot(forged, tmp_path).table()
    assert "FAKE ROW" in table and len(table.splitlines()) == len(
        _with_n_shot(0, tmp_path).table().splitlines()
    )
