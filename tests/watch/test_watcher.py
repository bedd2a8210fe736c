"""CheckpointWatcher on a temporary folder against the local server: incomplete checkpoints
are never submitted, a restarted watcher submits none twice, several at once, the folder
deleted or unreadable (typed errors), every=k and max_pending."""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError, LmmsEvalError
from lmms_eval_client._watch import watcher as watcher_module
from lmms_eval_client._watch.errors import (
    WatchedDirectoryMissingError,
    WatchError,
    WatchPermissionError,
)
from lmms_eval_client._watch.readiness import MarkerFile, StableSize
from lmms_eval_client._watch.submission import CheckpointSubmission, server_path, step_of
from lmms_eval_client._watch.watcher import CheckpointWatcher
from lmms_eval_client.testing import LocalServer

from ..support import FakeClock
from .conftest import SUBMIT, server_job_count, write_checkpoint

MakeRun = Callable[..., EvalRun]
LONG = CheckpointSubmission(
    model="qwen2_vl", tasks=["mme"], model_args={"pretrained": "{checkpoint}", "sim_duration": 600}
)


def keys(jobs: list) -> list[str | None]:  # type: ignore[type-arg]
    return [job.key for job in jobs]


def test_a_checkpoint_without_its_marker_is_never_submitted(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT)
    write_checkpoint(out, 5, marker=False)  # the weights are written, the state not yet
    assert watcher.scan() == []
    assert watcher.scan() == []
    (out / "checkpoint-5" / "trainer_state.json").write_text("{}")  # written last
    (job,) = watcher.scan()
    assert job.key == "checkpoint-5"
    assert job.labels == {"checkpoint": "checkpoint-5", "step": 5}
    assert job.request.model_args == {"pretrained": str(out / "checkpoint-5")}
    assert watcher.scan() == []
    assert len(run.jobs()) == 1


def test_stable_size_waits_until_nothing_changed_for_its_seconds(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, clock: FakeClock
) -> None:
    out = tmp_path / "out"
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, ready=StableSize(seconds=30))
    watcher._clock = clock  # type: ignore[method-assign]
    folder = write_checkpoint(out, 7, marker=False)
    assert watcher.scan() == []  # a first look never says ready
    clock.advance(60)
    with (folder / "model.safetensors").open("ab") as weights:
        weights.write(b"more")  # still being written
    assert watcher.scan() == []
    clock.advance(29)
    assert watcher.scan() == []  # unchanged, but not for 30 s yet
    clock.advance(1)
    assert keys(watcher.scan()) == ["checkpoint-7"]


def test_stable_size_times_each_look_when_it_is_taken(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The adversarial try of the watcher: a scan read the clock once, before submissions
    # of 3 s each: a checkpoint that changed during them was timed from the scan's start,
    # and submitted at the next scan while still being written.
    out = tmp_path / "out"
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, ready=StableSize(seconds=30))
    watcher._clock = clock  # type: ignore[method-assign]
    write_checkpoint(out, 1, marker=False)
    second = write_checkpoint(out, 2, marker=False)
    real = watcher_module.submit_checkpoint

    def slow(*args: Any, **kwargs: Any) -> Any:
        clock.advance(40)  # a busy server answers late; the trainer writes meanwhile
        with (second / "model.safetensors").open("ab") as weights:
            weights.write(b"more")
        return real(*args, **kwargs)

    monkeypatch.setattr(watcher_module, "submit_checkpoint", slow)
    assert watcher.scan() == []  # first looks
    clock.advance(30)
    assert keys(watcher.scan()) == ["checkpoint-1"]  # the second changed meanwhile
    monkeypatch.setattr(watcher_module, "submit_checkpoint", real)
    clock.advance(5)
    assert watcher.scan() == []  # unchanged for 5 s only
    clock.advance(25)
    assert keys(watcher.scan()) == ["checkpoint-2"]


