"""Issue 21, "recovery from disk": a job the run marks ``lost`` whose own output folder holds a
complete lmms-eval results file becomes ``completed`` (recorded as recovered, with its
summary); a folder with partial files leaves it lost; ``RetryOnFailure(lost=True)``
resubmits a lost job that was not recovered, once per allowed attempt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import JobCompleted, JobLost, RetryOnFailure
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._runs import recovery_files
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import job_count, start_local_server
from ..servers import loopback_http, poll_until
from ._support import QWEN, record_orphan
from .conftest import MakeRunner

LONG = {**QWEN, "sim_duration": 600}  # stays running until the server stops
MODEL_DIR = "Qwen__Qwen2-VL-2B-Instruct"


def _server_job(url: str, job_id: str) -> dict[str, Any]:
    with loopback_http(url) as http:
        return dict(http.get(f"/jobs/{job_id}").raise_for_status().json())


class Restartable:
    """A local server that can be restarted on its port (forgetting every job)."""

    def __init__(self, config: LocalServerConfig) -> None:
        self.config = config
        self.server = start_local_server(config)
        self.stopped: list[LocalServer] = []

    @property
    def url(self) -> str:
        return self.server.url

    def restart(self) -> None:
        self.server.stop()
        self.stopped.append(self.server)
        self.server = start_local_server(self.config, port=self.server.port)


async def _completed_then_forgotten(runner: Any, server: Restartable) -> tuple[Any, Any]:
    """Submit a job (step 1) that completes on the server, which restarts before the run
    reads its answer; the job as submitted, and the one outcome the next harvest gives."""
    job = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"step": 1})
    assert job.job_id is not None
    await poll_until(
        lambda: _server_job(server.url, str(job.job_id)),
        lambda info: info["status"] == "completed",
        what="the job to complete",
    )
    server.restart()
    (outcome,) = await runner.harvest()
    return job, outcome


@pytest.fixture
def server(tmp_path: Path) -> Any:
    restartable = Restartable(LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path))
    yield restartable
    restartable.server.stop()


async def test_a_lost_job_with_complete_results_in_its_folder_is_completed_as_recovered(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path
) -> None:
    runner = make_runner(server.url, output_root=str(tmp_path / "out"))
    job, outcome = await _completed_then_forgotten(runner, server)
    assert isinstance(outcome, JobCompleted), outcome
    assert outcome.job.recovered and outcome.job.state == "completed"
    assert outcome.labels == {"step": 1}
    assert outcome.summary is not None and "mme" in outcome.summary[MODEL_DIR]
    (files,) = outcome.info.result.values() if outcome.info.result else ()
    assert files.results is not None and files.results.startswith(str(job.output_dir))
    events = [o.event for o in await runner.history(job)]
    assert events[-4:] == ["lost", "recovered", "summary", "harvested"], events
    recovered = next(o for o in await runner.history(job) if o.event == "recovered")
    assert recovered.data["files"] == [files.results]


@pytest.mark.parametrize(
    "partial",
    ['{"results": {"mme": {"exact_match,none": 0.5', '{"results": {"other_task": {}}}'],
    ids=["cut-short", "task-missing"],
)
async def test_a_lost_job_with_a_partial_folder_stays_lost_and_is_checked_once(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, partial: str
) -> None:
    runner = make_runner(server.url, output_root=str(tmp_path / "out"))
    job = await runner.submit("qwen2_vl", ["mme"], model_args=LONG)
    assert job.output_dir is not None
    model_dir = Path(job.output_dir, MODEL_DIR)
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "20260101_000000_results.json").write_text(partial)
    server.restart()
    (outcome,) = await runner.harvest()
    assert isinstance(outcome, JobLost) and not outcome.job.recovered
    await runner.ready()  # a second poll does not check it again
    checks = [o for o in await runner.history(job) if o.event == "recovery-checked"]
    assert len(checks) == 1
    assert "not complete" in checks[0].data["not_recovered"] or "mme" in json.dumps(checks[0].data)


async def test_a_lost_job_without_results_is_resubmitted_once_by_policy(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path
) -> None:
    retry = RetryOnFailure(lost=True, max_attempts=2)
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), retry=retry)
    first = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, labels={"step": 2})
    server.restart()
    assert await runner.harvest() == []  # lost, checked, then retried: pending again
    jobs = await runner.jobs()
    assert len(jobs) == 2
    second = jobs[1]
    assert second.retry_of == first.seq and second.attempt == 2 and second.pending
    assert second.labels == {"step": 2} and second.output_dir != first.output_dir
    events = [o.event for o in await runner.history(first)]
    assert events.index("recovery-checked") < events.index("retry"), events
    server.restart()  # the retry is lost too: no attempt is left
    (outcome,) = await runner.harvest()
    assert isinstance(outcome, JobLost) and outcome.job.seq == second.seq
    assert len(await runner.jobs()) == 2


def test_the_lost_policy_is_typed() -> None:
    with pytest.raises(ValueError, match="pattern"):
        RetryOnFailure()
    with pytest.raises(ValueError, match="lost must be a bool"):
        RetryOnFailure(lost="yes")  # type: ignore[arg-type]
    assert not RetryOnFailure("OOM").lost


async def test_a_recovered_job_without_a_job_id_is_in_the_runs_table(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path
) -> None:
    # A submission whose answer never came (its process killed after the POST), completed
    # and recovered from its folder, has no job id: an adversarial try of the watcher
    # found such jobs completed with their metrics, yet missing from metrics() (and so
    # from to_pandas, the report and every tracker). Reached here by forgetting the id.
    runner = make_runner(server.url, output_root=str(tmp_path / "out"))
    job, outcome = await _completed_then_forgotten(runner, server)
    assert isinstance(outcome, JobCompleted) and outcome.job.recovered
    with runner.run._ledger.transaction("forgetting the job id") as conn:
        conn.execute("UPDATE jobs SET job_id = NULL WHERE seq = ?", (job.seq,))
    rows = await runner.metrics()
    assert rows and {(row.seq, row.job_id) for row in rows} == {(job.seq, None)}
    assert {row.task for row in rows} == {"mme"}


async def test_an_orphan_that_ran_before_its_server_restarted_is_not_sent_again(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, ledger_target: Any
) -> None:
    # A process killed between its POST and the answer left an intent; the server took the
    # job, ran it, and restarted (forgetting it, its counters back at 0) before the run was
    # opened again. The queue and the counters then look as if the job was never received
    # (the snapshot before the POST was an idle server): it was sent again, a second
    # evaluation of a checkpoint already evaluated. Its own output folder says otherwise.
    token = "orphan-token-1"
    folder = str(tmp_path / "out" / f"20261207-qwen2_vl-{token}")
    body = build_evaluate_request("qwen2_vl", ["mme"], QWEN, output_dir=folder)
    record_orphan(ledger_target, server.url, body, token=token, labels={"step": 7})
    with loopback_http(server.url) as http:  # the POST the killed process made
        job_id = http.post("/evaluate", json=body.to_dict()).raise_for_status().json()["job_id"]
    await poll_until(
        lambda: _server_job(server.url, job_id),
        lambda info: info["status"] == "completed",
        what="the job to complete",
    )
    server.restart()
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), orphan_after=0)
    (outcome,) = await runner.harvest()
    assert isinstance(outcome, JobCompleted) and outcome.job.recovered, outcome
    assert outcome.labels == {"step": 7}
    with loopback_http(server.url) as http:  # nothing was sent to the restarted server
        assert http.get("/queue").raise_for_status().json()["queued_jobs"] == []
        assert http.get("/queue").json()["completed_jobs"] == 0
    events = [o.event for o in await runner.history(outcome.job)]
    assert "resend" not in events and "unsent" not in events, events
    assert events[:2] == ["intent", "lost"], events


async def _busy_orphan(server: Restartable, tmp_path: Path, ledger_target: Any, n: int) -> None:
    """An orphan never sent (its folder never made), on a server whose finished-job
    counters cannot prove it absent: another job finished since its queue snapshot (as on a
    long-lived server, whose counters sit at their cap)."""
    token = f"orphan-token-{n}"
    body = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, output_dir=str(tmp_path / "out" / f"20261207-qwen2_vl-{token}")
    )
    record_orphan(ledger_target, server.url, body, token=token, labels={"step": n}, key=f"k{n}")
    with loopback_http(server.url) as http:  # another's job, which ends meanwhile
        other = build_evaluate_request("qwen2_vl", ["mme"], QWEN).to_dict()
        job_id = http.post("/evaluate", json=other).raise_for_status().json()["job_id"]
    await poll_until(
        lambda: _server_job(server.url, job_id),
        lambda info: info["status"] == "completed",
        what="the other job to complete",
    )


async def test_an_orphan_never_started_on_a_busy_server_is_sent_again(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, ledger_target: Any
) -> None:
    # An adversarial try: the counters could not prove the orphan absent, so it was
    # recorded lost and, under its key, never evaluated. Not queued, and its own output
    # folder never made (its output root is there): it never started.
    (tmp_path / "out").mkdir()
    await _busy_orphan(server, tmp_path, ledger_target, 9)
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), orphan_after=0)
    job = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, key="k9")
    assert job.seq == 2 and job.job_id is not None, job  # the key passed on, and sent
    (orphan,) = [j for j in await runner.jobs() if j.seq == 1]
    assert orphan.state == "unsent" and "never made" in str(orphan.note), orphan


async def test_an_orphan_whose_output_root_is_not_seen_here_stays_lost(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, ledger_target: Any
) -> None:
    # The counterpart: the output root is not there on this machine (a server elsewhere,
    # no path map): the folder's absence proves nothing, and nothing is sent again.
    await _busy_orphan(server, tmp_path, ledger_target, 10)
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), orphan_after=0)
    job = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, key="k10")
    assert (job.seq, job.state) == (1, "lost"), job


async def test_an_orphan_whose_folder_is_not_there_is_still_sent_again(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, ledger_target: Any
) -> None:
    # The counterpart: the server never received it (no folder): proven absent, sent.
    token = "orphan-token-2"
    folder = str(tmp_path / "out" / f"20261207-qwen2_vl-{token}")
    body = build_evaluate_request("qwen2_vl", ["mme"], QWEN, output_dir=folder)
    record_orphan(ledger_target, server.url, body, token=token, labels={"step": 8})
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), orphan_after=0)
    await runner.harvest()
    (job,) = await runner.jobs()
    assert job.state == "unsent", job


async def test_lost_jobs_past_a_polls_recovery_batch_are_read_before_any_retry(
    make_runner: MakeRunner, server: Restartable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Recovery reads RECOVERY_BATCH (20) lost jobs a poll; retries were due for every lost
    # job at once: past the batch, jobs with complete results were evaluated again (an
    # adversarial try: of 25 completed jobs lost in a restart, 5 sent again).
    monkeypatch.setattr(recovery_files, "RECOVERY_BATCH", 1)
    retry = RetryOnFailure(lost=True, max_attempts=2)
    runner = make_runner(server.url, output_root=str(tmp_path / "out"), retry=retry)
    jobs = [
        await runner.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n})
        for n in (1, 2, 3)
    ]
    for job in jobs:
        await poll_until(
            lambda job=job: _server_job(server.url, str(job.job_id)),
            lambda info: info["status"] == "completed",
            what="the job to complete",
        )
    server.restart()
    outcomes = [outcome for _ in range(3) for outcome in await runner.harvest()]
    assert sorted(o.labels["n"] for o in outcomes) == [1, 2, 3]
    assert all(isinstance(o, JobCompleted) and o.job.recovered for o in outcomes), outcomes
    assert job_count(server.url) == 0  # nothing sent again
    assert len(await runner.jobs()) == 3
