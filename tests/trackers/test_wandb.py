"""WandbSink with W&B offline (no network), read back from the run's own .wandb file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from lmms_eval_client import InvalidArgumentError, WandbSink
from lmms_eval_client._trackers.writes import MemorySinkWrites, deliver

from ._rows import job
from ._wandb_file import names, points

pytestmark = pytest.mark.usefixtures("wandb_offline")


@pytest.mark.slow
def test_a_value_at_a_step_below_the_runs_current_step_is_kept(wandb_offline: Path) -> None:
    import wandb  # ~2 s: on the worker that runs this, not at every collection

    run = wandb.init(project="sft")
    run.log({"train/loss": 2.0}, step=400)
    run.log({"train/loss": 1.0}, step=500)  # the trainer is at step 500
    # What a trainer's hand-written eval logging does with a late result: W&B drops it.
    run.log({"naive/mme/acc": 0.05}, step=100)
    writes = MemorySinkWrites()
    sink = WandbSink(run)
    finished = {3: job(3, 300, mme__acc=0.3)}
    assert deliver([sink], finished, writes) == {sink.name: [3]}
    finished[1] = job(1, 100, mme__acc=0.1)  # finished last, at the lowest step
    finished[2] = job(2, 200, mme__acc=0.2)
    assert deliver([sink], finished, writes) == {sink.name: [1, 2]}
    sink.close()  # the run is the trainer's: still open
    run.log({"train/loss": 0.5}, step=600)
    run.finish()
    wandb.teardown()  # its service process has written and closed the run file
    assert sink.name == f"wandb:/sft/{run.id}"
    assert points(wandb_offline, "naive/mme/acc", "_step") == []  # dropped by W&B
    late = points(wandb_offline, "eval/mme/acc", "eval/step")
    assert late == [(300, 0.3), (100, 0.1), (200, 0.2)]
    assert points(wandb_offline, "train/loss", "_step") == [(400, 2.0), (500, 1.0), (600, 0.5)]


def test_a_sink_started_run_is_resumed_by_id_without_repeats(wandb_offline: Path) -> None:
    import wandb

    writes = MemorySinkWrites()  # (the run's ledger in a real run)
    finished = {1: job(1, 10, mme__acc=0.1), 2: job(2, 20, mme__acc=0.2)}
    with WandbSink(project="evals", run_id="evals-run-1", stderr=True) as first:
        assert deliver([first], finished, writes) == {"wandb:/evals/evals-run-1": [1, 2]}
    finished[3] = job(3, 5, mme__acc=0.3)
    with WandbSink(project="evals", run_id="evals-run-1") as again:  # a resumed process
        assert deliver([again], finished, writes) == {"wandb:/evals/evals-run-1": [3]}
        assert deliver([again], finished, writes) == {}
    wandb.teardown()
    assert points(wandb_offline, "eval/mme/acc", "eval/step") == [(10, 0.1), (20, 0.2), (5, 0.3)]


def test_run_or_project() -> None:
    with pytest.raises(InvalidArgumentError, match="neither"):
        WandbSink()
    with pytest.raises(InvalidArgumentError, match="both"):
        WandbSink(object(), project="p")


def test_a_sink_of_its_own_run_leaves_the_trainers_run_alone(wandb_offline: Path) -> None:
    # An adversarial try: wandb.init() returned the training's active run, so the metrics
    # went into it, and the sink's close() finished it (the trainer's next log: refused).
    import wandb

    training = wandb.init(project="sft", id="train-1")
    writes = MemorySinkWrites()
    with WandbSink(project="evals", run_id="evals-1") as sink:
        assert deliver([sink], {1: job(1, 100, mme__acc=0.5)}, writes)
        assert sink.name == "wandb:/evals/evals-1"
    assert not training._is_finished
    training.log({"train/loss": 0.5}, step=600)
    training.finish()
    wandb.teardown()
    assert points(wandb_offline, "eval/mme/acc", "eval/step") == [(100, 0.5)]


def test_names_w_and_b_would_misread_are_written_apart(wandb_offline: Path) -> None:
    # The adversarial try of the sinks: a '*' in a metric's name (a glob to define_metric)
    # made W&B refuse the job's every value at every poll; a metric named like the step
    # metric replaced the step by its value.
    import wandb

    sink = WandbSink(project="sft", run_id="names")
    writes = MemorySinkWrites()
    star = {1: job(1, 100, mme__f1_macro=0.5)}
    star[1][0] = replace(star[1][0], metric="f1*macro")
    assert deliver([sink], star, writes) == {sink.name: [1]}
    step = {2: job(2, 200, mme__step=0.25)}
    sink.metric_name = "eval/{metric}"  # "eval/step": the step metric's own name
    assert deliver([sink], step, writes) == {}
    sink.close()
    wandb.teardown()
    (name,) = [n for n in names(wandb_offline) if n.startswith("eval/mme/f1_macro-")]
    assert points(wandb_offline, name, "eval/step") == [(100, 0.5)]
    assert points(wandb_offline, "eval/step", "eval/step") == [(100, 100)]  # not 0.25
