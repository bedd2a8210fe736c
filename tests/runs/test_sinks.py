"""A run's sinks (issue 23): each completed job's metrics written to every sink once, at
its training step, after the poll that saw it complete; a failing sink never stops the
run and gets the values later; a resumed run writes nothing twice. Both run classes,
against the local server, TensorBoard's event files read back with its EventAccumulator."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    AsyncEvalRun,
    CallbackSink,
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    MetricRowLike,
    Sink,
    StepLabelError,
    TensorBoardSink,
)
from lmms_eval_client.testing import LocalServer

from ..trackers._rows import scalars
from ._support import QWEN, LedgerTarget, server_jobs
from .conftest import MakeRunner


class FailsFirst:
    """A tracker that is down at the first call, then keeps every (step, task, value)."""

    def __init__(self) -> None:
        self.calls = 0
        self.points: list[tuple[int, str, float | None]] = []

    def __call__(self, rows: Sequence[MetricRowLike], step: int) -> None:
        self.calls += 1
        if self.calls == 1:
            raise ConnectionError("tracker down")
        self.points += [(step, row.task, row.value) for row in rows]


class Kept(CallbackSink):
    closed = 0

    def close(self) -> None:
        self.closed += 1


async def test_each_completed_job_reaches_every_sink_once_even_one_that_failed(
    make_runner: MakeRunner,
    local_server: LocalServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    ledger_target: LedgerTarget,
) -> None:
    log_dir, path = tmp_path / "tb", ledger_target
    flaky = FailsFirst()
    board = TensorBoardSink(log_dir)
    callback = Kept(flaky, name="flaky")
    sinks = [board, callback]
    runner = make_runner(local_server.url, path, sinks=sinks)
    for step in (100, 200, 300):  # a checkpoint per step
        model_args = {"pretrained": f"my-org/ckpt-{step}"}
        await runner.submit("qwen2_vl", ["mme"], model_args=model_args, labels={"step": step})
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        outcomes = await runner.completed(timeout=60)  # the failure does not stop the run
        await runner.ready()  # one more poll: the failed sink's jobs written now
        await runner.ready()  # and nothing again
    assert len(outcomes) == 3
    assert caplog.text.count("ConnectionError: tracker down") == 1
    rows = await runner.metrics()
    expected = [(row.labels["step"], "mme", row.value) for row in rows]
    assert sorted(flaky.points) == expected and len(expected) == 3  # each once
    await runner.close()
    assert callback.closed == 0  # the run leaves the caller's sinks open
    board.close()
    tb = [(step, round(value, 6)) for step, _, value in expected if value is not None]
    assert scalars(log_dir, "eval/mme/exact_match") == tb

    # Resumed: the same ledger, the same sinks' names: nothing written twice.
    again = FailsFirst()
    again.calls = 1  # (up this time)
    with TensorBoardSink(log_dir) as board2:
        resumed = make_runner(
            local_server.url, path, sinks=[board2, CallbackSink(again, name="flaky")]
        )
        await resumed.ready()
        await resumed.close()
    assert again.points == []
    assert scalars(log_dir, "eval/mme/exact_match") == tb


class TrackerDown(Sink):
    """A sink whose name needs its tracker (an MLflow run to look up), which is down: each
    ask costs the tracker client's retries (minutes, by MLflow's defaults)."""

    def __init__(self) -> None:
        self.asked = 0

    @property
    def name(self) -> str:
        self.asked += 1
        raise ConnectionError("tracker down")

    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        raise AssertionError("never reached")


async def test_a_tracker_down_is_asked_once_a_poll(
    make_runner: MakeRunner, local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    # An adversarial try: run.ready() blocked 492 s against an MLflow answering 500, the
    # sink's name asked twice a poll (once for the jobs it lacks, once to write them).
    down = TrackerDown()
    runner = make_runner(local_server.url, sinks=[down])
    model_args = {**QWEN, "sim_duration": 0.1}
    await runner.submit("qwen2_vl", ["mme"], model_args=model_args, labels={"step": 1})
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        await runner.completed(timeout=60)
        down.asked = 0
        await runner.ready()  # one poll
    assert down.asked == 1
    assert "ConnectionError: tracker down" in caplog.text


async def test_submit_refuses_labels_a_sink_cannot_place(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    points: list[int] = []
    sink = CallbackSink(lambda rows, step: points.append(step), name="steps")
    runner = make_runner(local_server.url, sinks=[sink])
    with pytest.raises(StepLabelError, match="no label 'step'") as info:
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"epoch": 1})
    assert info.value.step_label == "step"
    assert await runner.jobs() == [] and server_jobs(local_server.url) == []
    with pytest.raises(StepLabelError, match="not an integer"):
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": "late"})
    await runner.submit(
        "qwen2_vl", ["mme"], model_args=QWEN, labels={"step": "7"}
    )  # an integer's text
    await runner.completed(timeout=60)
    assert points == [7]


def test_sinks_must_be_sinks(tmp_path: Path) -> None:
    with EvalClient("http://127.0.0.1:9") as client:  # (nothing is sent)
        for wrong in ([print], TensorBoardSink(tmp_path / "tb")):
            with pytest.raises(InvalidArgumentError, match="sinks must be a list of Sink"):
                EvalRun(client, tmp_path / "run.sqlite", sinks=wrong)  # type: ignore[arg-type]
        # An adversarial try: sinks with summarize=None were never written, in silence
        sink = TensorBoardSink(tmp_path / "tb")
        with pytest.raises(InvalidArgumentError, match="summarize=None"):
            EvalRun(client, tmp_path / "run.sqlite", sinks=[sink], summarize=None)
    assert not (tmp_path / "run.sqlite").exists()


class Overlapping:
    """A tracker whose first write waits (up to a second) for another write to begin: two
    polls delivering at once both get into it."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.second = threading.Event()

    def __call__(self, rows: Sequence[MetricRowLike], step: int) -> None:
        self.steps.append(step)
        if len(self.steps) == 1:
            self.second.wait(timeout=1)
        else:
            self.second.set()


