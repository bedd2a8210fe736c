"""Runs against the local server over real sockets: lost POST answers (a proxy drops them
before or after the server read them), a server restart in the middle of a run, and a
client process killed (SIGKILL) at random points of its submit loop."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobCompleted, JobLost
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import (
    FORWARD,
    Close,
    ForwardThenDrop,
    Reset,
    Seen,
    proxy,
    start_local_server,
)
from ._support import QWEN, queued_ids, server_jobs
from .conftest import MakeRunner

LONG = {**QWEN, "sim_duration": 600}  # stays queued (or running) for the whole test
ROOT = str(Path(__file__).resolve().parents[2])


class DropSomeAnswers:
    """A proxy rule: a POST /evaluate is dropped before the server reads it (reset or close),
    forwarded and its answer dropped, or forwarded, at random; the POST after a dropped one
    (the run's resend) goes through; everything else is forwarded."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self._dropped_last = False

    def __call__(self, seen: Seen) -> object:
        if seen.method != "POST":
            return FORWARD
        if self._dropped_last:
            self._dropped_last = False
            return FORWARD
        action = self.random.choice([Reset(), Close(), ForwardThenDrop(), FORWARD])
        self.faults[action.name] += 1
        self._dropped_last = action is not FORWARD
        return action


@pytest.mark.parametrize(("trials", "use_root"), [(200, True), (30, False)])
@pytest.mark.slow
async def test_lost_answers_give_exactly_one_job_each(
    make_runner: MakeRunner,
    local_server: LocalServer,
    tmp_path: Path,
    kind: str,
    trials: int,
    use_root: bool,
) -> None:
    if kind == "async" and trials > 100:
        trials = 100  # the sync run takes the long series
    rule = DropSomeAnswers(seed=trials)
    with proxy(local_server.url, rule) as p:  # type: ignore[arg-type]
        options = {"output_root": str(tmp_path / "out")} if use_root else {}
        runner = make_runner(p.url, **options)
        for n in range(trials):
            job = await runner.submit(
                "qwen2_vl", ["mme"], model_args={**LONG, "n": n}, labels={"n": n}
            )
            assert job.job_id is not None and job.state in ("queued", "running")
    assert rule.faults["reset"] and rule.faults["close"] and rule.faults["forward-then-drop"]
    on_server = server_jobs(local_server.url)
    ledger = await runner.jobs()
    assert len(on_server) == trials  # 0 duplicates
    assert {j["job_id"] for j in on_server} == {job.job_id for job in ledger}  # 0 unaccounted
    assert sorted(j["request"]["model_args"]["n"] for j in on_server) == list(range(trials))
    assert all(job.labels["n"] == job.request.model_args["n"] for job in ledger)  # type: ignore[index]
    events: Counter[str] = Counter()
    for job in ledger:
        events.update(o.event for o in await runner.history(job))
    assert events["adopted"] == rule.faults["forward-then-drop"]


async def test_a_server_restart_loses_pending_jobs_keeps_finished_ones_and_the_run_goes_on(
    make_runner: MakeRunner, tmp_path: Path
) -> None:
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    first = start_local_server(config)
    servers = [first]
    try:
        runner = make_runner(first.url)
        quick = [
            await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})
            for n in range(2)
        ]
        done = await runner.completed(timeout=30)
        assert [o.kind for o in done] == ["completed", "completed"]
        running = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"n": 2})
        queued = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"n": 3})
        assert await runner.harvest() == []
        first.stop()
        servers.append(start_local_server(config, port=first.port))
        lost = {o.labels["n"]: o for o in await runner.harvest()}
        assert set(lost) == {2, 3} and all(isinstance(o, JobLost) for o in lost.values())
        assert lost[2].last_state == "running" and lost[3].last_state == "queued"
        assert lost[2].job_id == running.job_id and lost[3].job_id == queued.job_id
        for job in quick:  # finished before the restart: kept, with their results
            outcome = await runner.outcome(job)
            assert isinstance(outcome, JobCompleted) and outcome.info.result
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": 4})
        (after,) = await runner.completed(timeout=30)
        assert isinstance(after, JobCompleted) and after.labels == {"n": 4}
        assert len(await runner.jobs()) == 5
    finally:
        for server in servers:
            server.stop()


