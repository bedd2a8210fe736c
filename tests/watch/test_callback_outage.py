"""EvalCallback never raises into the Trainer (an adversarial try found an evaluation server
down at a save crashing the training with APIConnectionError): the checkpoint waits and is
sent at the next save, log or the end of training. transformers is stubbed (only its
``TrainerCallback`` base class is used here); the real Trainer runs in make test-real."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lmms_eval_client import CheckpointSubmission, EvalClient, EvalRun, InvalidArgumentError
from lmms_eval_client.testing import LocalServer

from ..faults import FaultProxy, Rule, Script, Stall, on, respond


def state(step: int) -> SimpleNamespace:
    return SimpleNamespace(global_step=step, is_world_process_zero=True, log_history=[])


def settled(callback: Any) -> None:
    """Once the calls the hooks handed to the callback's background thread have run."""
    assert callback._background.done(timeout=60)


@contextlib.contextmanager
def callback_behind_a_proxy(
    module: Any,
    server: LocalServer,
    tmp_path: Path,
    rule: Rule | None = None,
    wait_at_end: float = 60,
    timeout: float = 60,
) -> Iterator[tuple[FaultProxy, Any, SimpleNamespace]]:
    """An EvalCallback whose run reaches ``server`` through a FaultProxy obeying ``rule``
    (its client: ``timeout``, no retries); the proxy, the callback, and the Trainer's args
    it is called with."""
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    with (
        FaultProxy(server.url, rule) as proxy,
        EvalClient(proxy.url, max_retries=0, timeout=timeout) as client,
        EvalRun(client, tmp_path / "run.sqlite", poll_interval=0.02) as run,
    ):
        callback = module.EvalCallback(run, what, wait_at_end=wait_at_end)
        yield proxy, callback, SimpleNamespace(output_dir=str(tmp_path / "out"))


