"""Job semantics of the local server, through the async facade (in process)."""

from __future__ import annotations

import asyncio
import json
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    BadRequestError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    JobStatus,
    ModelNameWarning,
)
from lmms_eval_client.testing import JobGate, LocalServerConfig, asgi_client

from .conftest import FAST, POLL, QWEN, QWEN_FOLDER


async def wait(client: AsyncEvalClient, job_id: str) -> JobInfo:
    return await client.wait_for_job(job_id, poll_interval=POLL, timeout=10, verbose=False)


async def wait_failed(client: AsyncEvalClient, job_id: str) -> JobInfo:
    with pytest.raises(JobFailedError) as caught:
        await wait(client, job_id)
    return caught.value.job


def naive_timestamp(value: str | None) -> datetime:
    assert value is not None
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is None
    return parsed


# -- completed jobs --------------------------------------------------------------------


async def test_completed_job_reports_lmms_eval_result_files(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    submitted = await client.evaluate(
        model="qwen2_vl", tasks=["mme", "pope"], model_args=QWEN, output_dir=str(tmp_path)
    )
    assert submitted.status == JobStatus.QUEUED
    assert submitted.position_in_queue == 0
    assert submitted.message == "Job queued successfully. Position in queue: 0"

    job = await wait(client, submitted.job_id)

    assert job.status == JobStatus.COMPLETED
    assert job.error is None
    created, started = naive_timestamp(job.created_at), naive_timestamp(job.started_at)
    assert created <= started <= naive_timestamp(job.completed_at)
    assert job.result is not None
    assert list(job.result) == [QWEN_FOLDER]  # the name from model_args, not request.model
    files = job.result[QWEN_FOLDER]
    assert files.results is not None
    results_path = Path(files.results)
    assert results_path.parent == tmp_path / QWEN_FOLDER
    assert len(results_path.name) == len("YYYYMMDD_HHMMSS_results.json")
    stamp = results_path.name.removesuffix("_results.json")
    assert sorted(files.samples) == [
        str(tmp_path / QWEN_FOLDER / f"{stamp}_samples_{task}.jsonl") for task in ("mme", "pope")
    ]

    document = json.loads(results_path.read_text(encoding="utf-8"))
    for key in ("results", "configs", "versions", "n-samples", "config", "n-shot"):
        assert key in document
    assert document["model_name_sanitized"] == QWEN_FOLDER
    assert document["config"]["model"] == "qwen2_vl"
    assert document["config"]["model_args"] == "pretrained=Qwen/Qwen2-VL-2B-Instruct"
    for task in ("mme", "pope"):
        metrics = document["results"][task]
        assert metrics["alias"] == task
        assert 0.0 <= metrics["exact_match,none"] <= 1.0
        assert isinstance(metrics["exact_match_stderr,none"], float)
        effective = document["n-samples"][task]["effective"]
        lines = Path(files.samples[0 if task == "mme" else 1]).read_text().splitlines()
        samples = [json.loads(line) for line in lines]
        assert len(samples) == effective
        assert [s["doc_id"] for s in samples] == list(range(effective))
        # the per-sample scores add up to the reported metric
        mean = sum(s["exact_match"] for s in samples) / effective
        assert mean == pytest.approx(metrics["exact_match,none"])
    assert list(tmp_path.glob("eval-*.log"))  # the evaluation log, as the real server


async def test_job_echoes_the_request_with_defaults_and_without_unknown_fields(
    client: AsyncEvalClient, http: httpx.AsyncClient
) -> None:
    response = await http.post(
        "/evaluate",
        json={"model": "qwen2_vl", "tasks": ["mme"], "model_args": QWEN, "surprise": 1},
    )
    assert response.status_code == 200
    job_id = response.json()["job_id"]
    await wait(client, job_id)
    body = (await http.get(f"/jobs/{job_id}")).json()
    assert set(body) == {
        "job_id", "status", "created_at", "started_at", "completed_at", "request", "result",
        "error", "position_in_queue",
    }  # fmt: skip
    assert body["request"] == {
        "model": "qwen2_vl",
        "tasks": ["mme"],
        "model_args": QWEN,
        "num_fewshot": None,
        "batch_size": None,
        "device": None,
        "limit": None,
        "gen_kwargs": None,
        "log_samples": True,
        "predict_only": False,
        "num_gpus": 1,
        "output_dir": None,
    }
    assert body["error"] is None
    assert body["position_in_queue"] == 0  # never cleared, as the real server


async def test_results_config_masks_secrets(client: AsyncEvalClient, tmp_path: Path) -> None:
    job = await client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "api_key": "sk-secret"},
        output_dir=str(tmp_path),
    )  # fmt: skip
    done = await wait(client, job.job_id)
    assert done.result is not None
    path = done.result[QWEN_FOLDER].results
    assert path is not None
    assert "sk-secret" not in Path(path).read_text()
    # as the real server, the echoed request keeps model_args as they were sent
    assert done.request.model_args == {**QWEN, "api_key": "sk-secret"}