@pytest.mark.slow
def test_two_polls_of_one_run_at_once_write_each_job_once(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # The adversarial try of the sinks: run.ready() from two threads (a training loop and
    # a monitor) wrote every job twice: each read what the sink lacked, then wrote it.
    path = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client:
        with EvalRun(client, path, poll_interval=0.02) as run:  # the job done, no sink yet
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 100})
            run.wait(timeout=60)
        tracker = Overlapping()
        with EvalRun(client, path, sinks=[CallbackSink(tracker, name="cb")]) as run:
            polls = [threading.Thread(target=run.ready) for _ in range(2)]
            for poll in polls:
                poll.start()
            for poll in polls:
                poll.join()
    assert tracker.steps == [100]


@pytest.mark.slow
async def test_two_polls_of_one_async_run_at_once_write_each_job_once(
    local_server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "run.sqlite"
    async with AsyncEvalClient(local_server.url) as client:
        async with AsyncEvalRun(client, path, poll_interval=0.02) as run:
            await run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 100})
            await run.wait(timeout=60)
        tracker = Overlapping()
        async with AsyncEvalRun(client, path, sinks=[CallbackSink(tracker, name="cb")]) as run:
            await asyncio.gather(run.ready(), run.ready())
    assert tracker.steps == [100]


async def test_submit_refuses_labels_a_sinks_metric_names_need(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path
) -> None:
    # The adversarial try of the sinks: metric_name="{labels[ckpt]}/..." and a job without
    # that label was sent; it could never be written (a KeyError logged at every poll).
    sink = TensorBoardSink(tmp_path / "tb", metric_name="{labels[ckpt]}/{task}/{metric}")
    runner = make_runner(local_server.url, sinks=[sink])
    with pytest.raises(InvalidArgumentError, match=r"no 'ckpt'.*metric_name"):
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 1})
    assert await runner.jobs() == [] and server_jobs(local_server.url) == []
    # the review: a label the template formats or indexes, of the wrong kind: TypeError
    sink.metric_name = "{labels[ckpt][0]}/{task}/{metric}"
    with pytest.raises(InvalidArgumentError, match="none it can use"):
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 1, "ckpt": 5})
    sink.metric_name = "{labels[ckpt]}/{task}/{metric}"
    await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 1, "ckpt": "c1"})
    assert len(await runner.jobs()) == 1
    sink.close()


