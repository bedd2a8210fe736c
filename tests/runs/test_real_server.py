"""Runs against the REAL lmms-eval 0.7.3 server: a lost POST answer is adopted (one job), and
a restart makes the pending job lost while the finished one keeps its record."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import EvalClient, EvalRun, JobCancelled, JobFailed, JobLost

from ..faults import ForwardThenDrop, Script, job_count, on, proxy
from ..servers import RealServer
from ..support import MINIMAL_REQUESTS

pytestmark = [pytest.mark.real_server, MINIMAL_REQUESTS]


@pytest.mark.slow
def test_a_lost_answer_is_adopted_on_the_real_server(
    held_real_server: RealServer, tmp_path: Path
) -> None:
    rule = Script(ForwardThenDrop(), match=on("POST", "/evaluate"))
    with (
        proxy(held_real_server.url, rule) as p,
        EvalClient(p.url) as client,
        EvalRun(client, tmp_path / "run.sqlite", output_root=str(tmp_path / "out")) as run,
    ):
        first = run.submit("qwen2_vl", ["mme"], limit=1, labels={"n": 0})
        second = run.submit("qwen2_vl", ["mme"], limit=1, labels={"n": 1})
        assert [s.method for s in p.seen].count("POST") == 2  # nothing sent twice
        assert [o.event for o in run.history(first)] == ["intent", "adopted"]
        assert [o.event for o in run.history(second)] == ["intent", "answer"]
    assert job_count(held_real_server.url) == 2
    assert first.state == "running" and second.state == "queued"


@pytest.mark.slow
def test_a_real_server_restart_loses_the_pending_job_and_the_run_goes_on(
    start_real_server: Callable[..., AbstractContextManager[RealServer]], tmp_path: Path
) -> None:
    with proxy() as p:  # the client's one address, in front of the server of the moment
        with start_real_server(hold_jobs=True) as first:
            p.upstream = httpx.URL(first.url)
            client = EvalClient(p.url)
            run = EvalRun(client, tmp_path / "run.sqlite", poll_interval=0.05)
            running = run.submit("qwen2_vl", ["mme"], limit=1, labels={"n": 0})
            queued = run.submit("qwen2_vl", ["mme"], limit=1, labels={"n": 1})
            client.cancel_job(str(queued.job_id))
            (cancelled,) = run.harvest()
            assert isinstance(cancelled, JobCancelled) and cancelled.labels == {"n": 1}
        with start_real_server() as second:  # the first one is gone, with its jobs
            p.upstream = httpx.URL(second.url)
            (lost,) = run.harvest()
            assert isinstance(lost, JobLost) and lost.job_id == running.job_id
            assert lost.last_state == "running"
            assert isinstance(run.outcome(queued), JobCancelled)  # kept
            run.submit("qwen2_vl", ["mme"], limit=1, labels={"n": 2})
            (after,) = run.as_completed(timeout=60)  # no ML stack: the job fails
            assert isinstance(after, JobFailed) and after.labels == {"n": 2}
            assert len(run.jobs()) == 3
            run.close()
            client.close()
