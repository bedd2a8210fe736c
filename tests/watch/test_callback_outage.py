"""EvalCallback never raises into the Trainer (an adversarial try found an evaluation server
down at a save crashing the training with APIConnectionError): the checkpoint waits and is
sent at the next save, log or the end of training. transformers is stubbed (only its
``TrainerCallback`` base class is used here); the real Trainer runs in make test-real."""

from __future__ import annotations

import importlib
import logging
import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lmms_eval_client import CheckpointSubmission, EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer

from ..faults import FaultProxy


@pytest.fixture
def callback_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(TrainerCallback=object))
    monkeypatch.delitem(sys.modules, "lmms_eval_client._watch.callback", raising=False)
    return importlib.import_module("lmms_eval_client._watch.callback")


def state(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, is_world_process_zero=True, log_history=[])


def test_a_save_while_the_server_is_down_is_sent_later_and_never_raises(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    with (
        FaultProxy(local_server.url) as proxy,
        EvalClient(proxy.url, max_retries=0) as client,
        EvalRun(client, tmp_path / "run.sqlite", poll_interval=0.02) as run,
    ):
        callback = callback_module.EvalCallback(run, what, wait_at_end=60)
        proxy.down()
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            callback.on_save(args, state(5), None)  # before: APIConnectionError
            callback.on_log(args, state(6), None, logs={})  # polls: down too
        assert callback.submitted == []
        assert "could not submit checkpoint-5" in caplog.text
        proxy.up()
        callback.on_save(args, state(10), None)  # the one waiting goes first
        assert [job.key for job in callback.submitted] == ["checkpoint-5", "checkpoint-10"]
        end = state(10)
        callback.on_train_end(args, end, None)
        assert sorted(e["eval/checkpoint_step"] for e in end.log_history) == [5.0, 10.0]


def test_a_submission_without_its_placeholder_is_refused_before_training() -> None:
    from lmms_eval_client import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="same model"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], model_args={"pretrained": "org/b"})
    with pytest.raises(InvalidArgumentError, match="limit"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], options={"limit": -5})
    with pytest.raises(InvalidArgumentError, match="lmit"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], options={"lmit": 5})