async def test_scores_are_deterministic(client: AsyncEvalClient, tmp_path: Path) -> None:
    scores = []
    for run in ("a", "b"):
        job = await client.evaluate(
            model="qwen2_vl", tasks=["mme"], model_args=QWEN, output_dir=str(tmp_path / run)
        )
        done = await wait(client, job.job_id)
        assert done.result is not None
        path = done.result[QWEN_FOLDER].results
        assert path is not None
        scores.append(json.loads(Path(path).read_text())["results"]["mme"])
    assert scores[0] == scores[1]


async def test_limit_log_samples_and_predict_only(client: AsyncEvalClient, tmp_path: Path) -> None:
    job = await client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args=QWEN, limit=3, log_samples=False,
        output_dir=str(tmp_path / "plain"),
    )  # fmt: skip
    done = await wait(client, job.job_id)
    assert done.result is not None
    files = done.result[QWEN_FOLDER]
    assert files.samples == []
    assert files.results is not None
    document = json.loads(Path(files.results).read_text())
    assert document["n-samples"]["mme"]["effective"] == 3
    assert document["config"]["limit"] == 3.0

    job = await client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args=QWEN, predict_only=True, log_samples=False,
        output_dir=str(tmp_path / "predict"),
    )  # fmt: skip
    done = await wait(client, job.job_id)
    assert done.result is not None
    files = done.result[QWEN_FOLDER]
    assert len(files.samples) == 1  # predict_only forces log_samples, as lmms-eval
    assert files.results is not None
    metrics = json.loads(Path(files.results).read_text())["results"]["mme"]
    assert metrics == {
        "alias": "mme",
        "bypass,none": 999,
        "bypass_stderr,none": "N/A",
        "bypass_stderr_clt,none": "N/A",
        "bypass_stderr_clustered,none": "N/A",
    }


async def test_shared_output_dir_reports_every_model_folder(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    first = await client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args=QWEN, output_dir=str(tmp_path)
    )
    await wait(client, first.job_id)
    second = await client.evaluate(
        model="llava", tasks=["mme"], model_args={"pretrained": "lmms-lab/llava"},
        output_dir=str(tmp_path),
    )  # fmt: skip
    done = await wait(client, second.job_id)
    assert done.result is not None
    # the real server reports every sub-folder of output_dir, not only this job's
    assert sorted(done.result) == [QWEN_FOLDER, "lmms-lab__llava"]


async def test_default_output_dir_is_a_fresh_temporary_dir(tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, temp_dir_prefix="x_")
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        done = await wait(client, job.job_id)
    assert done.result is not None
    path = done.result[QWEN_FOLDER].results
    assert path is not None
    assert Path(path).parent.parent.parent == tmp_path
    assert Path(path).parent.parent.name.startswith("x_")


