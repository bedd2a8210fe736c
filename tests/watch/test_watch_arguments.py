"""A watcher or a trainer callback refuses what can never work when it is made, not hours
into a training; and a checkpoint kept unsent is tried again, with ``every`` too."""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    CallbackSink,
    CheckpointSubmission,
    CheckpointWatcher,
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    MarkerFile,
    StableSize,
    StepLabelError,
    WatchError,
)

from ..runs._fake import BASE, FakeServer
from .conftest import SUBMIT, write_checkpoint


@pytest.mark.slow
def test_with_every_a_checkpoint_kept_unsent_is_sent_at_the_next_scan(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: the unsent checkpoint-2 counted as the last one submitted, so the next scan
    # passed over it for good, and finish() said everything was done.
    caplog.set_level(logging.WARNING, logger="lmms_eval_client")
    for step in (1, 2):
        write_checkpoint(tmp_path / "out", step)
    client = EvalClient(BASE, max_retries=0)
    with FakeServer().mocked() as server, client, EvalRun(client, tmp_path / "run.sqlite") as run:
        watcher = CheckpointWatcher(run, tmp_path / "out", submit=SUBMIT, every=2)
        server.busy_submissions = 10  # the server busy: 503
        assert watcher.scan() == []
        assert [(j.key, j.state) for j in run.jobs()] == [("checkpoint-2", "unsent")]
        server.busy_submissions = 0  # (the client tried it 3 times)
        assert [job.key for job in watcher.scan()] == ["checkpoint-2"]
    assert "could not submit checkpoint-2" in caplog.text


def _run(tmp_path: Path, **options: Any) -> tuple[EvalClient, EvalRun]:
    client = EvalClient(BASE)
    return client, EvalRun(client, tmp_path / "run.sqlite", **options)


BAD_WATCHERS: list[tuple[dict[str, Any], str]] = [
    ({"key_prefix": 5}, "key_prefix must be a str"),
    ({"key_prefix": None}, "key_prefix must be a str"),
    ({"key_prefix": "run\x01/"}, "key_prefix must be printable"),
    ({"key_prefix": "x" * 300}, "key_prefix must be printable"),
    # every key would start with a space, which a key may not: each checkpoint refused
    ({"key_prefix": " sft/"}, "key_prefix must not start with a space"),
    ({"ready": "x"}, "ready must be a readiness rule"),
    ({"step": "x"}, "step must be callable"),
    ({"poll_interval": math.nan}, "poll_interval"),
    ({"poll_interval": math.inf}, "poll_interval"),
    ({"poll_interval": True}, "poll_interval"),
    ({"submit": {"model": "hf"}}, "submit must be a CheckpointSubmission"),
    # an adversarial try: the class, not a rule (a raw TypeError at the first scan), and a
    # pattern no name can hold
    ({"ready": MarkerFile}, "the class MarkerFile"),
    ({"pattern": "ck\x00*"}, "NUL"),
]


@pytest.mark.parametrize(("options", "says"), BAD_WATCHERS)
def test_a_watcher_refuses_bad_arguments_when_made(
    tmp_path: Path, options: dict[str, Any], says: str
) -> None:
    # Before: accepted, then a raw TypeError at the first scan, or every checkpoint
    # skipped in silence (a prefix no key can start with), or a busy loop (poll_interval nan).
    client, run = _run(tmp_path)
    with client, run, pytest.raises(InvalidArgumentError, match=says):
        CheckpointWatcher(run, tmp_path, **{"submit": SUBMIT, **options})


@pytest.mark.parametrize("timeout", [math.nan, -1, "1"])
def test_run_and_finish_refuse_a_bad_timeout(tmp_path: Path, timeout: object) -> None:
    client, run = _run(tmp_path)
    with client, run:
        watcher = CheckpointWatcher(run, tmp_path, submit=SUBMIT)
        for method in (watcher.run, watcher.finish):
            with pytest.raises(InvalidArgumentError, match="timeout"):
                method(timeout=timeout)  # type: ignore[operator]


def test_settings_that_fail_every_checkpoint_are_refused_when_made(tmp_path: Path) -> None:
    # Before: each checkpoint was logged "is not submitted" and dropped, finish() said done.
    with pytest.raises(InvalidArgumentError, match="timeout"):
        CheckpointSubmission(model="hf", tasks=["mme"], options={"timeout": "abc"})
    client, run = _run(tmp_path, sinks=[CallbackSink(print, step_label="global_step")])
    with client, run, pytest.raises(StepLabelError, match="global_step"):
        CheckpointWatcher(run, tmp_path, submit=SUBMIT)


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda: MarkerFile(5), "MarkerFile name"),  # type: ignore[arg-type]
        (lambda: MarkerFile("a\x00b"), "MarkerFile name"),
        # an adversarial try: never ready, or a file outside the checkpoint
        (lambda: MarkerFile("."), "a file in the checkpoint"),
        (lambda: MarkerFile(".."), "a file in the checkpoint"),
        (lambda: MarkerFile("../DONE"), "a file in the checkpoint"),
        (lambda: StableSize(seconds=math.nan), "StableSize seconds"),
        (lambda: StableSize(seconds=math.inf), "StableSize seconds"),
    ],
)
def test_readiness_rules_refuse_what_is_never_ready(make: Callable[[], object], says: str) -> None:
    with pytest.raises(InvalidArgumentError, match=says):
        make()