def test_a_restarted_watcher_submits_none_twice(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    first = CheckpointWatcher(make_run(local_server.url, ledger), out, submit=SUBMIT)
    write_checkpoint(out, 100)
    write_checkpoint(out, 200)
    assert keys(first.scan()) == ["checkpoint-100", "checkpoint-200"]
    first._run.close()  # the watcher's process ends (killed: the ledger is all that is left)

    write_checkpoint(out, 300)
    run = make_run(local_server.url, ledger)
    again = CheckpointWatcher(run, out, submit=SUBMIT)
    assert keys(again.scan()) == ["checkpoint-300"]
    assert again.scan() == []
    assert keys(run.jobs()) == ["checkpoint-100", "checkpoint-200", "checkpoint-300"]
    assert server_job_count(local_server.url) == 3


def test_several_checkpoints_at_once_are_submitted_in_step_order(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for step in (10, 9, 100, 50):
        write_checkpoint(out, step)
    (out / "checkpoint-notes.txt").write_text("a file, not a checkpoint")
    (out / "runs").mkdir()  # not matching the pattern
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT)
    jobs = watcher.scan()
    assert keys(jobs) == ["checkpoint-9", "checkpoint-10", "checkpoint-50", "checkpoint-100"]
    assert [job.labels["step"] for job in jobs] == [9, 10, 50, 100]
    watcher._poll_interval = 0.02
    assert watcher.finish(timeout=30) == []  # every job completed, outcomes collected
    assert [row.labels["step"] for row in run.metrics(task="mme")][:1] == [9]
    assert all(job.harvested for job in run.jobs())


def test_the_folder_deleted_while_watched_is_a_typed_error(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT)
    assert len(watcher.scan()) == 1
    shutil.rmtree(out)
    with pytest.raises(WatchedDirectoryMissingError, match="was deleted while watched") as raised:
        watcher.scan()
    error = raised.value
    assert isinstance(error, WatchError) and isinstance(error, LmmsEvalError)
    assert isinstance(error, FileNotFoundError)
    assert error.path == str(out)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is WatchedDirectoryMissingError and copy.path == str(out)
    assert str(copy) == str(error)


def test_a_folder_that_never_existed_is_named_so(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    watcher = CheckpointWatcher(make_run(local_server.url), tmp_path / "nope", submit=SUBMIT)
    with pytest.raises(WatchedDirectoryMissingError, match="does not exist"):
        watcher.scan()
    (tmp_path / "file").write_text("x")
    under_a_file = CheckpointWatcher(make_run(local_server.url), tmp_path / "file", submit=SUBMIT)
    with pytest.raises(WatchedDirectoryMissingError, match="not a folder"):
        under_a_file.scan()


@pytest.mark.parametrize("pattern", ["", "out/checkpoint-*", None])
def test_a_pattern_that_can_match_no_folder_name_is_refused(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, pattern: object
) -> None:
    # Before: the watcher was made and watched nothing, forever.
    with pytest.raises(InvalidArgumentError, match="pattern"):
        CheckpointWatcher(make_run(local_server.url), tmp_path, submit=SUBMIT, pattern=pattern)  # type: ignore[arg-type]


def test_a_permission_error_is_typed(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    watcher = CheckpointWatcher(make_run(local_server.url), out, submit=SUBMIT)

    def denied(path: object) -> object:
        raise PermissionError(13, "Permission denied", str(path))

    # chmod does not stop root (these tests may run as root): the OS's answer is simulated
    monkeypatch.setattr(watcher_module.os, "scandir", denied)
    with pytest.raises(WatchPermissionError, match="read and execute permission") as raised:
        watcher.scan()
    assert isinstance(raised.value, PermissionError) and raised.value.path == str(out)
    assert type(pickle.loads(pickle.dumps(raised.value))) is WatchPermissionError
    assert watcher._run.jobs() == []


def test_every_k_submits_every_kth_checkpoint_across_restarts(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    for step in range(1, 6):
        write_checkpoint(out, step)
    watcher = CheckpointWatcher(make_run(local_server.url, ledger), out, submit=SUBMIT, every=2)
    assert keys(watcher.scan()) == ["checkpoint-2", "checkpoint-4"]
    assert watcher.scan() == []
    watcher._run.close()
    write_checkpoint(out, 6, marker=False)  # the next one to submit, not complete yet
    write_checkpoint(out, 7)
    write_checkpoint(out, 8)
    run = make_run(local_server.url, ledger)
    restarted = CheckpointWatcher(run, out, submit=SUBMIT, every=2)
    assert restarted.scan() == []  # 6 waits to be complete; 8 waits for 6
    (out / "checkpoint-6" / "trainer_state.json").write_text("{}")
    assert keys(restarted.scan()) == ["checkpoint-6", "checkpoint-8"]
    assert keys(run.jobs()) == ["checkpoint-2", "checkpoint-4", "checkpoint-6", "checkpoint-8"]
    assert server_job_count(local_server.url) == 4


def test_max_pending_holds_checkpoints_back_until_a_job_finishes(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    for step in range(1, 5):
        write_checkpoint(out, step)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=LONG, max_pending=2)
    assert keys(watcher.scan()) == ["checkpoint-1", "checkpoint-2"]
    assert watcher.scan() == []  # two pending: the others wait
    with EvalClient(local_server.url) as client:
        client.cancel_job(run.job("checkpoint-2").job_id or "")
    cancelled = watcher.collect()  # polls: the run learns it ended
    assert [outcome.kind for outcome in cancelled] == ["cancelled"]
    assert keys(watcher.scan()) == ["checkpoint-3"]
    assert watcher.scan() == []
    assert len(watcher.pending()) == 2


def test_run_scans_until_told_to_stop(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, clock: FakeClock
) -> None:
    out = tmp_path / "out"
    run = make_run(local_server.url)
    # Jobs that outlast the test: finish() below must time out whatever the machine's pace
    # (jobs of 0.05 s had all ended, on a loaded CI machine, and it returned at once).
    long_jobs = replace(SUBMIT, model_args={**SUBMIT.model_args, "sim_duration": 600})
    watcher = CheckpointWatcher(run, out, submit=long_jobs, poll_interval=5)
    watcher._clock = clock  # type: ignore[method-assign]
    watcher._sleep = clock.sleep  # type: ignore[method-assign]
    out.mkdir()
    steps = iter(range(1, 4))
    seen: list[str] = []

    def trainer_then_stop() -> bool:  # one checkpoint written per scan, three in all
        step = next(steps, None)
        if step is not None:
            write_checkpoint(out, step)
        return len(seen) == 3

    jobs = watcher.run(until=trainer_then_stop, on_submitted=lambda job: seen.append(job.key))
    assert seen == ["checkpoint-1", "checkpoint-2", "checkpoint-3"] == keys(jobs)
    assert clock.sleeps == [5, 5, 5]
    # a timeout ends it too, its last wait cut to the time left (before: a whole interval)
    assert watcher.run(timeout=12) == []
    assert clock.sleeps[3:] == [5, 5, 2]
    watcher.finish(timeout=7)  # the jobs still run: it times out
    assert clock.sleeps[6:] == [5, 2]


def test_a_slot_freed_by_a_finished_job_is_taken_at_the_next_scan(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, clock: FakeClock
) -> None:
    # Before: each pass scanned before it collected, so a slot freed while the watcher
    # waited was seen one whole poll_interval late.
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    write_checkpoint(out, 2)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, max_pending=1, poll_interval=5)
    watcher._clock = clock  # type: ignore[method-assign]
    watcher._sleep = clock.sleep  # type: ignore[method-assign]
    submitted_at: dict[str | None, float] = {}

    def each_pass_ends_when_its_job_did() -> bool:
        with EvalClient(local_server.url) as client:
            for job in run.jobs():
                client.wait_for_job(job.job_id or "", poll_interval=0.01, timeout=30)
        return len(submitted_at) == 2

    start = clock.now
    watcher.run(
        until=each_pass_ends_when_its_job_did,
        on_submitted=lambda job: submitted_at.setdefault(job.key, clock.now - start),
    )
    assert submitted_at == {"checkpoint-1": 0, "checkpoint-2": 5}


def test_the_server_sees_the_checkpoint_through_the_path_map(
    local_server: LocalServer, tmp_path: Path
) -> None:
    out = tmp_path / "mnt" / "out"
    write_checkpoint(out, 5)
    with (
        EvalClient(local_server.url, path_map={"/data": str(tmp_path / "mnt")}) as client,
        EvalRun(client, tmp_path / "evals.sqlite") as run,
    ):
        (job,) = CheckpointWatcher(run, out, submit=SUBMIT).scan()
    assert job.request.model_args == {"pretrained": "/data/out/checkpoint-5"}


def test_helpers_and_argument_checks(tmp_path: Path) -> None:
    assert step_of("checkpoint-500") == 500 and step_of("final") is None
    assert step_of("global_step500") == 500 and step_of("checkpoint-007") == 7
    # the adversarial try of the watcher: steps 3 and 3 (an exponent dropped; a digit of
    # another script); the review: "--" is a separator too
    assert [step_of(n) for n in ("checkpoint-1e3", "checkpoint-٣")] == [None] * 2
    assert step_of("model--500") == 500
    assert server_path("/mnt/x/checkpoint-1", {"/data": "/mnt/x"}) == "/data/checkpoint-1"
    assert server_path("/mnt/xy/c", {"/data": "/mnt/x"}) == "/mnt/xy/c"
    assert server_path("/mnt/x", {"/data": "s3://bucket/x"}) == "/mnt/x"
    with pytest.raises(InvalidArgumentError):
        StableSize(seconds=-1)
    with pytest.raises(InvalidArgumentError):
        MarkerFile("/abs")
    with pytest.raises(InvalidArgumentError, match="key"):
        CheckpointSubmission(model="m", tasks="t", options={"key": "x"})
    assert os.path.isabs(server_path("rel/c", {}))


def test_a_secret_model_arg_is_masked_in_the_repr() -> None:
    what = CheckpointSubmission(
        model="openai", tasks="mme", model_args={"pretrained": "{checkpoint}", "api_key": "sk-1"}
    )
    assert "sk-1" not in repr(what) and "api_key" in repr(what)
    # The adversarial try of the watcher: extra_body's secrets (masked in the ledger) and
    # a URL's password were shown as given.
    what = CheckpointSubmission(
        model="openai",
        tasks="mme",
        model_args={"pretrained": "{checkpoint}", "base": "https://me:pw-9@models.lan/v1"},
        options={"extra_body": {"api_key": "sk-2", "region": "eu"}},
    )
    shown = repr(what)
    assert "sk-2" not in shown and "pw-9" not in shown and "'region': 'eu'" in shown


def test_stable_size_counts_a_link_to_nothing_as_itself(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, clock: FakeClock
) -> None:
    # An adversarial try: a dangling symlink in a checkpoint read as "being replaced": never
    # ready, and nothing said.
    out = tmp_path / "out"
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT, ready=StableSize(seconds=30))
    watcher._clock = clock  # type: ignore[method-assign]
    folder = write_checkpoint(out, 7, marker=False)
    (folder / "latest").symlink_to(folder / "global_step7")  # DeepSpeed's, before the folder
    assert watcher.scan() == []
    clock.advance(30)
    assert keys(watcher.scan()) == ["checkpoint-7"]


@pytest.mark.slow
def test_each_submission_is_told_as_it_is_made_and_a_stop_ends_the_scan(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: on_submitted ran once the whole scan had returned (a watch stopped during a
    # scan of 300 checkpoints printed no line for the 200 it had submitted), and a stop
    # waited for the scan's end.
    out = tmp_path / "out"
    for step in (1, 2, 3):
        write_checkpoint(out, step)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT)
    stop = threading.Event()
    in_ledger_when_told: list[int] = []

    def told(job: Any) -> None:
        in_ledger_when_told.append(len(run.jobs()))
        stop.set()

    assert keys(watcher.run(stop, on_submitted=told)) == ["checkpoint-1"]
    assert in_ledger_when_told == [1]
    seen: list[str | None] = []
    assert keys(watcher.finish(timeout=30, on_submitted=lambda job: seen.append(job.key))) == []
    assert seen == ["checkpoint-2", "checkpoint-3"]


def test_a_stop_set_while_waiting_submits_nothing_more(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # The review: the watch command's first Ctrl+C sets the Event; set while the watcher
    # waited, the pass it woke to still submitted the next checkpoint (a submission begun
    # after the stop). Checked before each submission now, and when a wait ends.
    out = tmp_path / "out"
    out.mkdir()
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=SUBMIT)
    stop = threading.Event()

    def trainer_writes_then_stop_comes(seconds: float) -> None:
        write_checkpoint(out, 1)
        stop.set()

    watcher._sleep = trainer_writes_then_stop_comes  # type: ignore[method-assign]
    assert watcher.run(stop) == []
    assert run.jobs() == []
    stop.clear()
    write_checkpoint(out, 2)
    stop.set()  # set before it starts: no pass at all
    assert watcher.run(stop) == []
    assert run.jobs() == []


def test_a_folder_whose_path_is_no_text_is_refused_unless_mapped(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # The adversarial try of the watcher: accepted, then each checkpoint refused (its
    # model_args "not JSON-serialisable") and the watch went on, submitting nothing.
    folder = tmp_path / os.fsdecode(b"out-\xff")
    with pytest.raises(InvalidArgumentError, match="not valid text"):
        CheckpointWatcher(make_run(local_server.url), folder, submit=SUBMIT)
    with (
        EvalClient(local_server.url, path_map={"/data": str(folder)}) as client,
        EvalRun(client, tmp_path / "m.sqlite") as run,
    ):
        CheckpointWatcher(run, folder, submit=SUBMIT)


def test_finish_says_once_when_it_only_waits_for_a_checkpoint_that_never_completes(
    make_run: MakeRun,
    local_server: LocalServer,
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The adversarial try of the watcher: finish() (no timeout) after a save that died
    # waited forever without a word.
    out = tmp_path / "out"
    write_checkpoint(out, 200, marker=False)
    watcher = CheckpointWatcher(
        make_run(local_server.url), out, submit=SUBMIT, poll_interval=10, wake="poll"
    )
    watcher._clock = clock  # type: ignore[method-assign]
    watcher._sleep = clock.sleep  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        watcher.finish(timeout=50)  # a save finishing: not said
        clock.advance(3600)  # the review: an earlier finish's wait counted as this one's
        watcher.finish(timeout=50)
        assert "finish waits" not in caplog.text
        watcher.finish(timeout=600)
    assert caplog.text.count("finish waits for 1 checkpoint(s) not submitted yet") == 1


def test_a_lost_checkpoint_is_said_once_not_passed_over_in_silence(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The adversarial try of the watcher: a checkpoint whose submission was recorded lost
    # was skipped by a restarted watcher, and finish() returned [] ("all done").
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    run = make_run(local_server.url)
    watcher = CheckpointWatcher(run, out, submit=LONG)
    (job,) = watcher.scan()
    run._ledger.record_end(job.seq, "lost", "the server restarted", "lost")
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert watcher.scan() == [] and watcher.scan() == []
    assert caplog.text.count("checkpoint-1 is lost (seq 1), not submitted again") == 1


def test_a_sink_naming_a_label_no_checkpoint_has_is_refused_when_the_watcher_is_made(
    make_run: MakeRun, local_server: LocalServer, tmp_path: Path
) -> None:
    # The review: submit refused each checkpoint's job (its labels lack "run"), hours into
    # a training, each logged and the watch going on, submitting nothing.
    from lmms_eval_client import TensorBoardSink

    with TensorBoardSink(tmp_path / "tb", metric_name="{labels[run]}/{task}/{metric}") as sink:
        run = make_run(local_server.url, sinks=[sink])
        with pytest.raises(InvalidArgumentError, match=r"no 'run'.*metric_name"):
            CheckpointWatcher(run, tmp_path / "out", submit=SUBMIT)