async def test_a_job_writes_its_files_off_the_servers_event_loop(
    client: AsyncEvalClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: a job of 1,700 subtasks wrote its results on the event loop, and
    # GET /health waited 2 s for it. The real server evaluates in a subprocess: it answers.
    from lmms_eval_client.testing import _simulation

    on_the_loop: list[bool] = []
    for name in ("__init__", "finish"):
        original = getattr(_simulation.EvaluationRun, name)

        def watched(*args: object, _original: Any = original) -> Any:
            try:
                asyncio.get_running_loop()
                on_the_loop.append(True)
            except RuntimeError:  # no event loop runs in this thread
                on_the_loop.append(False)
            return _original(*args)

        monkeypatch.setattr(_simulation.EvaluationRun, name, watched)
    job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    done = await wait(client, job.job_id)
    assert done.result is not None
    assert on_the_loop == [False, False]


# -- failed jobs -----------------------------------------------------------------------


async def test_sim_outcome_fail(client: AsyncEvalClient) -> None:
    job = await client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "sim_error": "CUDA out of memory"}
    )
    failed = await wait_failed(client, job.job_id)
    assert failed.status == JobStatus.FAILED
    assert failed.result is None
    assert failed.completed_at is not None
    error = failed.error or ""
    first, *rest = error.splitlines()
    assert first.startswith("Evaluation produced no parsed results. Last lines of ")
    assert first.endswith(".log:")
    log = Path(first.removeprefix("Evaluation produced no parsed results. Last lines of ")[:-1])
    assert log.is_file()
    assert "CUDA out of memory" in log.read_text()
    assert len(rest) > 2
    assert "CUDA out of memory" in error


async def test_sim_outcome_crash_and_server_wide_outcome(tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, outcome="crash")
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
        failed = await wait_failed(client, job.job_id)
        assert (failed.error or "").startswith("Evaluation failed with return code 1. Last lines")
        log = Path((failed.error or "").splitlines()[0].split("Last lines of ")[1][:-1])
        assert log.is_file()
        # a job's model_args win over the server's default
        job = await client.evaluate(
            model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "sim_outcome": "complete"}
        )
        assert (await wait(client, job.job_id)).status == JobStatus.COMPLETED


async def test_no_model_name_in_model_args_fails_as_on_the_real_server(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    with pytest.warns(ModelNameWarning, match="names no model"):  # the SDK warned first
        job = await client.evaluate(
            model="qwen2_vl",
            tasks=["mme"],
            model_args={"max_pixels": 1024},
            output_dir=str(tmp_path),
        )
    failed = await wait_failed(client, job.job_id)
    assert (failed.error or "").startswith("Evaluation produced no parsed results.")
    # lmms-eval did write its results, directly into output_dir, where nobody looks
    assert len(list(tmp_path.glob("*_results.json"))) == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tasks": ["mme", "nope"]}, "Tasks not found: nope."),
        ({"model": "no_such_model"}, "Model 'no_such_model' not found in available models"),
        ({"limit": -2}, "--limit must be -1 or non-negative"),
        ({"model_args": {**QWEN, "sim_duration": "soon"}}, "invalid model_args sim_duration"),
        ({"model_args": {**QWEN, "sim_outcome": "maybe"}}, "invalid model_args sim_outcome"),
    ],
)
async def test_what_lmms_eval_rejects_fails_the_job(
    client: AsyncEvalClient, http: httpx.AsyncClient, options: dict[str, object], message: str
) -> None:
    # raw requests, past the facade's own argument checks
    body = {"model": "qwen2_vl", "tasks": ["mme"], "model_args": QWEN, **options}
    response = await http.post("/evaluate", json=body)
    assert response.status_code == 200
    failed = await wait_failed(client, response.json()["job_id"])
    assert message in (failed.error or "")


async def test_wildcards_and_validation_off(tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, validate_names=False)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="anything", tasks=["my_task"], model_args=QWEN)
        done = await wait(client, job.job_id)
        assert done.result is not None
        assert len(done.result[QWEN_FOLDER].samples) == 1
    config = LocalServerConfig(job_duration=FAST, temp_dir_root=tmp_path, tasks=["a1", "a2", "b"])
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(model="qwen2_vl", tasks=["a*"], model_args=QWEN)
        done = await wait(client, job.job_id)
        assert done.result is not None
        names = sorted(Path(p).name.split("_samples_")[1] for p in done.result[QWEN_FOLDER].samples)
        assert names == ["a1.jsonl", "a2.jsonl"]


# -- cancel ----------------------------------------------------------------------------


