"""lmms-eval's documented client snippets, run against the local server.

The snippets are those of lmms-eval 0.7's "HTTP Evaluation Server" documentation (sync,
async, training loop, non-blocking harvest), kept verbatim below. Only the import changes
(``lmms_eval.entrypoints`` -> ``lmms_eval_client``) and the server's address: their models
(``qwen2_5_vl``, ``qwen3_vl``, ``vllm``) and tasks (``mmmu_val``, ``mme``, the group
``mathvista``) are the real registry's, so every job must complete.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient
from lmms_eval_client.testing import LocalServer, LocalServerConfig

SYNC = """
from lmms_eval.entrypoints import EvalClient

client = EvalClient("http://eval-server:8000")

# Submit (non-blocking, returns immediately)
job = client.evaluate(
    model="qwen2_5_vl",
    tasks=["mmmu_val", "mme"],
    model_args={"pretrained": "Qwen/Qwen2.5-VL-7B-Instruct"},
    batch_size=1,
    device="cuda:0",
)
print(f"Job submitted: {job['job_id']}")

# Poll for completion
result = client.wait_for_job(job["job_id"], poll_interval=5.0, timeout=3600.0)
print(result["result"])
"""

ASYNC = """
from lmms_eval.entrypoints import AsyncEvalClient

async with AsyncEvalClient("http://eval-server:8000") as client:
    job = await client.evaluate(
        model="qwen3_vl",
        tasks=["mmmu_val"],
        model_args={"pretrained": "Qwen/Qwen3-VL-4B-Instruct"},
    )
    result = await client.wait_for_job(job["job_id"])
"""

TRAINING_LOOP = """
from lmms_eval.entrypoints import EvalClient

client = EvalClient("http://eval-server:8000")
eval_jobs = []

for epoch in range(num_epochs):
    train_one_epoch()

    if epoch % 5 == 0:
        job = client.evaluate(
            model="vllm",
            model_args={"model": f"checkpoints/epoch_{epoch}"},
            tasks=["mmmu_val", "mathvista"],
        )
        eval_jobs.append((epoch, job["job_id"]))

# Collect all results after training
for epoch, job_id in eval_jobs:
    result = client.wait_for_job(job_id)
    print(f"Epoch {epoch}: {result['result']}")
"""

NON_BLOCKING = """
from lmms_eval.entrypoints import EvalClient

client = EvalClient("http://eval-server:8000")
pending = {}  # job_id -> epoch

for epoch in range(num_epochs):
    train_one_epoch()

    # 1) Submit eval asynchronously
    if epoch % 5 == 0:
        job = client.evaluate(
            model="vllm",
            model_args={"model": f"checkpoints/epoch_{epoch}"},
            tasks=["mmmu_val", "mathvista"],
            limit=64,  # optional quick signal
        )
        pending[job["job_id"]] = epoch

    # 2) Non-blocking status checks for already submitted jobs
    completed = []
    for job_id, submitted_epoch in pending.items():
        info = client.get_job(job_id)
        status = info["status"]
        if status == "completed":
            print(f"Eval done for epoch {submitted_epoch}: {info['result']}")
            completed.append(job_id)
        elif status in {"failed", "cancelled"}:
            print(f"Eval {job_id} ({submitted_epoch}) ended with status={status}")
            completed.append(job_id)

    for job_id in completed:
        pending.pop(job_id, None)

# Final drain after training (blocking is okay here)
for job_id, submitted_epoch in pending.items():
    result = client.wait_for_job(job_id)
    print(f"Final eval epoch {submitted_epoch}: {result['result']}")
"""

EPOCHS = 7  # evaluations after epochs 0 and 5; epoch 6 sees the second one done


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalServer]:
    with LocalServer(LocalServerConfig(job_duration=0, temp_dir_root=tmp_path)) as running:
        yield running


def ported(snippet: str, server: LocalServer) -> str:
    """The snippet with only the import and the address changed."""
    assert snippet.count("from lmms_eval.entrypoints import ") == 1
    changed = snippet.replace("from lmms_eval.entrypoints import ", "from lmms_eval_client import ")
    return changed.replace("http://eval-server:8000", server.url)


def trainer(server: LocalServer) -> Any:
    """``train_one_epoch``: an epoch outlasts an evaluation (it ends once the server idles)."""

    def train_one_epoch() -> None:
        deadline = time.monotonic() + 10
        with EvalClient(server.url) as probe:
            while True:
                queue = probe.get_queue_status()
                if queue.running_job is None and not queue.queued_jobs:
                    return
                assert time.monotonic() < deadline, "the local server never became idle"
                time.sleep(0.01)

    return train_one_epoch


def run(snippet: str, server: LocalServer) -> tuple[str, dict[str, Any]]:
    namespace: dict[str, Any] = {"num_epochs": EPOCHS, "train_one_epoch": trainer(server)}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(ported(snippet, server), "<snippet>", "exec"), namespace)
    client = namespace.get("client")
    if isinstance(client, EvalClient):
        client.close()
    return out.getvalue(), namespace


def test_sync_snippet(server: LocalServer) -> None:
    output, namespace = run(SYNC, server)
    result = namespace["result"]
    assert result["status"] == "completed"
    assert list(result["result"]) == ["Qwen__Qwen2.5-VL-7B-Instruct"]
    assert len(result["result"]["Qwen__Qwen2.5-VL-7B-Instruct"].samples) == 2
    assert f"Job submitted: {namespace['job']['job_id']}" in output


async def test_async_snippet(server: LocalServer) -> None:
    code = compile(ported(ASYNC, server), "<snippet>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        awaitable = eval(code, namespace)
        assert asyncio.iscoroutine(awaitable)
        await awaitable
    assert namespace["result"]["status"] == "completed"
    assert list(namespace["result"]["result"]) == ["Qwen__Qwen3-VL-4B-Instruct"]


def test_training_loop_snippet(server: LocalServer) -> None:
    output, namespace = run(TRAINING_LOOP, server)
    assert [epoch for epoch, _ in namespace["eval_jobs"]] == [0, 5]
    assert "Epoch 0: {'checkpoints__epoch_0': " in output
    assert "Epoch 5: {'checkpoints__epoch_5': " in output
    files = namespace["result"]["result"]["checkpoints__epoch_5"]
    # mmmu_val and the mathvista group's subtasks: mathvista_test, and the three of the
    # nested group mathvista_testmini
    assert len(files.samples) == 5


def test_non_blocking_snippet(server: LocalServer) -> None:
    output, namespace = run(NON_BLOCKING, server)
    assert "Eval done for epoch 0: {'checkpoints__epoch_0': " in output
    assert "Eval done for epoch 5: {'checkpoints__epoch_5': " in output
    assert namespace["pending"] == {}
    assert "ended with status" not in output