def test_a_sink_whose_write_polls_its_own_run_does_not_hang(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # The review: the lock that keeps two polls from delivering at once held a sink whose
    # write polled its own run (a callback calling run.ready()) forever.
    path = tmp_path / "run.sqlite"
    steps: list[int] = []
    with EvalClient(local_server.url) as client:
        with EvalRun(client, path, poll_interval=0.02) as run:
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 100})
            run.wait(timeout=60)
        runs: list[EvalRun] = []

        def polls(rows: Sequence[MetricRowLike], step: int) -> None:
            steps.append(step)
            runs[0].ready()

        with EvalRun(client, path, sinks=[CallbackSink(polls, name="cb")]) as run:
            runs.append(run)
            poll = threading.Thread(target=run.ready, daemon=True)
            poll.start()
            poll.join(timeout=30)  # (hung: the thread is left, the test fails)
            assert not poll.is_alive()
    assert steps == [100]


async def test_a_summarize_of_another_shape_is_said_once_not_fed_to_the_sinks_in_silence(
    make_runner: MakeRunner, local_server: LocalServer, caplog: pytest.LogCaptureFixture
) -> None:
    # Found by reading the change: a summarize of one's own, not of the default summary's
    # shape, left the sinks empty and said nothing, for every job, at every poll.
    points: list[int] = []
    sink = CallbackSink(lambda rows, step: points.append(step), name="steps")
    runner = make_runner(local_server.url, sinks=[sink], summarize=lambda info: {"accuracy": 0.5})
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        for step in (1, 2):
            await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": step})
            await runner.completed(timeout=60)
        await runner.ready()
    said = [r.getMessage() for r in caplog.records if "summary's shape" in r.getMessage()]
    assert points == [] and len(said) == 1, said
    assert "seq 1" in said[0] and "summarize='results'" in said[0]


class Gate:
    """A tracker whose writes wait until ``release`` is set, each write's step kept."""

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()

    def __call__(self, rows: Sequence[MetricRowLike], step: int) -> None:
        self.entered.set()
        self.release.wait(timeout=10)
        self.steps.append(step)


async def _two_completed_jobs(client: AsyncEvalClient, path: Path) -> None:
    async with AsyncEvalRun(client, path, poll_interval=0.02) as run:  # no sink yet
        for step in (1, 2):
            await run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": step})
        await run.wait(timeout=60)


async def test_a_run_closed_during_a_delivery_writes_each_job_once(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # An adversarial try: wait_for(run.wait(), T) cancelled during a delivery, then the run
    # closed: its worker thread went on, wrote the next job after the close, could not
    # record it (the ledger closed; said nowhere), and the resumed run wrote it again.
    path, gate, after = tmp_path / "run.sqlite", Gate(), Gate()
    after.release.set()
    async with AsyncEvalClient(local_server.url) as client:
        await _two_completed_jobs(client, path)
        run = AsyncEvalRun(client, path, sinks=[CallbackSink(gate, name="cb")])
        poll = asyncio.create_task(run.ready())
        assert await asyncio.to_thread(gate.entered.wait, 10)  # job 1's write under way
        poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
        closing = asyncio.create_task(run.close())
        await asyncio.sleep(0)  # (the close under way, waiting for the write)
        gate.release.set()
        await closing
        async with AsyncEvalRun(client, path, sinks=[CallbackSink(after, name="cb")]) as run:
            await run.ready()
    assert sorted(gate.steps + after.steps) == [1, 2], (gate.steps, after.steps)


def test_a_sync_run_closed_while_a_thread_delivers_writes_each_job_once(
    local_server: LocalServer, tmp_path: Path
) -> None:
    path, gate, after = tmp_path / "run.sqlite", Gate(), Gate()
    after.release.set()
    asyncio.run(_two_completed_jobs_sync_free(local_server.url, path))
    with EvalClient(local_server.url) as client:
        run = EvalRun(client, path, sinks=[CallbackSink(gate, name="cb")])
        poll = threading.Thread(target=run.ready)
        poll.start()
        assert gate.entered.wait(10)  # job 1's write under way
        closing = threading.Thread(target=run.close)
        closing.start()
        gate.release.set()
        closing.join()
        poll.join()
        with EvalRun(client, path, sinks=[CallbackSink(after, name="cb")]) as run:
            run.ready()
    assert sorted(gate.steps + after.steps) == [1, 2], (gate.steps, after.steps)


async def _two_completed_jobs_sync_free(url: str, path: Path) -> None:
    async with AsyncEvalClient(url) as client:
        await _two_completed_jobs(client, path)
