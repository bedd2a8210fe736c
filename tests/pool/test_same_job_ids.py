"""Issue 20, "duplicates and lost work", item 3: two servers of a pool that give their jobs
the same id. A job is (server, id) everywhere: the pool's table of where jobs are, a run's
ledger, and reconciliation's jobs already owned; given only an id that two servers hold,
the pool raises AmbiguousJobIdError (``server=`` says which) instead of picking one.

The local servers issue ids from a counter of their own (their first job is ...0001 on
each), so two of them give the same ids, as two servers of different vendors or clocks may.
"""

from __future__ import annotations

import pickle
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

import lmms_eval_client.testing._scheduler as scheduler_module
from lmms_eval_client import (
    AmbiguousJobIdError,
    EvalPool,
    EvalRun,
    InvalidArgumentError,
    JobCompleted,
    LmmsEvalError,
)

from ..faults import ForwardThenDrop, Script, on, proxy
from ..runs._support import server_jobs
from .conftest import POLL, QWEN, Box, PoolCaller


class CountingIds:
    """``uuid`` for the local server's scheduler: each server (its own thread) counts its
    jobs from 1, so two servers issue the same ids."""

    def __init__(self) -> None:
        self._local = threading.local()

    def uuid4(self) -> uuid.UUID:
        self._local.count = getattr(self._local, "count", 0) + 1
        return uuid.UUID(int=self._local.count)


@pytest.fixture(autouse=True)
def same_job_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "uuid", CountingIds())


async def test_an_id_two_servers_hold_is_ambiguous_and_server_says_which(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    pool = make_pool([box.url for box in boxes])
    first = await pool.evaluate("qwen2_vl", ["mme"], model_args={**QWEN, "box": 0})
    second = await pool.evaluate("qwen2_vl", ["mme"], model_args={**QWEN, "box": 1})
    job_id = first.job_id
    assert second.job_id == job_id and [first.server, second.server] == [b.url for b in boxes]
    with pytest.raises(LmmsEvalError) as caught:
        got = await pool.get_job(job_id)
        pytest.fail(f"get_job({job_id!r}) gave the job of box {got.request.model_args['box']}")
    error = caught.value
    assert isinstance(error, AmbiguousJobIdError) and isinstance(error, InvalidArgumentError)
    assert error.job_id == job_id and error.servers == (first.server, second.server)
    assert "server=" in str(error) and first.server in str(error)
    for n, job in enumerate((first, second)):
        info = await pool.get_job(job_id, server=job.server)
        assert info.request.model_args is not None and info.request.model_args["box"] == n
    assert sorted((j.server, j.job_id) for j in await pool.jobs()) == sorted(
        [(first.server, job_id), (second.server, job_id)]
    )
    for call in (pool.server_of, pool.cancel_job, pool.load_results):
        with pytest.raises(AmbiguousJobIdError):
            await call(job_id)
    for box in boxes:
        assert box.gate is not None
        box.gate.release()
    done = await pool.wait_for_job(
        job_id, poll_interval=POLL, timeout=30, verbose=False, server=second.server
    )
    assert done.request.model_args is not None and done.request.model_args["box"] == 1
    results = await pool.load_results(second)  # its server is in the answer: no doubt
    assert results.model_name


async def test_a_pool_that_never_saw_the_id_finds_it_on_both_servers(
    start_box: Callable[..., Box], make_pool: Callable[..., PoolCaller]
) -> None:
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    first = make_pool([box.url for box in boxes])
    jobs = [await first.evaluate("qwen2_vl", ["mme"], model_args=QWEN) for _ in boxes]
    fresh = make_pool([box.url for box in boxes])
    with pytest.raises(LmmsEvalError) as caught:
        await fresh.get_job(jobs[0].job_id)
    assert isinstance(caught.value, AmbiguousJobIdError), caught.value
    assert caught.value.servers == tuple(box.url for box in boxes)
    info = await fresh.get_job(jobs[0].job_id, server=boxes[1].url)
    assert info.job_id == jobs[0].job_id
    with pytest.raises(InvalidArgumentError, match="not a server of this pool"):
        await fresh.get_job(jobs[0].job_id, server="http://127.0.0.1:9")


def test_a_run_over_a_pool_tracks_the_same_id_on_two_servers(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    with (
        EvalPool([box.url for box in boxes]) as pool,
        EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=POLL) as run,
    ):
        jobs = [run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n}) for n in (0, 1)]
        assert jobs[0].job_id == jobs[1].job_id
        assert [job.server for job in jobs] == [box.url for box in boxes]
        for box in boxes:
            assert box.gate is not None
            box.gate.release()
        outcomes = list(run.as_completed(timeout=60))
    assert all(isinstance(outcome, JobCompleted) for outcome in outcomes), outcomes
    assert {o.job.server: o.labels["n"] for o in outcomes} == {boxes[0].url: 0, boxes[1].url: 1}
    assert len(outcomes) == 2


def test_a_lost_answer_is_reconciled_on_its_server_whatever_the_others_ids(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # The second server's answer is lost; its job has the id of the first server's job,
    # which the ledger holds: that id is the first server's, not owned on the second.
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    rule = Script(ForwardThenDrop(), match=on("POST", "/evaluate"))
    with (
        proxy(boxes[1].url, rule) as dropping,
        EvalPool([boxes[0].url, dropping.url]) as pool,
        EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=POLL) as run,
    ):
        first = run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": 0})
        second = run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": 1})
        assert [first.server, second.server] == [boxes[0].url, dropping.url]
        on_second = server_jobs(boxes[1].url)
        assert [job["job_id"] for job in on_second] == [first.job_id]  # sent once
        assert second.job_id == first.job_id
        assert [o.event for o in run.history(second)] == ["intent", "adopted"]


def test_the_ambiguity_pickles_with_its_servers() -> None:
    error = AmbiguousJobIdError("two", job_id="j", servers=["http://a:1", "http://b:2"])
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is type(error) and str(clone) == "two"
    assert (clone.job_id, clone.servers) == ("j", ("http://a:1", "http://b:2"))
