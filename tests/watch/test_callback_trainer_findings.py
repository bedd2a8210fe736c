"""What an adversarial try of EvalCallback with a real transformers Trainer found (scripts
t04, t06, t10, t13, t16, t17): each test failed before its fix. transformers is stubbed
(``callback_module``); the real Trainer runs in make test-real."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lmms_eval_client import (
    CheckpointSubmission,
    EvalClient,
    EvalRun,
    LedgerBusyError,
    LedgerConnectionError,
)
from lmms_eval_client._watch.submission import may_pass_later
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer

from ..faults import FaultProxy, Script, Stall
from .conftest import SUBMIT, write_checkpoint
from .test_callback_outage import callback_behind_a_proxy, settled, state

WARNING = logging.WARNING


def test_a_ledger_locked_at_a_save_keeps_the_checkpoint_for_the_next_try(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # t16: another process held the ledger's lock past busy_timeout when checkpoint-2 was
    # saved; the LedgerBusyError was taken as a refusal and checkpoint-2 dropped for good.
    ledger = tmp_path / "run.sqlite"
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    with (
        EvalClient(local_server.url) as client,
        EvalRun(client, ledger, poll_interval=0.02, busy_timeout=0.05) as run,
    ):
        callback = callback_module.EvalCallback(run, SUBMIT)
        other = sqlite3.connect(ledger, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with caplog.at_level(WARNING, logger="lmms_eval_client"):
                callback.on_save(args, state(2), None)
                settled(callback)
        finally:
            other.rollback()
            other.close()
        assert callback.submitted == []
        assert "could not submit checkpoint-2" in caplog.text
        callback.on_save(args, state(4), None)  # the lock is gone: the one kept goes first
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-2", "checkpoint-4"]


def test_a_ledger_out_for_a_while_may_pass_one_damaged_may_not() -> None:
    assert may_pass_later(LedgerConnectionError("the connection was lost"))
    assert may_pass_later(LedgerBusyError("locked"))
    from lmms_eval_client import LedgerReadOnlyError

    assert not may_pass_later(LedgerReadOnlyError("read-only"))


def test_a_watcher_keeps_a_checkpoint_the_locked_ledger_could_not_record(
    make_run: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # may_pass_later says a locked ledger passes: the watcher's loop still says the outage
    # once (not a warning per scan), and submits the checkpoint at the next scan.
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    submit, calls = run.submit, []

    def locked_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs["key"])
        if len(calls) == 1:
            raise LedgerBusyError("locked by another process")
        return submit(*args, **kwargs)

    monkeypatch.setattr(run, "submit", locked_once)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, poll_interval=0.01, wake="poll")
    with caplog.at_level(WARNING, logger="lmms_eval_client"):
        jobs = watcher.run(lambda: len(calls) >= 2)
    assert calls == ["checkpoint-1", "checkpoint-1"]
    assert [job.key for job in jobs] == ["checkpoint-1"]
    assert caplog.text.count("the run's ledger cannot be used for now") == 1
    assert "could not submit" not in caplog.text


@pytest.mark.parametrize("name", ["RANK", "LOCAL_RANK"])
def test_a_rank_of_minus_one_is_no_distributed_training(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, name: str,
) -> None:  # fmt: skip
    # t13: LOCAL_RANK=-1 (transformers' "not distributed") turned the callback off silently.
    monkeypatch.setenv(name, "-1")
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        callback.on_save(args, state(2), None)
        settled(callback)
        assert [job.key for job in callback.submitted] == ["checkpoint-2"]


def test_a_process_not_of_rank_zero_says_once_that_it_submits_nothing(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    monkeypatch.setenv("RANK", "1")
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        with caplog.at_level(logging.INFO, logger="lmms_eval_client"):
            callback.on_save(args, state(2), None)
            callback.on_log(args, state(3), None, logs={})
            callback.on_save(args, state(4), None)
            settled(callback)
        assert callback.submitted == []
    assert caplog.text.count("not of world rank 0 (RANK 1") == 1


def test_a_relative_output_dir_is_the_folder_of_the_save_not_of_the_submission(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # t06: the background thread made the path absolute when it sent it, after a notebook
    # cell (or hydra) had changed the working folder: it sent a checkpoint that is not there.
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    monkeypatch.chdir(tmp_path / "A")
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (proxy, callback, _):
        args = SimpleNamespace(output_dir="out")
        proxy.down()  # the submission waits for a later save
        callback.on_save(args, state(2), None)
        settled(callback)
        monkeypatch.chdir(tmp_path / "B")
        proxy.up()
        callback.on_save(args, state(4), None)
        settled(callback)
        sent = [job.request.model_args["pretrained"] for job in callback.submitted]
    assert sent == [
        str(tmp_path / "A" / "out" / "checkpoint-2"),
        str(tmp_path / "B" / "out" / "checkpoint-4"),
    ]


def test_a_server_down_all_training_long_names_the_checkpoints_never_sent(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # The end's warning said "2 checkpoint(s) never sent: submit_checkpoint() them": which?
    with callback_behind_a_proxy(callback_module, local_server, tmp_path, wait_at_end=0) as (
        proxy,
        callback,
        args,
    ):
        proxy.down()
        for step in range(1, 8):
            callback.on_save(args, state(step), None)
        with caplog.at_level(WARNING, logger="lmms_eval_client"):
            callback.on_train_end(args, state(7), None)
    (said,) = [r.getMessage() for r in caplog.records if "not sent" in r.getMessage()]
    named = ", ".join(f"{args.output_dir}/checkpoint-{step}" for step in range(1, 6))
    assert f"7 checkpoint(s) not sent: {named} and 2 more (submit_checkpoint(" in said


def test_giving_up_at_the_end_names_the_unsent_and_the_thread_stops_trying(
    callback_module: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # t10: a server that never answers; on_train_end gave up saying "what was submitted goes
    # on" (checkpoint-2 and -4 were not submitted), and once the run was closed, the thread
    # went on: "checkpoint-4 is not submitted: ... closed database" (each), "could not poll".
    monkeypatch.setattr(callback_module.EvalCallback, "_GRACE", 0.2)
    out = tmp_path / "out"
    args = SimpleNamespace(output_dir=str(out))
    with FaultProxy(local_server.url, Script(then=Stall())) as proxy:
        with (
            EvalClient(proxy.url, max_retries=0, timeout=60) as client,
            EvalRun(client, tmp_path / "run.sqlite", poll_interval=0.02) as run,
        ):
            callback = callback_module.EvalCallback(run, SUBMIT, wait_at_end=0)
            callback.on_save(args, state(2), None)
            proxy.wait_for(lambda seen: len(seen) >= 1)  # the thread's request, held
            callback.on_save(args, state(4), None)
            with caplog.at_level(logging.DEBUG, logger="lmms_eval_client"):
                callback.on_train_end(args, state(4), None)
        # the run is closed, the thread's request still held: now it fails
        with caplog.at_level(logging.DEBUG, logger="lmms_eval_client"):
            proxy.down()
            settled(callback)
    (gave_up,) = [r for r in caplog.records if "did not answer" in r.getMessage()]
    named = f"{out}/checkpoint-2, {out}/checkpoint-4"
    assert f"2 checkpoint(s) not sent: {named} (submit_checkpoint(" in gave_up.getMessage()
    after = caplog.records[caplog.records.index(gave_up) + 1 :]
    assert [r.getMessage() for r in after if r.levelno >= WARNING] == []


def test_a_checkpoint_submitted_before_is_said_so_not_submitted_again(
    callback_module: Any, make_run: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # A resumed training (in a new process: another EvalRun of the ledger) logged
    # "submitted checkpoint-2 as seq 1" where nothing was sent.
    args = SimpleNamespace(output_dir=str(tmp_path / "out"))
    first = callback_module.EvalCallback(make_run(local_server.url), SUBMIT)
    first.on_save(args, state(2), None)
    settled(first)
    resumed = callback_module.EvalCallback(make_run(local_server.url), SUBMIT)
    with caplog.at_level(logging.INFO, logger="lmms_eval_client"):
        resumed.on_save(args, state(2), None)
        resumed.on_save(args, state(4), None)
        settled(resumed)
    assert [job.seq for job in resumed.submitted] == [1, 2]
    assert "checkpoint-2 was submitted already (seq 1): not sent again" in caplog.text
    assert "submitted checkpoint-2" not in caplog.text
    assert "submitted checkpoint-4 as seq 2" in caplog.text


def test_a_key_held_by_another_trainings_checkpoint_is_an_error_not_its_metrics(
    callback_module: Any, make_run: Any, local_server: LocalServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    # t04, t17: two trainings (or trials of a search) into one ledger without key_prefix:
    # the second one's checkpoint-2 got the first one's job, was never evaluated, and said
    # "submitted"; its end then logged the first one's metrics as its own.
    first = callback_module.EvalCallback(make_run(local_server.url), SUBMIT)
    first.on_save(SimpleNamespace(output_dir=str(tmp_path / "lr-a")), state(2), None)
    settled(first)
    first._run.wait(timeout=60)  # completed, not harvested: left to its own callback
    second = callback_module.EvalCallback(make_run(local_server.url), SUBMIT, wait_at_end=60)
    args = SimpleNamespace(output_dir=str(tmp_path / "lr-b"))
    end = state(2)
    with caplog.at_level(logging.INFO, logger="lmms_eval_client"):
        second.on_save(args, state(2), None)
        second.on_save(args, state(2), None)  # (saved again: said once)
        second.on_train_end(args, end, None)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"EvalCallback: {tmp_path}/lr-b/checkpoint-2 is not evaluated: its key 'checkpoint-2' "
        f"holds a job (seq 1) sent for another checkpoint, {tmp_path}/lr-a/checkpoint-2, not "
        f"this one, {tmp_path}/lr-b/checkpoint-2 (two trainings, or trials of a hyperparameter "
        "search, in one ledger): give each EvalCallback its own key_prefix= (e.g. the run's "
        "name and a '/')"
    ]
    assert "submitted checkpoint-2" not in caplog.text
    assert second.submitted == []
    assert end.log_history == []  # the first training's metrics are not the second's


def test_the_key_holders_path_is_compared_as_the_server_sees_it(tmp_path: Path) -> None:
    from lmms_eval_client import EvaluateRequest, TrackedJob
    from lmms_eval_client._watch.submission import sent_for_another

    what = CheckpointSubmission(
        model="hf", tasks=["mme"], model_args={"pretrained": "{checkpoint}", "api_key": "s"}
    )
    run: Any = SimpleNamespace(_client=SimpleNamespace(path_map={"/data": str(tmp_path)}))

    def job(pretrained: str) -> TrackedJob:
        args = {"pretrained": pretrained, "api_key": "***hmac-sha256:ab"}
        return TrackedJob.model_construct(
            request=EvaluateRequest(model="hf", tasks=["mme"], model_args=args)
        )

    here = tmp_path / "out" / "checkpoint-2"
    assert sent_for_another(job("/data/out/checkpoint-2"), what, here, run) is None
    assert sent_for_another(job("/data/b/checkpoint-2"), what, here, run) == (
        "/data/b/checkpoint-2",
        "/data/out/checkpoint-2",
    )


def test_a_log_after_the_end_of_training_polls_no_more(
    callback_module: Any, local_server: LocalServer, tmp_path: Path
) -> None:
    # t16, t06: the stragglers logged by on_train_end (trainer.log calls on_log) handed
    # the thread a poll that ran after the run was closed: "could not poll ... closed
    # database".
    with callback_behind_a_proxy(callback_module, local_server, tmp_path) as (_, callback, args):
        callback.on_save(args, state(2), None)
        callback.on_train_end(args, state(2), None)
        polled: list[bool] = []
        callback._poll = lambda: polled.append(True)  # (what on_log hands the thread)
        callback.on_log(args, state(2), None, logs={})
        settled(callback)
        assert polled == []
        callback.on_train_begin(args, state(2), None)  # a training again: polled again
        callback.on_log(args, state(3), None, logs={})
        settled(callback)
        assert polled == [True]
