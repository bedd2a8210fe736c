"""Submit, wait, load_results on the local server: metrics, samples, the log; sync and async.

Also the client's output_root (each submission its own folder) and path_map (the server's
folder read through another path, as a share mounted elsewhere would be).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import (
    AsyncEvalClient,
    EvalClient,
    EvalResults,
    JobFailedError,
    ResultsNotReachableError,
    ResultsUnavailableError,
)
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..client.conftest import resolve

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
FOLDER = "Qwen__Qwen2-VL-2B-Instruct"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    root = tmp_path_factory.mktemp("server")
    with LocalServer(LocalServerConfig(job_duration=0.02, temp_dir_root=root)) as started:
        yield started


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def client_for(kind: str, url: str, **kwargs: object) -> EvalClient | AsyncEvalClient:
    cls = EvalClient if kind == "sync" else AsyncEvalClient
    return cls(url, **kwargs)  # type: ignore[arg-type]


def _check(results: EvalResults, tasks: list[str]) -> None:
    assert results.tasks == tasks
    for task in tasks:
        metric = results.metric(task, "exact_match")
        assert metric.value is not None and 0.0 <= metric.value <= 1.0
        assert metric.higher_is_better is True
        samples = list(results.samples(task))
        assert len(samples) == results.n_samples[task].effective
        mean = sum(s.score("exact_match") or 0.0 for s in samples) / len(samples)
        assert mean == metric.value


async def test_submit_wait_load_results(kind: str, server: LocalServer, tmp_path: Path) -> None:
    client = client_for(kind, server.url, output_root=str(tmp_path))
    try:
        job = await resolve(
            client.evaluate(model="qwen2_vl", tasks=["mme", "mmmu_val"], model_args=QWEN, limit=4)
        )
        done = await resolve(client.wait_for_job(job.job_id, poll_interval=0.01, verbose=False))
        results = await resolve(client.load_results(done))
        _check(results, ["mme", "mmmu_val"])
        # its own folder under the output root, named for a person: <time>-<model>-<id>
        folder = Path(results.path or "").parent.parent
        assert folder.parent == tmp_path and FOLDER in folder.name
        by_id = await resolve(client.load_results(job.job_id))  # by id: fetched first
        assert by_id.metrics == results.metrics
        assert list(await resolve(client.load_all_results(job))) == [FOLDER]
        assert await resolve(client.eval_log(done))  # the local server writes a log too
    finally:
        await resolve(client.close())


async def test_two_submissions_get_two_folders(
    kind: str, server: LocalServer, tmp_path: Path
) -> None:
    client = client_for(kind, server.url, output_root=str(tmp_path))
    try:
        jobs = [
            await resolve(client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN))
            for _ in range(2)
        ]
        dirs = {(await resolve(client.get_job(j.job_id))).request.output_dir for j in jobs}
        assert len(dirs) == 2 and all(str(d).startswith(str(tmp_path)) for d in dirs)
    finally:
        await resolve(client.close())


async def test_path_map_reads_the_server_folder_through_another_path(
    kind: str, server: LocalServer, tmp_path: Path
) -> None:
    served, mounted = tmp_path / "served", tmp_path / "mounted"
    served.mkdir()
    os.symlink(served, mounted)  # the same files, reached through another path here
    writer = client_for(kind, server.url, output_root=str(served))
    reader = client_for(kind, server.url, path_map={str(served): str(mounted)})
    unmapped = client_for(kind, server.url, path_map={str(served): str(tmp_path / "nowhere")})
    try:
        job = await resolve(writer.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN))
        done = await resolve(writer.wait_for_job(job.job_id, poll_interval=0.01, verbose=False))
        results = await resolve(reader.load_results(done))
        assert (results.path or "").startswith(str(mounted))
        _check(results, ["mme"])
        with pytest.raises(ResultsNotReachableError) as info:
            await resolve(unmapped.load_results(done))
        assert str(served) in str(info.value) and "nowhere" in str(info.value)
    finally:
        for client in (writer, reader, unmapped):
            await resolve(client.close())


async def test_results_of_a_job_that_failed_are_unavailable(kind: str, server: LocalServer) -> None:
    client = client_for(kind, server.url)
    try:
        job = await resolve(
            client.evaluate(
                model="qwen2_vl", tasks=["mme"], model_args={**QWEN, "sim_error": "CUDA OOM"}
            )
        )
        with pytest.raises(JobFailedError) as failed:
            await resolve(client.wait_for_job(job.job_id, poll_interval=0.01, verbose=False))
        with pytest.raises(ResultsUnavailableError):
            await resolve(client.load_results(failed.value.job))
    finally:
        await resolve(client.close())
