"""AsyncEvalRun reads and writes its ledger and results files in worker threads, never in
the event loop (issue 20, item 13): a results file of MBs, a poll of many pending jobs or a
slow disk must not stall the loop's other tasks. The ledger, one connection, stays right
when its calls come from several threads at once."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_api.models import JobInfo
from lmms_eval_client import AsyncEvalClient, AsyncEvalRun, SubmissionUnresolvedError
from lmms_eval_client._runs.ledger import Ledger

from ._fake import BASE, FakeServer
from ._support import QWEN
from .test_ledger_damage import REQUEST


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


class ThreadsOf:
    """Stands for a run's ledger: forwards every call, noting the thread it came from."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.calls: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.ledger, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, threading.get_ident()))
            return attribute(*args, **kwargs)

        return call


async def maybe(value: Any) -> Any:
    """The value, awaited if it is awaitable."""
    return await value if inspect.isawaitable(value) else value


async def submit(run: AsyncEvalRun, n: int) -> Any:
    return await run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})


@pytest.mark.slow
async def test_the_async_run_never_uses_its_ledger_in_the_event_loop(
    server: FakeServer, tmp_path: Path
) -> None:
    loop_thread = threading.get_ident()
    summarized: list[int] = []

    def summarize(info: JobInfo) -> dict[str, Any]:
        summarized.append(threading.get_ident())
        return {"ok": 1}

    async with AsyncEvalClient(BASE) as client:
        run = AsyncEvalRun(client, tmp_path / "run.sqlite", poll_interval=0.01, summarize=summarize)
        spy = ThreadsOf(run._ledger)
        run._ledger = run._poller.ledger = spy  # type: ignore[assignment]
        first = await submit(run, 0)
        server.lose_next_answers = ["after"]  # adopted: reconciliation reads the ledger
        await submit(run, 1)
        server.lose_next_answers = ["after-then-down"]  # left submitting, settled by a poll
        with pytest.raises(SubmissionUnresolvedError):
            await submit(run, 2)
        server.queue_down = False
        server.finish(server.start_next() or "")
        assert len(await run.ready()) == 1
        assert len(await run.harvest()) == 1
        server.run_all()
        assert len([outcome async for outcome in run.as_completed(timeout=5)]) == 2
        await run.wait(timeout=0)
        for read in (run.jobs(), run.job(1), run.outcome(first), run.history(first)):
            await maybe(read)
        await maybe(run.record_summary(first, {"mine": 1}))
        await run.close()
    on_loop = sorted({name for name, thread in spy.calls if thread == loop_thread})
    assert on_loop == [], f"ledger calls made in the event loop: {on_loop}"
    called = {name for name, _ in spy.calls}
    assert called >= {
        "record_intent", "record_answer", "record_status", "record_summary", "known_job_ids",
        "rows", "unfinished", "unharvested", "mark_harvested", "jobs", "job",
        "history", "close",
    }  # fmt: skip
    assert summarized and loop_thread not in summarized


async def test_a_slow_summary_does_not_stall_the_event_loop(
    server: FakeServer, tmp_path: Path
) -> None:
    """A results file on a slow disk (or a large one): the loop's other tasks go on."""

    def slow(info: JobInfo) -> dict[str, Any]:
        time.sleep(0.5)
        return {"ok": 1}

    async with (
        AsyncEvalClient(BASE) as client,
        AsyncEvalRun(client, tmp_path / "run.sqlite", summarize=slow) as run,
    ):
        await submit(run, 0)
        server.run_all()
        gaps = Ticker()
        async with gaps.running():
            (outcome,) = await run.harvest()
    assert outcome.job.summary == {"ok": 1}
    assert gaps.longest < 0.25, f"the event loop stalled {gaps.longest:.3f} s"


class Ticker:
    """A task that wakes every millisecond beside the code under test: the longest gap
    between two wake-ups is the longest stall of the event loop."""

    def __init__(self) -> None:
        self.longest = 0.0

    def running(self) -> Any:
        ticker = self

        class _Running:
            async def __aenter__(self) -> None:
                self.task = asyncio.create_task(ticker._tick())
                await asyncio.sleep(0)

            async def __aexit__(self, *exc: object) -> None:
                await asyncio.sleep(0.01)  # the ticker wakes once more: the last gap counts
                self.task.cancel()
                await asyncio.gather(self.task, return_exceptions=True)

        return _Running()

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now


# -- one connection, many threads ----------------------------------------------------------


def _hammer(ledger: Ledger, writer: int, count: int) -> None:
    for n in range(count):
        job = ledger.record_intent(
            token=f"{writer}-{n}",
            labels={"writer": writer, "n": n},
            request=REQUEST,
            server=BASE,
            owner="test",
            snapshot={"ids": [], "completed": 0, "failed": 0},
        )
        ledger.record_answer(job.seq, f"job-{writer}-{n}", "queued", "answer", None)
        ledger.unfinished()
        ledger.history(job.seq)


def test_the_ledger_serves_calls_from_many_threads(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "run.sqlite")
    try:
        with ThreadPoolExecutor(8) as pool:
            for done in [pool.submit(_hammer, ledger, writer, 15) for writer in range(8)]:
                done.result()
        jobs = ledger.jobs()
        assert len(jobs) == 120 and len({job.job_id for job in jobs}) == 120
        assert all(
            [o.event for o in ledger.history(job.seq)] == ["intent", "answer"] for job in jobs
        )
    finally:
        ledger.close()


async def test_concurrent_submissions_of_one_async_run(server: FakeServer, tmp_path: Path) -> None:
    async with (
        AsyncEvalClient(BASE) as client,
        AsyncEvalRun(client, tmp_path / "run.sqlite") as run,
    ):
        submitted = await asyncio.gather(*(submit(run, n) for n in range(20)))
        jobs = await maybe(run.jobs())
    assert sorted(job.labels["n"] for job in jobs) == list(range(20))
    assert {job.job_id for job in submitted} == set(server.jobs)
    assert all(job.state == "queued" for job in jobs)
