"""EvalCallback's end of training over a PostgreSQL ledger that restarts: the wait rides it
out, as a watcher's finish() does (said once when it goes, once when it is back), where it
said "cannot read the run at the end of training" and stopped waiting, so the training
ended without the pending evaluations' metrics. transformers is stubbed
(``callback_module``); the database is stopped and started by the test, in step with the
wait's pauses (injected), never on a timer."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lmms_eval_client import CheckpointSubmission, EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer

from ..postgres import PostgresServer
from .test_callback_outage import settled, state

SHORT = {"pretrained": "{checkpoint}", "sim_duration": 0.3}  # pending at the end's first look
WHAT = CheckpointSubmission(model="qwen2_vl", tasks=["mme"], model_args=SHORT)
GONE = "EvalCallback: the run's ledger cannot be used for now"
BACK = "EvalCallback: the run's ledger answers again"


def test_the_end_of_training_rides_out_a_database_restart(
    callback_module: Any,
    postgres_server: PostgresServer,
    postgres_url: str,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # the database is back at the wait's first pause
        pauses.append(seconds)
        if len(pauses) == 1:
            postgres_server.start()
        else:
            time.sleep(seconds)  # (the poll interval: the job runs meanwhile)

    end = state(5)
    with (
        EvalClient(local_server.url) as client,
        EvalRun(client, postgres_url, poll_interval=0.02) as run,
    ):
        callback = callback_module.EvalCallback(run, WHAT, wait_at_end=60)
        callback.on_save(args, state(5), None)
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-5"]
        callback._pause = pause
        postgres_server.stop()  # restarting when the training ends
        try:
            with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
                callback.on_train_end(args, end, None)
        finally:
            if postgres_server.pid is None:
                postgres_server.start()
    assert [values["eval/checkpoint_step"] for values in end.log_history] == [5.0]
    assert "cannot read the run at the end of training" not in caplog.text
    assert caplog.text.count(GONE) == 1 and caplog.text.count(BACK) == 1


def test_the_end_of_a_distributed_training_waits_for_the_ledger_only_to_its_cap(
    callback_module: Any,
    postgres_server: PostgresServer,
    postgres_url: str,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The ledger still out when the end's deadline (half the ddp_timeout here) passes: said
    # so, and the training ends; nothing is raised into the Trainer.
    args = SimpleNamespace(output_dir=str(tmp_path / "out"), world_size=2, ddp_timeout=1.0)
    now = [0.0]
    pauses: list[float] = []

    def pause(seconds: float) -> None:  # fake time
        pauses.append(seconds)
        now[0] += seconds

    with (
        EvalClient(local_server.url) as client,
        EvalRun(client, postgres_url, poll_interval=0.25) as run,
    ):
        callback = callback_module.EvalCallback(run, WHAT, wait_at_end=3600)
        callback.on_save(args, state(5), None)
        settled(callback)
        callback._pause, callback._clock = pause, lambda: now[0]
        postgres_server.stop()
        try:
            with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
                callback.on_train_end(args, state(5), None)
        finally:
            postgres_server.start()
    assert pauses == [0.25, 0.25]  # tried again at each poll until the cap, 0.5 s
    assert caplog.text.count(GONE) == 1 and BACK not in caplog.text
    assert "passed at the end of training: the run's ledger is still out" in caplog.text
    assert "cannot read the run at the end of training" not in caplog.text
