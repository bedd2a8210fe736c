"""Every file the real lmms-eval 0.7.3 server wrote (tests/data) reads as it should."""

from __future__ import annotations

import json
import math

import pytest

from lmms_eval_client import (
    EvalResults,
    EvaluationConfig,
    InvalidArgumentError,
    JobInfo,
    Metric,
    MetricNotFoundError,
    Sample,
    SamplesNotFoundError,
    TaskConfig,
    eval_log_tail,
    iter_samples,
)
from lmms_eval_client._results.eval_log import eval_log_server_path, output_dir_of_job

from .conftest import (
    DATA,
    FAILED_ERROR,
    GROUP,
    PREDICT_ONLY,
    SINGLE,
    SINGLE_LOG,
    SINGLE_SAMPLES,
    failed_job,
)


def test_every_fixture_file_is_covered() -> None:
    covered = {SINGLE, GROUP, PREDICT_ONLY, SINGLE_SAMPLES, SINGLE_LOG, FAILED_ERROR}
    covered |= {DATA / "failed" / "failed_job.json", DATA / "README.md"}
    covered |= set((DATA / "group").glob("*.jsonl"))
    assert {p for p in DATA.rglob("*") if p.is_file()} == covered


# -- single task ----------------------------------------------------------------------------


def test_single_task_metric_value_and_stderr() -> None:
    results = EvalResults.load(SINGLE)
    metric = results.metric("e2e_arith", "exact_match", "none")
    assert metric.value == 0.8
    assert metric.stderr == pytest.approx(0.2)
    assert metric.stderrs == {
        "stderr": pytest.approx(0.2),
        "stderr_clt": pytest.approx(0.2),
        "stderr_clustered": None,  # "N/A" in the file
    }
    assert metric.higher_is_better is True
    assert metric.is_group is False
    assert metric.alias == "e2e_arith"
    assert metric.key == "exact_match,none"
    assert float(metric) == 0.8


def test_single_task_lists_one_metric_and_no_stderr_rows() -> None:
    results = EvalResults.load(SINGLE)
    assert [(m.task, m.name, m.filter) for m in results.metrics] == [
        ("e2e_arith", "exact_match", "none")
    ]
    assert results.tasks == ["e2e_arith"]
    assert results.group_names == []
    assert results.subtasks("e2e_arith") == []


def test_the_files_key_form_finds_the_metric_too() -> None:
    results = EvalResults.load(SINGLE)
    assert results.metric("e2e_arith", "exact_match,none") == results.metric(
        "e2e_arith", "exact_match"
    )


def test_a_key_and_another_filter_are_refused_not_one_of_them_ignored() -> None:
    # An adversarial try: metric("t", "exact_match,none", filter="strict-match") returned
    # the `none` row, the filter given ignored.
    results = EvalResults.load(SINGLE)
    with pytest.raises(InvalidArgumentError, match="strict-match"):
        results.metric("e2e_arith", "exact_match,none", filter="strict-match")
    assert results.metric("e2e_arith", "exact_match,none", filter="none").value == 0.8


def test_single_task_sections_are_typed() -> None:
    results = EvalResults.load(SINGLE)
    assert results.model_name == "stub-model"
    assert results.model_name_sanitized == "stub-model"
    assert results.n_samples["e2e_arith"].original == 5
    assert results.n_samples["e2e_arith"].effective == 5
    assert results.n_shot == {"e2e_arith": 0}
    assert results.versions == {"e2e_arith": 0.1}
    assert results.higher_is_better == {"e2e_arith": {"exact_match": True}}
    assert results.date == "20261202_055237"
    # a string in the file, a number here
    assert results.total_evaluation_time_seconds == pytest.approx(4.332851740000024)
    assert results.start_time == pytest.approx(1429.150897352)

    config = results.config
    assert isinstance(config, EvaluationConfig)
    assert config.model == "openai"
    assert isinstance(config.model_args, str) and "api_key=[REDACTED]" in config.model_args
    assert config.batch_size == 1
    assert config.limit is None
    assert config.bootstrap_iters == 100000
    assert config.resolved_cli_args is not None
    assert config.resolved_cli_args["output_path"] == "/srv/evals/a"

    task = results.configs["e2e_arith"]
    assert isinstance(task, TaskConfig)
    assert task.output_type == "generate_until"
    assert task.num_fewshot == 0
    assert task.metric_list == [
        {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}
    ]
    # keys the model does not type are kept
    assert task.model_extra is not None and task.model_extra["doc_to_target"] == "answer"


def test_throughput_usage_and_efficiency_of_an_api_model() -> None:
    results = EvalResults.load(SINGLE)
    assert results.throughput is not None
    assert results.throughput.total_gen_tokens == 5
    assert results.throughput.avg_speed == pytest.approx(3.4792020347460326)
    assert results.usage is not None and results.usage.total is not None
    assert results.usage.total.input_tokens == 61
    assert results.usage.total.n_api_calls == 5
    assert results.usage.by_source["model"].total_tokens == 66
    assert results.usage.budget_exceeded is False
    assert results.efficiency is not None
    assert results.efficiency.by_task["e2e_arith"].tokens_per_correct_answer == 1.25
    assert results.efficiency.overall is not None
    assert results.efficiency.overall.total_correct_score == 4.0


