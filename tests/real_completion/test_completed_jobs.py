"""Real completed evaluations: the pinned real lmms-eval server, real jobs, both clients.

The real server (from the lane's environment) runs ``python -m lmms_eval`` with lmms-eval's
``openai`` backend against our chat server, over our five-question tasks; what it writes is
read here as plain JSON (the files are on this machine's disk).

Each results file is read twice: as JSON (what the server wrote, key by key) and through
``client.load_results`` (what a user of the SDK gets), and both must agree.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import (
    BadRequestError,
    JobCancelledError,
    JobInfo,
    JobStatus,
    JobSubmitResponse,
)

from ..client.conftest import resolve
from ..servers import poll_until
from ._lane import (
    API_KEY,
    ARITH,
    CAPITALS,
    MODEL,
    MODEL_NAME,
    SUBTASKS,
    SUITE,
    ChatServer,
    read_json,
    read_jsonl,
    requires_lane,
)
from .conftest import Lane

pytestmark = [pytest.mark.real_completion, requires_lane]

WAIT = 180.0  # seconds a job may take at most here (about 10 s: its subprocess imports torch)
STAMP = r"\d{8}_\d{6}"  # the timestamp lmms-eval puts in its file names
# What the chat server answers to the arithmetic task's questions, in order (it does not divide).
ARITH_REPLIES = ["5", "42", "6", "19", "unknown"]


async def submit(client: Any, lane: Lane, out: Path, **options: Any) -> JobSubmitResponse:
    arguments: dict[str, Any] = {
        "model": MODEL,
        "tasks": [ARITH],
        "model_args": lane.model_args,
        "log_samples": True,
        "output_dir": str(out),
    }
    arguments.update(options)
    job = await resolve(client.evaluate(**arguments))
    assert isinstance(job, JobSubmitResponse)
    return job


async def wait(client: Any, job_id: str) -> JobInfo:
    info = await resolve(client.wait_for_job(job_id, poll_interval=0.2, timeout=WAIT))
    assert isinstance(info, JobInfo)
    return info


def result_files(info: JobInfo, out: Path) -> tuple[Path, list[Path]]:
    """The results file and samples files of a completed job, checked to lie in ``out``."""
    assert info.status == JobStatus.COMPLETED
    assert info.result is not None and list(info.result) == [MODEL_NAME], info.result
    files = info.result[MODEL_NAME]
    assert files.results is not None
    results = Path(files.results)
    assert results.parent == out / MODEL_NAME
    assert re.fullmatch(rf"{STAMP}_results\.json", results.name), results.name
    assert results.is_file()
    samples = [Path(path) for path in files.samples]
    assert all(path.parent == out / MODEL_NAME and path.is_file() for path in samples), samples
    return results, samples


async def test_a_job_completes_and_writes_metrics_and_samples(
    connect: Callable[..., Any], lane: Lane, tmp_path: Path
) -> None:
    client = connect(lane.url)
    requests_before = lane.chat.stats()["requests"]
    out = tmp_path / "single"
    job = await submit(client, lane, out)
    assert job.status == JobStatus.QUEUED

    info = await wait(client, job.job_id)

    assert info.error is None
    assert info.started_at is not None and info.completed_at is not None
    assert info.request.tasks == [ARITH] and info.request.model == MODEL
    results_path, samples = result_files(info, out)
    loaded = await resolve(client.load_results(info))
    metric = loaded.metric(ARITH, "exact_match")
    assert (metric.value, metric.stderr) == (pytest.approx(0.8), pytest.approx(0.2))
    assert loaded.n_samples[ARITH].effective == 5 and not loaded.is_group(ARITH)
    assert [s.score("exact_match") for s in loaded.samples(ARITH)] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert API_KEY not in await resolve(client.eval_log(info, lines=200))
    data = read_json(results_path)
    metrics = data["results"][ARITH]
    assert metrics["exact_match,none"] == pytest.approx(0.8)
    assert metrics["exact_match_stderr,none"] == pytest.approx(0.2)
    assert metrics["alias"] == ARITH
    assert data["n-samples"][ARITH] == {"original": 5, "effective": 5}
    assert data["config"]["model"] == MODEL
    # the results file masks the key that JobInfo.request echoes
    assert "api_key=[REDACTED]" in data["config"]["model_args"]
    assert API_KEY not in results_path.read_text()
    assert data["usage"]["total"]["n_api_calls"] == 5  # an API model's usage block
    assert "groups" not in data
    # one samples file, one line per question, the chat server's replies in it
    assert [path.name for path in samples] == [
        f"{results_path.name.removesuffix('_results.json')}_samples_{ARITH}.jsonl"
    ]
    rows = sorted(read_jsonl(samples[0]), key=lambda row: row["doc_id"])
    assert [row["filtered_resps"] for row in rows] == ARITH_REPLIES
    assert [row["exact_match"] for row in rows] == [1.0, 1.0, 1.0, 1.0, 0.0]
    assert lane.chat.stats()["requests"] - requests_before == 5
    assert len(list(out.glob("eval-*.log"))) == 1  # the evaluation's log, in output_dir


async def test_a_group_job_carries_groups_and_one_samples_file_per_subtask(
    connect: Callable[..., Any], lane: Lane, tmp_path: Path
) -> None:
    client = connect(lane.url)
    out = tmp_path / "group"
    job = await submit(client, lane, out, tasks=[SUITE])

    info = await wait(client, job.job_id)
    results_path, samples = result_files(info, out)

    loaded = await resolve(client.load_results(info))
    assert loaded.group_names == [SUITE] and loaded.subtasks(SUITE) == [ARITH, CAPITALS]
    assert loaded.metric(SUITE, "exact_match").is_group
    assert loaded.metric(SUITE, "exact_match").value == pytest.approx(0.7)
    data = read_json(results_path)
    assert data["group_subtasks"] == {SUITE: [ARITH, CAPITALS]}
    assert list(data["groups"]) == [SUITE]
    # the group's score weighs both five-question subtasks equally: (0.8 + 0.6) / 2
    assert data["groups"][SUITE]["exact_match,none"] == pytest.approx(0.7)
    assert data["results"][SUITE]["exact_match,none"] == pytest.approx(0.7)
    for task, score in SUBTASKS.items():
        assert data["results"][task]["exact_match,none"] == pytest.approx(score)
        assert data["results"][task]["alias"] == f" - {task}"
    assert sorted(path.name.rsplit("_samples_", 1)[1] for path in samples) == [
        f"{ARITH}.jsonl",
        f"{CAPITALS}.jsonl",
    ]


async def test_a_predict_only_job_bypasses_the_metrics(
    connect: Callable[..., Any], lane: Lane, tmp_path: Path
) -> None:
    client = connect(lane.url)
    out = tmp_path / "predict"
    job = await submit(client, lane, out, predict_only=True)

    info = await wait(client, job.job_id)

    assert info.request.predict_only is True
    results_path, samples = result_files(info, out)
    bypass = (await resolve(client.load_results(info))).metric(ARITH, "bypass")
    assert bypass.value == 999 and bypass.stderr is None
    metrics = read_json(results_path)["results"][ARITH]
    assert metrics["bypass,none"] == 999
    assert metrics["bypass_stderr,none"] == "N/A"
    assert not any(key.startswith("exact_match") for key in metrics)
    # the predictions are still written
    rows = sorted(read_jsonl(samples[0]), key=lambda row: row["doc_id"])
    assert [row["filtered_resps"] for row in rows] == ARITH_REPLIES


async def test_a_queued_job_is_cancelled_while_another_really_runs(
    connect: Callable[..., Any], lane: Lane, released_chat: ChatServer, tmp_path: Path
) -> None:
    client = connect(lane.url)
    # The chat server holds its answers: the first job cannot finish until released.
    released_chat.hold()
    running = await submit(client, lane, tmp_path / "running")
    await poll_until(
        lambda: client.get_job(running.job_id),
        lambda info: info.status == JobStatus.RUNNING,
        timeout=30,
        what="the first job to run",
    )
    queued = await submit(client, lane, tmp_path / "queued")
    assert queued.status == JobStatus.QUEUED
    assert (await resolve(client.get_job(queued.job_id))).status == JobStatus.QUEUED
    queue = await resolve(client.get_queue_status())
    assert queue.running_job == running.job_id
    assert queued.job_id in queue.queued_jobs

    cancelled = await resolve(client.cancel_job(queued.job_id))

    assert cancelled.message == f"Job {queued.job_id} cancelled"
    assert (await resolve(client.get_job(queued.job_id))).status == JobStatus.CANCELLED
    with pytest.raises(JobCancelledError) as info:
        await wait(client, queued.job_id)
    assert info.value.job_id == queued.job_id
    with pytest.raises(BadRequestError, match="Cannot cancel a running job"):
        await resolve(client.cancel_job(running.job_id))
    with pytest.raises(BadRequestError, match="already finished or cancelled"):
        await resolve(client.cancel_job(queued.job_id))
    # released, the first job completes for real; the cancelled one never ran
    released_chat.release()
    results_path, _ = result_files(await wait(client, running.job_id), tmp_path / "running")
    assert read_json(results_path)["results"][ARITH]["exact_match,none"] == pytest.approx(0.8)
    assert not (tmp_path / "queued").exists()
    final = await resolve(client.get_job(queued.job_id))
    assert final.status == JobStatus.CANCELLED and final.started_at is None


async def test_the_real_index_lists_the_lane_tasks_and_the_openai_model(
    connect: Callable[..., Any], lane: Lane
) -> None:
    client = connect(lane.url)
    tasks = await resolve(client.list_tasks())  # the real index: ~2,000 names, seconds
    assert {ARITH, CAPITALS, SUITE} <= set(tasks)
    assert len(tasks) > 1000
    assert MODEL in await resolve(client.list_models())