async def test_cancel_queued_running_finished_and_unknown(
    held_client: AsyncEvalClient, gate: JobGate
) -> None:
    client = held_client
    running = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    await gate.until_held()
    assert (await client.get_job(running.job_id)).status == JobStatus.RUNNING
    queued = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)

    cancelled = await client.cancel_job(queued.job_id)
    assert cancelled.message == f"Job {queued.job_id} cancelled"
    job = await client.get_job(queued.job_id)
    assert job.status == JobStatus.CANCELLED
    assert job.completed_at is not None

    with pytest.raises(BadRequestError) as caught:
        await client.cancel_job(queued.job_id)
    assert caught.value.status_code == 400
    assert caught.value.detail == "Job already finished or cancelled"

    with pytest.raises(BadRequestError) as caught:
        await client.cancel_job(running.job_id)
    assert caught.value.detail == "Cannot cancel a running job"

    with pytest.raises(JobNotFoundError) as not_found:
        await client.cancel_job("no-such-job")
    assert not_found.value.status_code == 404
    assert not_found.value.detail == "Job no-such-job not found"

    # the cancelled job is still in the asyncio queue: /health counts it, /queue does not
    assert (await client.health()).queue_size == 1
    queue = await client.get_queue_status()
    assert queue.queue_size == 0
    assert queue.queued_jobs == []
    assert queue.running_job == running.job_id


async def test_cancel_finished_job(client: AsyncEvalClient) -> None:
    job = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    await wait(client, job.job_id)
    with pytest.raises(BadRequestError) as caught:
        await client.cancel_job(job.job_id)
    assert caught.value.detail == "Job already finished or cancelled"


async def test_get_unknown_job_is_404(client: AsyncEvalClient, http: httpx.AsyncClient) -> None:
    response = await http.get("/jobs/nope")
    assert response.status_code == 404
    assert response.json() == {"detail": "Job nope not found"}
    with pytest.raises(JobNotFoundError):
        await client.get_job("nope")


# -- queue positions -------------------------------------------------------------------


async def test_positions_with_several_queued_jobs(
    held_client: AsyncEvalClient, gate: JobGate
) -> None:
    client = held_client
    first = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    await gate.until_held()  # the others stay queued until the gate opens
    assert (await client.get_job(first.job_id)).status == JobStatus.RUNNING
    others = [
        await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN) for _ in range(3)
    ]
    assert [job.position_in_queue for job in others] == [0, 1, 2]
    assert [(await client.get_job(job.job_id)).position_in_queue for job in others] == [0, 1, 2]

    queue = await client.get_queue_status()
    assert queue.queue_size == 3
    assert queue.queued_jobs == [job.job_id for job in others]
    assert queue.running_job == first.job_id
    assert (await client.health()).queue_size == 3

    await client.cancel_job(others[0].job_id)
    # recomputed for queued jobs; the cancelled one keeps its stale value
    assert [(await client.get_job(job.job_id)).position_in_queue for job in others] == [0, 0, 1]
    # a submission counts the cancelled job still sitting in the asyncio queue
    late = await client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN)
    assert late.position_in_queue == 3
    assert (await client.get_job(late.job_id)).position_in_queue == 2
    assert gate.held == 1  # nothing moved while the test looked

    gate.release()
    for job in (*others[1:], late):
        done = await wait(client, job.job_id)
        assert done.position_in_queue is not None  # never cleared
    queue = await client.get_queue_status()
    assert (queue.queue_size, queue.running_job, queue.completed_jobs) == (0, None, 4)


# -- eviction --------------------------------------------------------------------------


async def test_finished_jobs_beyond_max_completed_jobs_are_evicted(tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=0.01, temp_dir_root=tmp_path, max_completed_jobs=2)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        ids = []
        for outcome in ("complete", "fail", "complete"):
            job = await client.evaluate(
                model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "sim_outcome": outcome}
            )
            ids.append(job.job_id)
            with pytest.raises(JobFailedError) if outcome == "fail" else nullcontext():
                await wait(client, job.job_id)
        with pytest.raises(JobNotFoundError):
            await client.get_job(ids[0])
        assert (await client.get_job(ids[1])).status == JobStatus.FAILED
        assert (await client.get_job(ids[2])).status == JobStatus.COMPLETED
        queue = await client.get_queue_status()
        assert (queue.completed_jobs, queue.failed_jobs) == (1, 1)