def test_keys_read_as_in_the_json() -> None:
    results = EvalResults.load(SINGLE)
    raw = json.loads(SINGLE.read_text())
    assert results["results"] == raw["results"]
    assert results["results"]["e2e_arith"]["exact_match,none"] == 0.8
    assert results["n-samples"]["e2e_arith"].effective == 5
    assert results.get("task_hashes") == raw["task_hashes"]
    assert results.get("no such key", "dflt") == "dflt"
    with pytest.raises(KeyError):
        results["no such key"]


def test_dumping_by_alias_gives_back_the_files_keys() -> None:
    raw = json.loads(SINGLE.read_text())
    dumped = EvalResults.load(SINGLE).model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert set(dumped) == set(raw)
    assert dumped["results"] == raw["results"]
    assert dumped["n-samples"] == raw["n-samples"]


def test_missing_metric_names_what_is_available() -> None:
    results = EvalResults.load(SINGLE)
    with pytest.raises(MetricNotFoundError) as caught:
        results.metric("e2e_arith", "acc")
    err = caught.value
    assert isinstance(err, KeyError)
    assert "e2e_arith: exact_match,none" in str(err)
    assert str(SINGLE) in str(err)
    assert (err.task, err.name, err.filter) == ("e2e_arith", "acc", "none")
    assert err.available == ["e2e_arith: exact_match,none"]

    with pytest.raises(MetricNotFoundError, match="no task or group 'mme'"):
        results.metric("mme", "exact_match")
    with pytest.raises(MetricNotFoundError, match="exact_match,strict"):
        results.metric("e2e_arith", "exact_match", "strict")


def test_table_shows_value_and_stderr() -> None:
    table = EvalResults.load(SINGLE).table()
    lines = table.splitlines()
    assert lines[0].split() == ["Task", "Filter", "n-shot", "Metric", "Value", "Stderr"]
    assert lines[2].split() == [
        "e2e_arith",
        "none",
        "0",
        "exact_match",
        "↑",
        "0.8000",
        "±",
        "0.2000",
    ]
    assert str(EvalResults.load(SINGLE)) == table


def test_repr_is_short() -> None:
    text = repr(EvalResults.load(SINGLE))
    assert text.startswith("EvalResults(model='stub-model', tasks=['e2e_arith'], path=")
    assert len(text) < 300  # not the whole configs


def test_samples_beside_a_loaded_results_file() -> None:
    results = EvalResults.load(SINGLE)
    assert results.sample_files == {"e2e_arith": str(SINGLE_SAMPLES)}
    samples = list(results.samples("e2e_arith"))
    assert [s.doc_id for s in samples] == [0, 1, 2, 3, 4]
    assert [s.metrics["exact_match"] for s in samples] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert sum(s.score("exact_match") or 0.0 for s in samples) / 5 == pytest.approx(
        results.metric("e2e_arith", "exact_match").value
    )


def test_samples_file_rows() -> None:
    samples = list(iter_samples(SINGLE_SAMPLES))
    assert len(samples) == 5
    last = samples[-1]
    assert isinstance(last, Sample)
    assert last.doc_id == 4
    assert last.target == "Paris"
    assert last.filtered_resps == "unknown"
    assert last.resps is None  # the same as filtered_resps, so lmms-eval left it out
    assert last.input == "Answer with a single number or word. What is the capital of France?"
    assert last.metrics == {"exact_match": 0.0}
    assert last.score("exact_match") == 0.0
    assert last.score("no such metric") is None
    assert last.token_counts[0] is not None and last.token_counts[0].input_tokens == 13
    assert (last.input_tokens, last.output_tokens) == (13, 1)
    assert last.doc_hash is not None and len(last.doc_hash) == 64


def test_samples_of_a_predict_only_run_are_absent() -> None:
    results = EvalResults.load(PREDICT_ONLY)
    assert results.sample_files == {}
    with pytest.raises(SamplesNotFoundError, match="log_samples") as caught:
        results.samples("e2e_arith")
    assert isinstance(caught.value, KeyError)
    assert caught.value.task == "e2e_arith"
    assert caught.value.available == []


# -- a group --------------------------------------------------------------------------------


