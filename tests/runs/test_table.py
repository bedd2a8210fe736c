"""The run as one table (issue 21): ``metrics()``, ``to_pandas()`` and ``best()``, both run
classes, against the local server; the metric rows are read with the summary, in one read
of the results files, and recorded in the ledger beside it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    CorruptLedgerError,
    EvalResults,
    InvalidArgumentError,
    JobCompleted,
    JobInfo,
    MetricRow,
    MissingDependencyError,
)
from lmms_eval_client._results import files
from lmms_eval_client._results.files import results_summary, summary_and_metric_rows
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.table import best_row, table_frame
from lmms_eval_client.testing import LocalServer

from ._support import LedgerTarget
from .conftest import MakeRunner

DATA = Path(__file__).resolve().parent.parent / "data" / "real-lmms-eval-0.7.3"
NOWHERE = "http://127.0.0.1:9"  # a run's client that sends nothing: the ledger is made here
TASKS = ["mme", "ai2d"]


async def three_steps(runner: Any) -> list[JobCompleted]:
    """A 3-step run: a checkpoint per step (its own model name), labelled {"step": n}."""
    for step in range(3):
        model_args = {"pretrained": f"my-org/ckpt-{step}"}
        await runner.submit("qwen2_vl", TASKS, model_args=model_args, labels={"step": step})
    outcomes = await runner.completed(timeout=60)
    assert all(isinstance(o, JobCompleted) for o in outcomes), outcomes
    return sorted(outcomes, key=lambda o: o.job.seq)  # type: ignore[return-value]


def results_files(outcome: JobCompleted) -> EvalResults:
    (files_,) = (outcome.info.result or {}).values()
    assert files_.results is not None
    return EvalResults.load(files_.results)


async def test_metrics_are_a_row_per_completed_job_task_and_metric(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    outcomes = await three_steps(runner)
    rows = await runner.metrics()
    assert [(r.seq, r.labels["step"], r.task) for r in rows] == [
        (o.job.seq, step, task) for step, o in enumerate(outcomes) for task in sorted(TASKS)
    ]
    for row in rows:
        outcome = outcomes[row.labels["step"]]
        expected = results_files(outcome).metric(row.task, "exact_match")
        assert row.model == f"my-org__ckpt-{row.labels['step']}"  # one model name per step
        assert (row.metric, row.filter, row.higher_is_better) == ("exact_match", "none", True)
        assert row.value == expected.value and row.stderr == expected.stderr
        assert row.stderr is not None and row.stderr > 0
        assert (row.job_id, row.server, row.key) == (outcome.job_id, local_server.url, None)
        # the summary, public, keeps its format
        assert outcome.summary is not None
        assert outcome.summary[row.model][row.task] == {"exact_match,none": row.value}
    # filters ignore the model (a name per checkpoint)
    mme = await runner.metrics(task="mme")
    assert [r.labels["step"] for r in mme] == [0, 1, 2] and {r.task for r in mme} == {"mme"}
    assert len(await runner.metrics(metric="exact_match")) == 6
    assert await runner.metrics(task="mme", metric="no_such_metric") == []
    with pytest.raises(InvalidArgumentError, match="task must be a non-empty str"):
        await runner.metrics(task="")


async def test_to_pandas_puts_labels_in_columns_so_metric_vs_step_is_one_line(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    await three_steps(runner)
    frame = await runner.to_pandas()
    assert list(frame.columns) == [
        "seq", "key", "step", "model", "task", "metric", "filter", "value", "stderr",
        "higher_is_better",
    ]  # fmt: skip
    curve = frame.query("metric == 'exact_match' and task == 'mme'").set_index("step")["value"]
    rows = await runner.metrics(task="mme")
    assert curve.to_dict() == {r.labels["step"]: r.value for r in rows}
    pivot = frame.pivot_table(index="step", columns="task", values="value")
    assert list(pivot.index) == [0, 1, 2] and sorted(pivot.columns) == sorted(TASKS)
    assert str(frame["value"].dtype) == "float64" and str(frame["stderr"].dtype) == "float64"


def row(seq: int, value: float | None, **fields: Any) -> MetricRow:
    base: dict[str, Any] = {
        "seq": seq, "key": None, "labels": {"step": seq}, "job_id": f"j{seq}",
        "server": NOWHERE, "model": f"m{seq}", "task": "t", "metric": "acc", "filter": "none",
        "value": value, "stderr": None, "higher_is_better": True,
    }  # fmt: skip
    return MetricRow(**{**base, **fields})


def test_to_pandas_prefixes_a_label_named_like_a_column_and_keeps_an_empty_table_typed() -> None:
    rows = [row(1, 0.5, labels={"model": "ckpt-1", "step": 1}), row(2, 0.6, labels={"lr": 3})]
    frame = table_frame(rows)
    assert list(frame.columns)[:5] == ["seq", "key", "label.model", "step", "lr"]
    assert frame["label.model"].tolist()[0] == "ckpt-1" and frame["model"].tolist() == ["m1", "m2"]
    assert math.isnan(frame["lr"].tolist()[0])  # a label a job does not have
    empty = table_frame([])
    assert list(empty.columns) == [
        "seq", "key", "model", "task", "metric", "filter", "value", "stderr", "higher_is_better"
    ]  # fmt: skip


def test_to_pandas_without_pandas_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "pandas", None)
    with pytest.raises(MissingDependencyError, match=r"EvalRun.to_pandas\(\) needs pandas"):
        table_frame([])


async def test_best_picks_by_the_metrics_direction(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    await three_steps(runner)
    rows = await runner.metrics(task="mme", metric="exact_match")
    best = await runner.best("mme", "exact_match")
    assert best is not None and best.value == max(r.value or 0 for r in rows)
    assert best == next(r for r in rows if r.value == best.value)  # the earliest of equals
    worst = await runner.best("mme", "exact_match", "none", higher_is_better=False)
    assert worst is not None and worst.value == min(r.value or 0 for r in rows)
    assert await runner.best("mme", "no_such_metric") is None
    assert await runner.best("mme", "exact_match", filter="flexible-extract") is None


def test_best_ties_go_to_the_earliest_seq_and_values_that_are_no_number_never_win() -> None:
    rows = [row(1, None), row(2, math.nan), row(3, 0.7), row(4, 0.7), row(5, 0.1)]
    assert best_row(rows, "t", "acc", None, None) == rows[2]
    assert best_row(rows, "t", "acc", None, False) == rows[4]
    down = [row(1, 2.0, higher_is_better=False), row(2, 1.0, higher_is_better=False)]
    assert best_row(down, "t", "acc", None, None) == down[1]  # lower is better, as stated
    assert best_row([row(1, None)], "t", "acc", None, None) is None
    both = [row(1, 0.5), row(2, 0.9, filter="strict")]
    with pytest.raises(InvalidArgumentError, match=r"several filters .*none, strict.*filter="):
        best_row(both, "t", "acc", None, None)
    assert best_row(both, "t", "acc", "strict", None) == both[1]
    with pytest.raises(InvalidArgumentError, match="higher_is_better must be a bool"):
        best_row(rows, "t", "acc", None, 1)  # type: ignore[arg-type]


# -- ledgers made by hand: summaries only, retried chains ---------------------------------


def request() -> Any:
    from lmms_eval_api.models import EvaluateRequest

    return EvaluateRequest.from_dict({"model": "qwen2_vl", "tasks": ["mme"]})


def add_job(ledger: Ledger, state: str, labels: dict[str, Any], retry_of: int | None = None) -> int:
    """A job in ``state`` as the run records one (its retry's first attempt: ``retry_of``)."""
    failed = None if retry_of is None else ledger.job(retry_of)
    job = ledger.record_intent(
        token=f"t{len(ledger.jobs())}", labels=labels, request=request(), server=NOWHERE,
        owner="o", snapshot={}, retry_of=failed,
    )  # fmt: skip
    ledger.record_answer(job.seq, f"job-{job.seq}", "queued", "answer", None)
    ledger.record_status(job.seq, state, None)
    return job.seq


SUMMARY = {
    "my-org__ckpt-1": {
        "mme": {"exact_match,none": 0.5, "exact_match_stderr,none": 0.1, "f1,none": "NaN"}
    }
}


async def test_a_ledger_with_summaries_only_still_gives_rows(
    make_runner: MakeRunner, tmp_path: Path
) -> None:
    path = tmp_path / "old.sqlite"
    ledger = Ledger(path)
    try:
        one = add_job(ledger, "completed", {"step": 1})
        ledger.record_summary(one, SUMMARY)  # no metric rows: as earlier versions recorded
        other = add_job(ledger, "completed", {"step": 2})
        ledger.record_summary(other, {"accuracy": 0.5})  # a summarize= of its own shape
        ledger.record_summary(add_job(ledger, "completed", {"step": 3}), {"m": {"t": [1]}})
    finally:
        ledger.close()
    runner = make_runner(NOWHERE, path)
    rows = await runner.metrics()
    assert [(r.seq, r.model, r.task, r.metric, r.filter) for r in rows] == [
        (one, "my-org__ckpt-1", "mme", "exact_match", "none"),
        (one, "my-org__ckpt-1", "mme", "f1", "none"),
    ]
    assert (rows[0].value, rows[0].stderr, rows[0].higher_is_better) == (0.5, 0.1, None)
    assert rows[1].value is not None and math.isnan(rows[1].value)  # NaN kept as a float
    # the direction is not known from a summary: best() says what to pass
    with pytest.raises(InvalidArgumentError, match="do not say whether a higher mme: "
                       "exact_match is better: pass higher_is_better=True or False"):  # fmt: skip
        await runner.best("mme", "exact_match")
    assert await runner.best("mme", "exact_match", higher_is_better=True) == rows[0]


async def test_a_summary_recorded_by_the_caller_replaces_the_jobs_rows(
    make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    ledger = Ledger(path)
    try:
        seq = add_job(ledger, "completed", {"step": 1})
        read = summary_and_metric_rows(job_at(DATA / "single" / "20261202_055237_results.json"))
        assert read is not None
        ledger.record_summary(seq, *read)  # as a poll records them
    finally:
        ledger.close()
    runner = make_runner(NOWHERE, path)
    (before,) = await runner.metrics()
    assert (before.model, before.task, before.higher_is_better) == ("stub-model", "e2e_arith", True)
    await runner.record_summary(seq, SUMMARY)
    assert [(r.task, r.metric) for r in await runner.metrics()] == [
        ("mme", "exact_match"),
        ("mme", "f1"),
    ]


async def test_a_retried_chain_counts_once_under_its_key(
    make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    ledger = Ledger(path)
    try:
        first = add_job(ledger, "failed", {"step": 1})
        ledger.record_summary(first, SUMMARY)  # never counted: superseded (and failed)
        second = add_job(ledger, "failed", {"step": 1}, retry_of=first)
        final = add_job(ledger, "completed", {"step": 1}, retry_of=second)
        ledger.record_summary(final, SUMMARY)
        for state in ("failed", "cancelled", "lost"):
            ledger.record_summary(add_job(ledger, state, {"step": 9}), SUMMARY)
        with ledger.transaction("giving the chain a key") as conn:  # what submit(key=) writes
            conn.execute("UPDATE jobs SET submission_key = 'step-1' WHERE seq = ?", (first,))
    finally:
        ledger.close()
    runner = make_runner(NOWHERE, path)
    rows = await runner.metrics(metric="exact_match")
    assert [(r.seq, r.key, r.job_id) for r in rows] == [(final, "step-1", f"job-{final}")]


async def test_reading_the_table_is_one_query_whatever_the_number_of_jobs(
    make_runner: MakeRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    ledger_target: LedgerTarget,
) -> None:
    path = ledger_target
    ledger = Ledger(path)
    try:
        for step in range(30):
            ledger.record_summary(add_job(ledger, "completed", {"step": step}), SUMMARY)
    finally:
        ledger.close()
    runner = make_runner(NOWHERE, path)
    queries: list[str] = []
    real_rows = Ledger.rows
    monkeypatch.setattr(
        Ledger, "rows", lambda self, *a: queries.append(a[0]) or real_rows(self, *a)
    )
    assert len(await runner.metrics()) == 60
    assert len(queries) == 1


@pytest.mark.parametrize(
    "stored",
    ['{"rows": []}', '[{"model": "m"}]', '[{"model": 1, "task": "t", "metric": "a", '
     '"filter": "none", "value": 1, "stderr": null, "higher_is_better": null}]', "[{"],
)  # fmt: skip
async def test_damaged_metric_rows_are_a_corrupt_ledger_naming_the_job(
    make_runner: MakeRunner, tmp_path: Path, stored: str
) -> None:
    path = tmp_path / "damaged.sqlite"
    ledger = Ledger(path)
    try:
        seq = add_job(ledger, "completed", {"step": 1})
        ledger.record_summary(seq, SUMMARY)
        with ledger.transaction("damaging it") as conn:
            conn.execute("UPDATE jobs SET metrics = ? WHERE seq = ?", (stored, seq))
    finally:
        ledger.close()
    runner = make_runner(NOWHERE, path)
    with pytest.raises(CorruptLedgerError, match=f"unreadable metric rows of job {seq}"):
        await runner.metrics()


# -- one read of the results files: the summary and the rows ------------------------------


def job_at(results: Path) -> JobInfo:
    return JobInfo.model_validate(
        {
            "job_id": "4c1e7f52",
            "status": "completed",
            "created_at": "2026-12-01T21:52:03",
            "request": {"model": "openai", "tasks": ["e2e_arith"]},
            "result": {"stub-model": {"results": str(results), "samples": []}},
        }
    )


@pytest.mark.parametrize(
    ("folder", "expected"),
    [
        ("single", [("e2e_arith", "exact_match", 0.8, 0.19999999999999998)]),
        (
            "group",
            [
                ("e2e_suite", "exact_match", 0.8, 0.1414213562373095),
                ("e2e_arith", "exact_match", 0.8, 0.19999999999999998),
                ("e2e_arith_fewshot", "exact_match", 0.8, 0.19999999999999998),
            ],
        ),
        ("predict_only", [("e2e_arith", "bypass", 999.0, None)]),  # its stderr is "N/A"
    ],
)
def test_the_real_servers_files_give_the_summary_and_the_rows_in_one_read(
    folder: str, expected: list[tuple[Any, ...]], monkeypatch: pytest.MonkeyPatch
) -> None:
    (results,) = (DATA / folder).glob("*_results.json")
    loads: list[str] = []
    real_load = files._load
    monkeypatch.setattr(files, "_load", lambda *a: loads.append("x") or real_load(*a))
    read = summary_and_metric_rows(job_at(results))
    assert read is not None and len(loads) == 1
    summary, rows = read
    assert summary == results_summary(job_at(results))  # the public summary, unchanged
    assert [(r["task"], r["metric"], r["value"], r["stderr"]) for r in rows] == expected
    assert {(r["model"], r["filter"], r["higher_is_better"]) for r in rows} == {
        ("stub-model", "none", True)
    }
    json.dumps(rows, allow_nan=False)  # what the ledger keeps: strict JSON


async def test_a_poll_reads_a_completed_jobs_files_once_and_records_its_rows(
    make_runner: MakeRunner, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real_load = files._load
    monkeypatch.setattr(files, "_load", lambda *a: loads.append("x") or real_load(*a))
    runner = make_runner(local_server.url)
    outcomes = await three_steps(runner)
    assert len(loads) == 3  # one results file per job, read once for summary and rows
    stored = runner.run._ledger.rows("SELECT seq, metrics FROM jobs ORDER BY seq")
    for outcome, record in zip(outcomes, stored, strict=True):
        rows = json.loads(record["metrics"])
        assert [r["task"] for r in rows] == sorted(TASKS)
        assert all(r["stderr"] is not None and r["higher_is_better"] for r in rows)
        assert outcome.summary is not None and set(outcome.summary) == {rows[0]["model"]}
