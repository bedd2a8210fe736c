"""MLflowSink against a real `mlflow server` (SQLite store, loopback), read back with
MlflowClient.get_metric_history."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lmms_eval_api.models import EvaluateRequest
from lmms_eval_client import InvalidArgumentError, MLflowSink, export_to
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._trackers.writes import LedgerSinkWrites, MemorySinkWrites, deliver

from ._mlflow import MlflowServer
from ._outage import outage_in_front_of
from ._rows import Row, job

pytestmark = pytest.mark.usefixtures("mlflow_env")

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

REQUEST = EvaluateRequest.from_dict({"model": "qwen2_vl", "tasks": ["mme"]})


def reader(url: str) -> MlflowClient:
    # ~4 s to import: only on the worker that runs these tests, not at every collection
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=url)


def history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    points = [(m.step, m.value) for m in client.get_metric_history(run_id, key)]
    print(f"mlflow read-back {key}: {points}")
    return points


def test_values_land_at_their_steps_whatever_order_jobs_finish_in(
    mlflow_server: MlflowServer,
) -> None:
    sink = MLflowSink(tracking_uri=mlflow_server.url, experiment="evals", run_name="order")
    writes = MemorySinkWrites()
    finished: dict[int, list[Row]] = {}
    # jobs submitted at steps 100, 200, 300 finish in the order 3, 1, 2
    for seq, step, value in [(3, 300, 0.3), (1, 100, 0.1), (2, 200, 0.2)]:
        finished[seq] = job(seq, step, mme__acc=value, mmmu__acc=value + 0.5)
        deliver([sink], finished, writes)
    client = reader(mlflow_server.url)
    assert history(client, sink.run_id, "eval/mme/acc") == [(300, 0.3), (100, 0.1), (200, 0.2)]
    assert sorted(history(client, sink.run_id, "eval/mmmu/acc")) == [
        (100, 0.6), (200, 0.7), (300, 0.8),
    ]  # fmt: skip
    assert sink.name == f"mlflow:{mlflow_server.url}:{sink.run_id}"


def test_a_resumed_run_writes_each_value_once(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    ledger = Ledger(path)
    for i in range(3):
        ledger.record_intent(
            token=f"t{i}", labels={}, request=REQUEST, server="s", owner="o", snapshot={}
        )
    first = MLflowSink(tracking_uri=mlflow_server.url, experiment="evals", run_name="resume")
    jobs = {1: job(1, 10, mme__acc=0.1), 2: job(2, 20, mme__acc=0.2)}
    assert deliver([first], jobs, LedgerSinkWrites(ledger)) == {first.name: [1, 2]}
    ledger.close()  # the process ends

    ledger = Ledger(path)  # and a new one resumes the run: same MLflow run, found by name
    again = MLflowSink(tracking_uri=mlflow_server.url, experiment="evals", run_name="resume")
    assert again.name == first.name
    jobs[3] = job(3, 30, mme__acc=0.3)
    assert deliver([again], jobs, LedgerSinkWrites(ledger)) == {again.name: [3]}
    assert deliver([again], jobs, LedgerSinkWrites(ledger)) == {}
    ledger.close()
    client = reader(mlflow_server.url)
    assert history(client, again.run_id, "eval/mme/acc") == [(10, 0.1), (20, 0.2), (30, 0.3)]


def test_an_existing_run_gets_filters_stderr_and_safe_names(mlflow_server: MlflowServer) -> None:
    client = reader(mlflow_server.url)
    experiment = client.create_experiment("training")
    training = client.create_run(experiment, run_name="sft").info.run_id
    client.log_metric(training, "train/loss", 1.5, step=400)  # the trainer is ahead
    sink = MLflowSink(
        tracking_uri=mlflow_server.url, run_id=training, step_label="global_step", stderr=True
    )
    rows = [
        Row(seq=1, task="gsm8k", metric="exact_match", filter="strict-match", value=0.25,
            stderr=0.01, labels={"global_step": 100}),
        Row(seq=1, task="gsm8k", metric="exact_match", filter="flexible-extract", value=0.5,
            stderr=0.02, labels={"global_step": 100}),
        Row(seq=1, task="mme", metric="score", value=None, labels={"global_step": 100}),
        Row(seq=1, task="mme", metric="a,b", value=3.0, labels={"global_step": 100}),
    ]  # fmt: skip
    assert export_to(sink, rows) == [1]
    assert history(client, training, "eval/gsm8k/exact_match/strict-match") == [(100, 0.25)]
    assert history(client, training, "eval/gsm8k/exact_match/flexible-extract") == [(100, 0.5)]
    assert history(client, training, "eval/gsm8k/exact_match/strict-match_stderr") == [(100, 0.01)]
    logged = set(client.get_run(training).data.metrics)
    assert logged == {
        "train/loss",
        "eval/gsm8k/exact_match/strict-match",
        "eval/gsm8k/exact_match/flexible-extract",
        "eval/gsm8k/exact_match/strict-match_stderr",
        "eval/gsm8k/exact_match/flexible-extract_stderr",
        "eval/mme/a_b-a6b9565a",  # MLflow refuses a comma in a name: replaced, so hashed
    }  # a row without a value is not logged


def test_names_mlflow_would_refuse_are_written_under_a_name_it_takes(
    mlflow_server: MlflowServer,
) -> None:
    # Before: a task or metric name with "//", "..", a trailing "/" or over 250 characters
    # made MLflow refuse the job's whole batch, at every poll.
    client = reader(mlflow_server.url)
    run_id = client.create_run(client.create_experiment("odd-names")).info.run_id
    sink = MLflowSink(tracking_uri=mlflow_server.url, run_id=run_id)
    long_a, long_b = "m" * 300 + "a", "m" * 300 + "b"
    rows = [
        Row(seq=1, task=task, metric=metric, value=value, labels={"step": 7})
        for value, (task, metric) in enumerate(
            [("a//b", "x"), ("up", "../x"), ("t", "x/"), ("t", long_a), ("t", long_b),
             # an adversarial try: "acc@1" became "acc_1", one series of two metrics
             ("m", "acc@1"), ("m", "acc_1")]
        )
    ]  # fmt: skip
    assert export_to(sink, rows) == [1]
    keys = set(client.get_run(run_id).data.metrics)
    assert history(client, run_id, "eval/m/acc_1") == [(7, 6.0)]  # a name MLflow takes: as is
    (replaced,) = [key for key in keys if key.startswith("eval/m/acc_1-")]
    assert history(client, run_id, replaced) == [(7, 5.0)]
    for reshaped in ("eval/a/b/x-", "eval/up/__/x-", "eval/t/x-"):  # each its own: a hash
        assert [key for key in keys if key.startswith(reshaped)], (reshaped, keys)
    long_keys = sorted(key for key in keys if key.startswith("eval/t/mmm"))
    assert len(long_keys) == 2 and all(len(key) == 250 for key in long_keys)
    assert sorted(value for _, value in history_of(client, run_id, long_keys)) == [3, 4]


def history_of(client: MlflowClient, run_id: str, keys: list[str]) -> list[tuple[int, float]]:
    return [point for key in keys for point in history(client, run_id, key)]


def test_run_id_or_experiment(mlflow_server: MlflowServer) -> None:
    with pytest.raises(InvalidArgumentError, match="neither"):
        MLflowSink(tracking_uri=mlflow_server.url)
    with pytest.raises(InvalidArgumentError, match="both"):
        MLflowSink(tracking_uri=mlflow_server.url, run_id="r", experiment="e")
    sink = MLflowSink(tracking_uri="http://user:secret@127.0.0.1:1", run_id="r1")
    assert sink.name == "mlflow:http://127.0.0.1:1:r1"
    assert "secret" not in repr(sink)


def test_a_tracker_that_is_down_gets_every_value_once_it_is_back(
    mlflow_server: MlflowServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = reader(mlflow_server.url)
    run_id = client.create_run(client.create_experiment("outage")).info.run_id
    writes = MemorySinkWrites()
    with outage_in_front_of(int(mlflow_server.url.rsplit(":", 1)[1])) as tracker:
        sink = MLflowSink(tracking_uri=tracker.url, run_id=run_id)
        finished = {1: job(1, 100, mme__acc=0.1)}
        assert deliver([sink], finished, writes) == {sink.name: [1]}
        tracker.down()
        finished[2] = job(2, 200, mme__acc=0.2)
        finished[3] = job(3, 300, mme__acc=0.3)
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            for _ in range(2):  # two polls while it is down: logged, nothing raised
                assert deliver([sink], finished, writes) == {}
        assert caplog.text.count("could not write job 2 (tried again at each poll") == 2
        tracker.up()
        assert deliver([sink], finished, writes) == {sink.name: [2, 3]}
        assert deliver([sink], finished, writes) == {}
    assert history(client, run_id, "eval/mme/acc") == [(100, 0.1), (200, 0.2), (300, 0.3)]


def test_a_job_written_again_after_a_lost_answer_is_one_point(
    mlflow_server: MlflowServer,
) -> None:
    # A write MLflow stored but whose answer was lost (a timeout, a proxy's 500) is tried
    # again at the next poll. Before: a new timestamp each try, so MLflow kept both.
    sink = MLflowSink(tracking_uri=mlflow_server.url, experiment="evals", run_name="again")
    rows = job(1, 100, mme__acc=0.5)
    sink.write(rows, 100)
    sink.write(rows, 100)  # the retry: the same points, which MLflow stores once
    assert history(reader(mlflow_server.url), sink.run_id, "eval/mme/acc") == [(100, 0.5)]


@pytest.mark.parametrize("run_name", ["o'brien", 'say "hi"', 'it\'s "both"'])
def test_a_run_name_with_quotes_is_continued(mlflow_server: MlflowServer, run_name: str) -> None:
    # Before: a ' was escaped in a way MLflow's filter does not read: a new run each time.
    first = MLflowSink(tracking_uri=mlflow_server.url, experiment="quotes", run_name=run_name)
    again = MLflowSink(tracking_uri=mlflow_server.url, experiment="quotes", run_name=run_name)
    assert first.run_id == again.run_id
    assert reader(mlflow_server.url).get_run(first.run_id).info.run_name == run_name


def test_an_experiment_another_process_made_meanwhile_is_used(
    mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The review: two processes (two watchers, two exports; two test workers sharing one
    # server) looked the experiment up, found none, and both made it: the second got
    # RESOURCE_ALREADY_EXISTS, a failed write at every poll.
    name = f"race-{uuid.uuid4().hex[:8]}"
    sink = MLflowSink(tracking_uri=mlflow_server.url, experiment=name, run_name="r")
    client = sink._client
    looked = client.get_experiment_by_name
    calls: list[str] = []

    def late_look(experiment: str) -> object:
        calls.append(experiment)  # its first look: before the other process made it
        return None if len(calls) == 1 else looked(experiment)

    reader(mlflow_server.url).create_experiment(name)  # the other process
    monkeypatch.setattr(client, "get_experiment_by_name", late_look)
    run = reader(mlflow_server.url).get_run(sink.run_id)
    assert run.info.experiment_id == looked(name).experiment_id


@pytest.mark.parametrize(
    "spelling",
    ["http://127.0.0.1:5000/", "HTTP://127.0.0.1:5000", "http://user:pw@127.0.0.1:5000//"],
)
def test_one_tracking_server_spelt_two_ways_is_one_destination(spelling: str) -> None:
    # An adversarial try: a trailing slash made a new sink name, so a run's ledger took
    # the same MLflow run for a new destination and wrote every job to it again.
    canonical = MLflowSink(tracking_uri="http://127.0.0.1:5000", run_id="r1")
    assert MLflowSink(tracking_uri=spelling, run_id="r1").name == canonical.name
    assert canonical.name == "mlflow:http://127.0.0.1:5000:r1"
    other = MLflowSink(tracking_uri="http://127.0.0.1:5000/other", run_id="r1")
    assert other.name != canonical.name  # a path is a server of its own