def test_group_is_a_group_with_two_subtasks() -> None:
    results = EvalResults.load(GROUP)
    assert results.group_names == ["e2e_suite"]
    assert results.is_group("e2e_suite")
    assert not results.is_group("e2e_arith")
    assert results.subtasks("e2e_suite") == ["e2e_arith", "e2e_arith_fewshot"]
    assert results.tasks == ["e2e_arith", "e2e_arith_fewshot"]

    group = results.metric("e2e_suite", "exact_match")
    assert group.is_group is True
    assert group.value == 0.8
    assert group.stderr == pytest.approx(0.1414213562373095)
    assert group.stderrs == {"stderr": pytest.approx(0.1414213562373095)}
    sub = results.metric("e2e_arith_fewshot", "exact_match")
    assert sub.is_group is False
    assert sub.alias == " - e2e_arith_fewshot"
    assert [m.task for m in results.metrics] == ["e2e_suite", "e2e_arith", "e2e_arith_fewshot"]


def test_group_has_no_version_and_no_n_shot() -> None:
    results = EvalResults.load(GROUP)
    assert "e2e_suite" not in results.versions
    assert "e2e_suite" not in results.n_shot
    assert results.higher_is_better["e2e_suite"] == {"exact_match": True}


def test_group_table_indents_subtasks() -> None:
    lines = EvalResults.load(GROUP).table().splitlines()
    assert lines[2].startswith("e2e_suite ")
    assert lines[3].startswith(" - e2e_arith ")
    assert lines[4].startswith(" - e2e_arith_fewshot ")


def test_group_samples_are_per_subtask() -> None:
    results = EvalResults.load(GROUP)
    assert sorted(results.sample_files) == ["e2e_arith", "e2e_arith_fewshot"]
    assert len(list(results.samples("e2e_arith_fewshot"))) == 5
    with pytest.raises(SamplesNotFoundError, match="is a group") as caught:
        results.samples("e2e_suite")
    assert caught.value.available == ["e2e_arith", "e2e_arith_fewshot"]
    with pytest.raises(SamplesNotFoundError, match="no task 'mme'"):
        results.samples("mme")


# -- predict_only ---------------------------------------------------------------------------


def test_predict_only_gives_bypass_without_stderr() -> None:
    results = EvalResults.load(PREDICT_ONLY)
    metric = results.metric("e2e_arith", "bypass")
    assert metric == Metric(
        task="e2e_arith",
        name="bypass",
        filter="none",
        value=999.0,
        raw=999,
        stderr=None,
        stderrs={"stderr": None, "stderr_clt": None, "stderr_clustered": None},
        higher_is_better=True,
        is_group=False,
        alias="e2e_arith",
    )
    assert results.config is not None
    assert results.config.resolved_cli_args is not None
    assert results.config.resolved_cli_args["predict_only"] is True
    assert results.efficiency is not None
    assert results.efficiency.overall is not None
    assert results.efficiency.overall.tokens_per_correct_answer is None
    row = results.table().splitlines()[2].split()
    assert row[-2:] == ["999", "N/A"]


# -- the failed job and the evaluation log -------------------------------------------------


def test_failed_job_error_is_the_error_text_file() -> None:
    job = failed_job()
    assert isinstance(job, JobInfo)
    assert job.error == FAILED_ERROR.read_text()


def test_failed_job_names_its_log_and_output_dir() -> None:
    job = failed_job()
    assert eval_log_server_path(job) == "/srv/evals/fail/eval-20261201-215603.log"
    assert output_dir_of_job(job) == "/srv/evals/fail"


def test_eval_log_tail_is_plain_text_without_secrets() -> None:
    tail = eval_log_tail(SINGLE_LOG, lines=500)
    assert "\x1b[" not in tail
    assert "\r" not in tail
    assert "sk-e2e-stub" not in tail  # the log shows model_args as given
    assert "api_key=[REDACTED]" in tail
    assert "Saving samples to /srv/evals/a/stub-model/" in tail
    # a progress bar's redraws: only what a terminal shows last
    assert "Model Responding: 100%" in tail and "Model Responding:   0%" not in tail


def test_eval_log_tail_lines() -> None:
    text = SINGLE_LOG.read_bytes().decode()  # not read_text(): it would turn \r into \n
    assert text.endswith("tokens/s|\n\n")  # the log ends with a blank line
    rows = text.split("\n")[:-1]  # the lines of the file, as `tail` counts them
    assert eval_log_tail(SINGLE_LOG, lines=3, plain=False, redact=False) == "\n".join(rows[-3:])
    assert eval_log_tail(SINGLE_LOG, lines=2).splitlines() == [
        "|total_elapsed_time|1.4371|seconds |",
        "|avg_speed         |3.4792|tokens/s|",
    ]  # plain: no trailing blank lines
    assert eval_log_tail(SINGLE_LOG, lines=0) == ""
    raw = eval_log_tail(SINGLE_LOG, lines=10_000, plain=False, redact=False)
    assert raw == "\n".join(rows)
    assert "sk-e2e-stub" in raw


def test_eval_log_tail_of_an_output_dir() -> None:
    assert eval_log_tail(DATA / "single", lines=2) == eval_log_tail(SINGLE_LOG, lines=2)


def test_nan_stays_a_number() -> None:
    results = EvalResults.from_json('{"results": {"t": {"acc,none": NaN}}}')
    assert math.isnan(results.metric("t", "acc").value or 0.0)
