"""The local server's files read with the same reader: submit, wait, load, samples, log."""

from __future__ import annotations

from pathlib import Path

import anyio

from lmms_eval_client import AsyncEvalClient, EvalClient

# The plugin's fixtures (a top-level conftest would opt in with pytest_plugins).
from lmms_eval_client.testing.pytest_plugin import (  # noqa: F401
    async_lmms_eval_client,
    lmms_eval_client,
    lmms_eval_server,
    lmms_eval_server_config,
)

from ._api import EvalResults, eval_log_tail, load_job_results, output_dir_for, results_of_job

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
FOLDER = "Qwen__Qwen2-VL-2B-Instruct"


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


def test_sync(lmms_eval_client: EvalClient, tmp_path: Path) -> None:  # noqa: F811
    out = output_dir_for(str(tmp_path), "qwen2_vl", QWEN)
    job = lmms_eval_client.evaluate(
        model="qwen2_vl", tasks=["mme", "mmmu_val"], model_args=QWEN, limit=4, output_dir=out
    )
    done = lmms_eval_client.wait_for_job(job.job_id, poll_interval=0.01, verbose=False)
    by_model = results_of_job(done)
    assert list(by_model) == [FOLDER]
    assert (by_model[FOLDER].path or "").startswith(out)
    _check(by_model[FOLDER], ["mme", "mmmu_val"])
    assert eval_log_tail(done)  # the local server writes an evaluation log too


async def test_async(async_lmms_eval_client: AsyncEvalClient, tmp_path: Path) -> None:  # noqa: F811
    job = await async_lmms_eval_client.evaluate(
        model="qwen2_vl", tasks=["mme"], model_args=QWEN, limit=3, output_dir=str(tmp_path / "o")
    )
    done = await async_lmms_eval_client.wait_for_job(job.job_id, poll_interval=0.01, verbose=False)
    # file reading is sync: off the event loop, in a worker thread
    results = await anyio.to_thread.run_sync(lambda: load_job_results(done))
    _check(results, ["mme"])