# -- kill -9 of a real client process ------------------------------------------------------

_ZYGOTE = textwrap.dedent(
    """
    # Forks a submit loop per trial (imports paid once); reaps it when told.
    import os, sys
    sys.path.insert(0, sys.argv[2])
    from lmms_eval_client import EvalClient
    from lmms_eval_client import EvalRun

    def loop(ledger, trial):
        with EvalClient(sys.argv[1]) as client:
            run = EvalRun(client, ledger, output_root="/srv/out")
            n = 0
            while True:
                run.submit("qwen2_vl", ["mme"], model_args={
                    "pretrained": "Qwen/Qwen2-VL-2B-Instruct", "sim_duration": 600,
                    "trial": trial, "n": n}, labels={"n": n})
                n += 1

    for line in sys.stdin:
        command, arg, *rest = line.split()
        if command == "fork":
            pid = os.fork()
            if pid == 0:
                try:
                    loop(arg, int(rest[0]))
                finally:
                    os._exit(1)
            print(pid, flush=True)
        else:
            os.waitpid(int(arg), 0)
            print("reaped", flush=True)
    """
)


@pytest.mark.slow
def test_kill_9_anywhere_in_a_submit_loop_loses_no_job_and_doubles_none(
    local_server: LocalServer, tmp_path: Path
) -> None:
    zygote = subprocess.Popen(
        [sys.executable, "-c", _ZYGOTE, local_server.url, ROOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    chance = random.Random(9)
    submitted_before_kill = []
    infos: dict[str, dict[str, Any]] = {}  # every job the server has, read once
    settled: Counter[str] = Counter()  # how the resumed runs settled the killed ones' intents
    try:
        with EvalClient(local_server.url) as client:
            for trial in range(50):
                ledger = tmp_path / f"trial-{trial}.sqlite"
                zygote.stdin.write(f"fork {ledger} {trial}\n")
                pid = int(zygote.stdout.readline())
                # a random point of the loop: mid-request, mid-transaction, in between...
                deadline = time.monotonic() + 30
                while not ledger.exists() and time.monotonic() < deadline:
                    time.sleep(0.002)
                time.sleep(chance.uniform(0.0, 0.2))
                os.kill(pid, signal.SIGKILL)
                zygote.stdin.write(f"reap {pid}\n")
                assert zygote.stdout.readline().strip() == "reaped"
                for job_id in queued_ids(local_server.url) - set(infos):
                    infos[job_id] = client.get_job(job_id).model_dump(mode="json")
                ours = [j for j in infos.values() if j["request"]["model_args"]["trial"] == trial]
                if not ledger.exists():
                    assert ours == []
                    continue
                with EvalRun(client, ledger) as run:
                    run.harvest()  # resumes: settles what the killed process left in flight
                    jobs = run.jobs()
                    for job in jobs:
                        settled.update(o.event for o in run.history(job) if o.event != "answer")
                known = [job.job_id for job in jobs if job.job_id is not None]
                assert len(known) == len(set(known))  # none twice
                assert {j["job_id"] for j in ours} == set(known)  # every server job is there
                assert all(job.state in ("queued", "running", "unsent") for job in jobs)
                tokens = Counter(j["request"]["output_dir"].rsplit("-", 1)[1] for j in ours)
                assert all(count == 1 for count in tokens.values())
                submitted_before_kill.append(len(known))
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=30)
        zygote.stdout.close()
    assert len(submitted_before_kill) == 50  # every kill landed inside a loop
    print("jobs per trial before the kill:", submitted_before_kill, "events:", dict(settled))
