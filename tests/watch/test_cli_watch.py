"""``lmms-eval-client watch DIR``: run as a process until it has submitted what the folder
holds, stopped with Ctrl+C (exit 130, the jobs go on), started again: nothing twice."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._watch import wake as wake_module
from lmms_eval_client.cli.app import app
from lmms_eval_client.testing import LocalServer

from ..faults import FORWARD, Action, Seen, Stall, proxy
from ..servers import refused_url
from .conftest import server_job_count, write_checkpoint

MAIN = "from lmms_eval_client.cli import main; main()"


def start_watch(url: str, out: Path, ledger: Path, *extra: str) -> subprocess.Popen[str]:
    command = [
        sys.executable, "-c", MAIN, "--server", url, "watch", str(out), "--ledger", str(ledger),
        "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained={checkpoint}", "--poll-interval",
        "0.05", "--json", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )


def read_until(process: subprocess.Popen[str], want: int, event: str) -> list[dict[str, Any]]:
    """The JSON lines the process printed until ``want`` of them were ``event``."""
    assert process.stdout is not None
    lines: list[dict[str, Any]] = []
    while sum(1 for line in lines if line["event"] == event) < want:
        text = process.stdout.readline()
        assert text, f"the watch ended early: {process.wait()} {process.stderr.read()}"  # type: ignore[union-attr]
        lines.append(json.loads(text))
    return lines


def interrupt(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> tuple[int, str]:
    process.send_signal(sig)  # Ctrl+C
    _, err = process.communicate(timeout=30)
    return process.returncode, err


@pytest.mark.slow
def test_watch_submits_each_checkpoint_once_across_a_restart(
    local_server: LocalServer, tmp_path: Path
) -> None:
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    for step in (1, 2, 3):
        write_checkpoint(out, step)
    write_checkpoint(out, 4, marker=False)  # still being written: never submitted
    first = start_watch(local_server.url, out, ledger)
    lines = read_until(first, 3, "outcome")  # all three submitted and completed
    code, err = interrupt(first)
    assert code == 130, err
    assert "Stopped watching" in err
    submitted = [line for line in lines if line["event"] == "submitted"]
    assert [line["key"] for line in submitted] == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]
    assert [line["step"] for line in submitted] == [1, 2, 3]
    outcomes = [line for line in lines if line["event"] == "outcome"]
    assert {line["kind"] for line in outcomes} == {"completed"}
    assert all(line["metrics"] for line in outcomes)

    (out / "checkpoint-4" / "trainer_state.json").write_text("{}")
    again = start_watch(local_server.url, out, ledger)
    (line,) = [item for item in read_until(again, 1, "submitted") if item["event"] == "submitted"]
    assert line["key"] == "checkpoint-4"
    # SIGTERM (Slurm's, docker's, systemd's stop) stops it as Ctrl+C does; an adversarial
    # try: it died by the signal (exit -15), without a word, its ledger not closed
    code, err = interrupt(again, signal.SIGTERM)
    assert code == 130 and "Stopped watching" in err, err
    with EvalClient(local_server.url) as client, EvalRun(client, ledger) as run:
        assert [job.key for job in run.jobs()] == [f"checkpoint-{n}" for n in range(1, 5)]
    assert server_job_count(local_server.url) == 4


@pytest.mark.parametrize(
    ("where", "extra", "says"),
    [
        ("nope", [], "does not exist"),
        ("a-file", [], "not a folder"),
        (".", ["--pattern", ""], "pattern"),
        (".", ["--pattern", "out/checkpoint-*"], "a folder's name"),
        # an adversarial try: --marker was ignored in silence
        (".", ["--marker", "DONE", "--stable-seconds", "5"], "--marker or --stable-seconds"),
        (".", ["--marker", ".."], "a file in the checkpoint"),
        (".", ["--marker", ""], "MarkerFile name"),  # the review: the default, in silence
        # the adversarial try of the watcher: each checkpoint refused, the watch going on
        (os.fsdecode(b"out-\xff"), [], "not valid text"),
    ],
)
def test_watch_of_a_missing_folder_or_a_bad_pattern_is_a_usage_error_before_the_ledger(
    local_server: LocalServer, tmp_path: Path, where: str, extra: list[str], says: str
) -> None:
    # Before: exit 1 after "Watching ..." and the ledger created (a missing folder), or a
    # watch of nothing until Ctrl+C (a pattern that can match no folder's name).
    (tmp_path / "a-file").write_text("x")
    ledger = tmp_path / "evals.sqlite"
    done = CliRunner().invoke(
        app,
        ["--server", local_server.url, "watch", str(tmp_path / where), "--ledger", str(ledger),
         "-m", "qwen2_vl", "-t", "mme", *extra],
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert says in done.output and "Watching" not in done.output
    assert not ledger.exists()


def test_watch_wakes_on_a_change_long_before_its_poll_interval(
    local_server: LocalServer, tmp_path: Path
) -> None:
    """--wake events --poll-interval 60: a checkpoint written while it waits is submitted
    within seconds (read by a thread: a missed wake-up fails in 10 s, not in 60)."""
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    process = start_watch(
        local_server.url, out, ledger, "--wake", "events", "--poll-interval", "60"
    )
    lines: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for text in process.stdout:
            lines.put(json.loads(text))

    threading.Thread(target=read, daemon=True).start()
    try:
        assert lines.get(timeout=30)["key"] == "checkpoint-1"
        write_checkpoint(out, 2)
        deadline = time.monotonic() + 10
        submitted = lines.get(timeout=10)
        while submitted["event"] == "outcome":  # checkpoint-1's, collected first on waking
            submitted = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        assert (submitted["event"], submitted["key"]) == ("submitted", "checkpoint-2")
    finally:
        code, err = interrupt(process)
    assert code == 130, err
    assert "on changes, polling every 60 s" in err


def test_watch_wake_events_without_watchfiles_is_refused(
    local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wake_module, "_load_rust_notify", lambda: None)
    done = CliRunner().invoke(
        app,
        ["--server", local_server.url, "watch", str(tmp_path), "--ledger",
         str(tmp_path / "evals.sqlite"), "-m", "qwen2_vl", "-t", "mme", "--wake", "events"],
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "pip install 'lmms-eval-client[watch]'" in done.output
    assert not (tmp_path / "evals.sqlite").exists()


@pytest.mark.slow
def test_watch_says_on_stderr_why_a_checkpoint_is_not_submitted(tmp_path: Path) -> None:
    # Before: silence without --debug; a user could not learn that the server was down.
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    with refused_url() as nowhere:
        process = start_watch(nowhere, out, ledger)
        assert process.stderr is not None
        said: list[str] = []
        try:
            while not said or "could not submit" not in said[-1]:  # (pytest-timeout: a hang)
                said.append(process.stderr.readline())
                assert said[-1], "the watch ended early"
        finally:
            code, err = interrupt(process)
    assert said[0].startswith("Watching ")
    assert said[-1].startswith("WARNING: Watcher of ") and "checkpoint-1" in said[-1]
    assert code == 130, err


def test_a_signal_during_a_submission_lets_its_answer_be_recorded(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # SIGTERM (Slurm's preemption) while POST /evaluate is on its way. Before: the request
    # was cut, its intent left "submitting", and the next watch could only settle it as
    # lost (another job finished meanwhile): the checkpoint was never evaluated.
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    arrived, release = threading.Event(), threading.Event()

    def hold_the_submission(seen: Seen) -> Action:
        if seen.method == "POST":
            arrived.set()
            release.wait(30)  # (the proxy's loop waits: nothing else is asked meanwhile)
        return FORWARD

    with proxy(local_server.url, hold_the_submission) as held:
        process = start_watch(held.url, out, ledger)
        try:
            assert arrived.wait(30)
            process.send_signal(signal.SIGTERM)
            assert process.stderr is not None
            for line in process.stderr:  # told before the answer comes: no race with it
                if "Stopping after the submission in flight" in line or "Stopped" in line:
                    break
        finally:
            release.set()  # the answer comes; the watch then ends by itself
            _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    reader = Ledger(ledger, read_only=True)
    try:
        (job,) = reader.jobs()
    finally:
        reader.close()
    assert (job.key, job.state, job.job_id is not None) == ("checkpoint-1", "queued", True)
    assert server_job_count(local_server.url) == 1


def test_a_signal_during_a_poll_of_a_silent_server_stops_at_once(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # The adversarial try of the watcher: SIGTERM while a poll waited on a server that
    # stopped answering took 3 minutes (the poll's timeouts and retries), nothing in flight.
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    polled = threading.Event()

    def silent_once_submitted(seen: Seen) -> Action:
        if seen.method == "GET" and seen.path.startswith(b"/queue") and submitted.is_set():
            polled.set()
            return Stall()
        return FORWARD

    submitted = threading.Event()
    with proxy(local_server.url, silent_once_submitted) as silent:
        process = start_watch(silent.url, out, ledger)
        try:
            read_until(process, 1, "submitted")
            submitted.set()
            assert polled.wait(30)
            started = time.monotonic()
            code, err = interrupt(process, signal.SIGTERM)
        finally:
            process.kill()
    assert code == 130 and "Stopped watching" in err, err
    assert time.monotonic() - started < 20  # (a minute at least before: the client's timeout)


def test_the_watch_commands_signal_handling_is_for_the_main_thread_only() -> None:
    # The review: the command run in process from a worker thread failed at once
    # (signal.signal: "signal only works in main thread").
    from lmms_eval_client.cli.watch_commands import _stopped_by_signals

    failed: list[BaseException] = []

    def in_a_worker() -> None:
        try:
            with _stopped_by_signals(threading.Event()):
                pass
        except BaseException as exc:
            failed.append(exc)

    worker = threading.Thread(target=in_a_worker)
    worker.start()
    worker.join(30)
    assert failed == []
