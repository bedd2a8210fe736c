"""EvalRun over a pool works as over one client: each submission routed, the ledger knows
where every job went, polling per server, and a reopened ledger resumes on the pool."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from lmms_eval_client import (
    AsyncEvalPool,
    AsyncEvalRun,
    EvalClient,
    EvalPool,
    EvalRun,
    JobCompleted,
    NoServerAvailableError,
)

from .conftest import QWEN, Box


def test_a_run_over_a_pool_spreads_its_jobs_and_harvests_them_all(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    boxes = [start_box(job_duration=0.05, tasks=["mme"]) for _ in range(2)]
    ledger = tmp_path / "evals.sqlite"
    with (
        EvalPool([box.url for box in boxes]) as pool,
        EvalRun(pool, ledger, poll_interval=0.02) as run,
    ):
        jobs = [
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": step})
            for step in range(4)
        ]
        outcomes = list(run.as_completed(timeout=60))
        assert all(isinstance(outcome, JobCompleted) for outcome in outcomes)
        assert sorted(o.labels["step"] for o in outcomes) == [0, 1, 2, 3]
        # the ledger says which server holds each job, and both servers got work
        servers = Counter(job.server for job in run.jobs())
        assert set(servers) == {box.url for box in boxes}
        for job in jobs:
            assert pool.server_of(str(job.job_id)) == job.server
    # reopened over the same pool (a new process would do this): nothing is pending
    with EvalPool([box.url for box in boxes]) as pool, EvalRun(pool, ledger) as again:
        assert [job.state for job in again.jobs()] == ["completed"] * 4
        assert again.wait(timeout=0).pending == []


async def test_an_async_run_over_an_async_pool(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    boxes = [start_box(job_duration=0.05, tasks=["mme"]) for _ in range(2)]
    ledger = tmp_path / "evals.sqlite"
    async with (
        AsyncEvalPool([box.url for box in boxes]) as pool,
        AsyncEvalRun(pool, ledger, poll_interval=0.02) as run,
    ):
        for step in range(3):
            await run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": step})
        done = [outcome async for outcome in run.as_completed(timeout=60)]
    assert len(done) == 3 and all(isinstance(o, JobCompleted) for o in done)


def test_a_run_over_a_pool_gives_each_job_a_folder_under_its_servers_output_root(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # Clients given to a pool keep their own settings: the run asks the chosen server's.
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    roots = {box.url: f"/srv/box{n}" for n, box in enumerate(boxes)}
    clients = [EvalClient(box.url, output_root=roots[box.url]) for box in boxes]
    try:
        with (
            EvalPool(clients) as pool,
            EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=0.02) as run,
        ):
            jobs = [run.submit("qwen2_vl", ["mme"], model_args=QWEN) for _ in range(2)]
            assert {job.server for job in jobs} == set(roots)
            for job in jobs:
                assert job.server is not None and job.output_dir is not None
                assert job.output_dir.startswith(roots[job.server] + "/")
                assert job.output_dir.endswith(job.token)
    finally:
        for client in clients:
            client.close()


def test_a_run_over_a_pool_reads_each_summary_with_its_servers_path_settings(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # The first server's client maps the servers' folders to where nothing is mounted: its
    # jobs' results cannot be read here; the second's can, and need its own settings.
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    clients = [
        EvalClient(boxes[0].url, path_map={str(tmp_path): "/nowhere/mounted"}),
        EvalClient(boxes[1].url, path_map={}),
    ]
    try:
        with (
            EvalPool(clients) as pool,
            EvalRun(pool, tmp_path / "evals.sqlite", poll_interval=0.02) as run,
        ):
            jobs = [run.submit("qwen2_vl", ["mme"], model_args=QWEN) for _ in range(2)]
            assert [job.server for job in jobs] == [box.url for box in boxes]
            for box in boxes:
                assert box.gate is not None
                box.gate.release()
            outcomes = {o.job.server: o for o in run.as_completed(timeout=60)}
            assert all(isinstance(o, JobCompleted) for o in outcomes.values())
            assert outcomes[boxes[0].url].job.summary is None
            assert outcomes[boxes[1].url].job.summary  # read with the second client's map
    finally:
        for client in clients:
            client.close()


async def test_a_runs_overlapping_submissions_keep_each_servers_cap(
    start_box: Callable[..., Box], tmp_path: Path
) -> None:
    # The adversarial try of the pool: four submissions at once took two jobs to each
    # server of cap 1 (the run chose without reserving: each saw an empty server).
    boxes = [start_box(tasks=["mme"], held=True) for _ in range(2)]
    async with (
        AsyncEvalPool([box.url for box in boxes], max_jobs_per_server=1) as pool,
        AsyncEvalRun(pool, tmp_path / "evals.sqlite") as run,
    ):
        tried = await asyncio.gather(
            *(run.submit("qwen2_vl", ["mme"], model_args=QWEN) for _ in range(4)),
            return_exceptions=True,
        )
        refused = [error for error in tried if isinstance(error, NoServerAvailableError)]
        assert len(refused) == 2, tried
        assert Counter(job.server for job in await run.jobs() if job.job_id) == {
            box.url: 1 for box in boxes
        }