def test_a_save_while_the_server_is_down_is_sent_later_and_never_raises(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (
        proxy,
        callback,
        args,
    ):
        proxy.down()
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            callback.on_save(args, state(5), None)  # before: APIConnectionError
            callback.on_log(args, state(6), None, logs={})  # polls: down too
            settled(callback)
        assert callback.submitted == []
        assert "could not submit checkpoint-5" in caplog.text
        proxy.up()
        callback.on_save(args, state(10), None)  # the one waiting goes first
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-5", "checkpoint-10"]
        end = state(10)
        callback.on_train_end(args, end, None)
        assert sorted(e["eval/checkpoint_step"] for e in end.log_history) == [5.0, 10.0]


def test_a_server_down_for_many_saves_and_logs_is_said_once_and_once_when_it_is_back(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # Before: "could not submit" at each save and each log that polled.
    with (
        callback_behind_a_proxy(callback_module, local_server, tmp_path) as (proxy, cb, args),
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        proxy.down()
        for step in (5, 10, 15):
            cb.on_save(args, state(step), None)
            settled(cb)
            cb._polled_at = float("-inf")  # (the poll interval passed: this log polls)
            cb.on_log(args, state(step + 1), None, logs={})
            settled(cb)
        assert cb.submitted == []
        assert caplog.text.count("could not submit") == 1
        assert "could not submit checkpoint-5" in caplog.text
        proxy.up()
        cb.on_save(args, state(20), None)
        settled(cb)
        assert [job.key for job in cb.submitted] == [f"checkpoint-{n}" for n in (5, 10, 15, 20)]
        assert caplog.text.count("EvalCallback: submissions go through again") == 1
        cb.on_train_end(args, state(20), None)


def test_a_server_that_never_answers_holds_no_training_step(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # An adversarial try: the hooks called the server in the Trainer's own thread, so a
    # server that accepts and never answers held each save, and each log that polled, for
    # the client's timeout times its tries (three minutes by default), and the training
    # with them.
    monkeypatch.setattr(callback_module.EvalCallback, "_GRACE", 0.5)
    stall = Script(then=Stall())
    with (
        callback_behind_a_proxy(
            callback_module, local_server, tmp_path, stall, wait_at_end=0, timeout=10
        ) as (proxy, callback, args),
        caplog.at_level(logging.WARNING, logger="lmms_eval_client"),
    ):
        callback.on_save(args, state(5), None)
        callback.on_log(args, state(6), None, logs={})
        proxy.wait_for(lambda seen: len(seen) >= 1)  # the request the server holds
        # the hooks have returned, and the request is still under way
        assert "could not submit" not in caplog.text and callback.submitted == []
        end = state(6)
        callback.on_train_end(args, end, None)  # returns: wait_at_end, plus 0.5 s
        assert "did not answer by the end of wait_at_end" in caplog.text
        proxy.down()  # the held request fails: the background thread goes on
        settled(callback)


def test_a_submission_without_its_placeholder_is_refused_before_training() -> None:
    from lmms_eval_client import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="same model"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], model_args={"pretrained": "org/b"})
    with pytest.raises(InvalidArgumentError, match="limit"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], options={"limit": -5})
    with pytest.raises(InvalidArgumentError, match="lmit"):
        CheckpointSubmission(model="qwen2_vl", tasks=["mme"], options={"lmit": 5})


def test_a_checkpoint_the_server_refuses_does_not_hold_back_the_later_ones(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # The review of ee0963a: every failure kept the checkpoint first in line, so one the
    # server refuses (a 4xx: retrying cannot change it) was sent at every save and log,
    # no later checkpoint was ever submitted, and on_train_end waited for it to the end.
    refuse_first = Script(respond(422, b'{"detail": "no such checkpoint"}'), match=on("POST"))
    with callback_behind_a_proxy(callback_module, local_server, tmp_path, refuse_first) as (
        _,
        callback,
        args,
    ):
        with caplog.at_level(logging.ERROR, logger="lmms_eval_client"):
            callback.on_save(args, state(5), None)
            settled(callback)
        assert "checkpoint-5 is not submitted" in caplog.text
        callback.on_save(args, state(10), None)
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-10"]
        end = state(10)
        callback.on_train_end(args, end, None)  # returns: nothing of ours is due
        assert [e["eval/checkpoint_step"] for e in end.log_history] == [10.0]


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"submit": {"model": "hf"}}, "submit must be a CheckpointSubmission"),
        ({"run": "evals.sqlite"}, "run must be an EvalRun"),
        ({"wait_at_end": "60"}, "wait_at_end"),
        ({"key_prefix": None}, "key_prefix must be a str"),
        ({"log_prefix": 5}, "log_prefix must be a str"),
    ],
)
def test_the_callback_refuses_bad_arguments_when_made(
    callback_module: Any, tmp_path: Path, options: dict[str, Any], says: str
) -> None:
    # Before: accepted; then an AttributeError or TypeError raised into the Trainer at the
    # first save or at the end of training.
    what = CheckpointSubmission(model="qwen2_vl", tasks=["mme"])
    with EvalClient("http://127.0.0.1:9") as client, EvalRun(client, tmp_path / "r.sqlite") as run:
        arguments: dict[str, Any] = {"run": run, "submit": what, **options}
        with pytest.raises(InvalidArgumentError, match=says):
            callback_module.EvalCallback(**arguments)


def test_what_is_harvested_after_the_end_of_training_is_left_for_later(
    callback_module: Any, local_server: LocalServer, tmp_path: Path
) -> None:
    # The review: a harvest of the background thread after on_train_end had logged its
    # metrics (it gave up on a slow server) acknowledged outcomes no one would log.
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        callback.on_save(args, state(5), None)
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-5"]
        callback._run.wait(timeout=60)  # completed, not harvested yet
        callback._ended = True  # as on_train_end leaves it
        callback._collect()
        assert not callback._waiting
        (outcome,) = callback._run.receive()  # not acknowledged: still to be harvested
        assert outcome.job.key == "checkpoint-5"
        callback._run.release(outcome)
        callback.on_train_begin(args, state(6), None)  # a training again: logged again
        callback._collect()
        assert [v["eval/checkpoint_step"] for v in callback._waiting] == [5.0]


def test_the_stragglers_logged_at_the_end_reach_the_loggers_one_by_one(
    callback_module: Any, local_server: LocalServer, tmp_path: Path
) -> None:
    # The review: Trainer.log calls on_log, which took the next waiting metrics into the
    # same logs: two stragglers reached report_to as one dict, the second's over the first.
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        logged: list[dict[str, float]] = []

        class Trainer:  # as transformers' Trainer.log: the callbacks' on_log, then loggers
            def log(self, logs: dict[str, float]) -> None:
                callback.on_log(args, state(9), None, logs=logs)
                logged.append(dict(logs))

        callback._trainer = Trainer()
        callback._waiting.extend([{"eval/checkpoint_step": 5.0}, {"eval/checkpoint_step": 10.0}])
        callback.on_train_end(args, state(10), None)
        assert logged == [{"eval/checkpoint_step": 5.0}, {"eval/checkpoint_step": 10.0}]