def test_a_folder_that_cannot_be_listed_is_a_watch_error(tmp_path: Path) -> None:
    # Before: a symlink loop escaped as a raw OSError (Errno 40) from scan() and run().
    loop = tmp_path / "loop"
    os.symlink(loop, loop)
    client, run = _run(tmp_path)
    with client, run:
        watcher = CheckpointWatcher(run, loop, submit=SUBMIT)
        with pytest.raises(WatchError, match="Cannot list the watched folder"):
            watcher.scan()
        with pytest.raises(InvalidArgumentError, match="directory"):
            CheckpointWatcher(run, tmp_path / "a\x00b", submit=SUBMIT)


def test_a_marker_file_may_be_given_as_a_path() -> None:
    assert MarkerFile(Path("x/DONE")).name == "x/DONE"


def test_a_step_function_that_fails_for_a_name_skips_that_folder_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # An adversarial try: step=lambda n: int(n.split("-")[1]) ended the watch with a raw
    # ValueError once a checkpoint-best appeared; a str step, a raw TypeError of the sort.
    out = tmp_path / "out"
    for name in ("checkpoint-1", "checkpoint-best", "checkpoint-two"):
        write_checkpoint(out, 0).rename(out / name)
    steps = {"checkpoint-1": 1, "checkpoint-two": "2"}

    def step(name: str) -> int | None:
        return steps[name]  # type: ignore[return-value]  # KeyError for checkpoint-best

    client, run = _run(tmp_path)
    with client, run, caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        watcher = CheckpointWatcher(run, out, submit=SUBMIT, step=step)
        assert [c.name for c in watcher.checkpoints()] == ["checkpoint-1"]
        assert [c.name for c in watcher.checkpoints()] == ["checkpoint-1"]
    assert caplog.text.count("'checkpoint-best' is not watched: its step function raised") == 1
    assert caplog.text.count("'checkpoint-two' is not watched") == 1
    assert "returned '2'" in caplog.text


def test_a_relative_folder_is_the_one_of_the_working_folder_when_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: the watcher followed a later chdir to another folder's out/.
    (tmp_path / "a" / "out").mkdir(parents=True)
    (tmp_path / "b" / "out").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "a")
    client, run = _run(tmp_path)
    with client, run:
        watcher = CheckpointWatcher(run, "out", submit=SUBMIT)
        monkeypatch.chdir(tmp_path / "b")
        assert watcher.directory == tmp_path / "a" / "out"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        ({"run": None}, "run must be an EvalRun"),
        ({"path": None}, "path"),
        ({"submit": {"model": "hf"}}, "submit must be a CheckpointSubmission"),
        ({"labels": "x"}, "labels must be a mapping"),
        ({"path": "out/checkpoint-100/.."}, "names no checkpoint folder"),
    ],
)
def test_submit_checkpoint_refuses_bad_arguments_before_sending(
    tmp_path: Path, arguments: dict[str, Any], says: str
) -> None:
    # An adversarial try: raw TypeError, AttributeError or ValueError, and `x/..` submitted
    # the output folder itself as a checkpoint under the key "..".
    from lmms_eval_client import submit_checkpoint

    client, run = _run(tmp_path)
    with client, run:
        given = {"run": run, "path": "out/checkpoint-1", "submit": SUBMIT, **arguments}
        with pytest.raises(InvalidArgumentError, match=says):
            submit_checkpoint(given.pop("run"), given.pop("path"), **given)
        assert run.jobs() == []