def test_a_pool_with_no_server_free_now_is_tried_again_later(callback_module: Any) -> None:
    # The review: a pool's NoServerAvailableError (servers down, at their cap) dropped the
    # checkpoint for good; only a pool none of whose servers offers the tasks refuses it.
    from lmms_eval_client import NoServerAvailableError
    from lmms_eval_client._watch.submission import may_pass_later

    busy = NoServerAvailableError("x", reasons={"a": "down (refused)", "b": "at its cap of 1"})
    assert may_pass_later(busy)
    lacking = NoServerAvailableError("x", reasons={"a": "does not offer task(s) mme"})
    assert not may_pass_later(lacking)


@pytest.mark.parametrize(
    ("args", "step"),
    [
        (SimpleNamespace(output_dir="out"), None),
        (SimpleNamespace(output_dir=None), 5),
        (SimpleNamespace(), 5),
        (SimpleNamespace(output_dir="out"), "5"),
        (SimpleNamespace(output_dir="out"), True),
    ],
)
def test_a_save_the_callback_cannot_place_is_logged_never_raised(
    callback_module: Any,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    args: SimpleNamespace,
    step: object,
) -> None:
    # The adversarial try of the watcher: on_save raised TypeError or AttributeError into
    # the Trainer for a state without a step or args without an output_dir.
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, _):
        odd = SimpleNamespace(global_step=step, is_world_process_zero=True, log_history=[])
        with caplog.at_level(logging.ERROR, logger="lmms_eval_client"):
            callback.on_save(args, odd, None)
        settled(callback)
    assert "cannot tell which checkpoint" in caplog.text


def test_a_whole_float_step_is_the_checkpoint_of_its_integer(
    callback_module: Any, local_server: LocalServer, tmp_path: Path
) -> None:
    class Int64:  # as numpy's integers: an __index__, no int subclass (the review)
        def __index__(self) -> int:
            return 8

    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        callback.on_save(args, SimpleNamespace(**{**vars(state(7)), "global_step": 7.0}), None)
        callback.on_save(args, SimpleNamespace(**{**vars(state(8)), "global_step": Int64()}), None)
        settled(callback)
        jobs = callback._run.jobs()
    assert [(job.key, job.labels["step"]) for job in jobs] == [
        ("checkpoint-7", 7),
        ("checkpoint-8", 8),
    ]


def test_a_distributed_trainings_end_waits_at_most_half_its_ddp_timeout(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # The adversarial try with a real Trainer: rank 0 waited wait_at_end (3600 s by
    # default) at the end while the other ranks waited for it at their next collective,
    # which times out at ddp_timeout (1800 s by default): the job would end in an error.
    monkeypatch.setattr(callback_module.EvalCallback, "_GRACE", 0.1)
    with callback_behind_a_proxy(callback_module, local_server, tmp_path, wait_at_end=3600) as (
        _,
        callback,
        args,
    ):
        callback._submit = CheckpointSubmission(
            model="qwen2_vl",
            tasks=["mme"],
            model_args={"pretrained": "{checkpoint}", "sim_duration": 600},
        )  # fmt: skip  (runs until the server stops: pending at the end)
        callback.on_save(args, state(5), None)
        settled(callback)
        distributed = SimpleNamespace(**vars(args), world_size=2, ddp_timeout=0.2)
        with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
            callback.on_train_end(distributed, state(5), None)  # before: 3600 s
    assert "a distributed training (2 processes): waiting at most 0.1 s" in caplog.text
    assert "1 evaluation(s) still pending go on on the server" in caplog.text


def test_a_single_process_waits_wait_at_end() -> None:
    from lmms_eval_client._watch.reporting import end_wait

    one = SimpleNamespace(world_size=1, ddp_timeout=1800)
    assert end_wait(3600.0, one) == 3600.0 and end_wait(None, one) is None
    two = SimpleNamespace(world_size=2, ddp_timeout=1800)
    assert end_wait(60.0, two) == 60.0 and end_wait(None, two) == 900.0
