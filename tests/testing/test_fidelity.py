"""The local server's files against real lmms-eval 0.7.3 output, structurally.

``tests/data/real-lmms-eval-0.7.3/`` holds what a real server wrote for real jobs (its
README says how they ran: model ``openai`` over a five-question task). The same kind of
request to the local server must give files with the same keys, at the top level and in
each task entry, with values of the same JSON types: only names and numbers differ.
Task names are replaced by their role (``group``, ``subtask_1``...) before comparing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, JobFailedError
from lmms_eval_client.testing import LocalServerConfig, asgi_client

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "real-lmms-eval-0.7.3"
# What the real jobs sent (the openai backend, pointed at a stub chat server).
OPENAI_ARGS = {
    "model": "stub-model",
    "base_url": "http://127.0.0.1:9/v1",
    "api_key": "sk-e2e-stub",
    "max_retries": 2,
    "timeout": 30,
}
# A real aggregating group of two subtasks, like the fixture's e2e_suite.
GROUP = "c4_bench_explanations"
GROUP_MEMBERS = ["c4_bench_e0", "c4_bench_e1"]

# fixture folder -> (request options, the fixture's task roles, the local run's task roles)
CASES: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, str]]] = {
    "single": ({"tasks": ["mme"]}, {"e2e_arith": "subtask_1"}, {"mme": "subtask_1"}),
    "group": (
        {"tasks": [GROUP]},
        {"e2e_suite": "group", "e2e_arith": "subtask_1", "e2e_arith_fewshot": "subtask_2"},
        {GROUP: "group", GROUP_MEMBERS[0]: "subtask_1", GROUP_MEMBERS[1]: "subtask_2"},
    ),
    "predict_only": (
        {"tasks": ["mme"], "predict_only": True},
        {"e2e_arith": "subtask_1"},
        {"mme": "subtask_1"},
    ),
}


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str"}[type(value)]


def shape(value: Any, roles: dict[str, str]) -> Any:
    """Keys (task names as roles) and value types, recursively; lists by element shapes."""
    if isinstance(value, dict):
        return {roles.get(key, key): shape(item, roles) for key, item in value.items()}
    if isinstance(value, list):
        return ["list of", sorted({json.dumps(shape(v, roles), sort_keys=True) for v in value})]
    return json_type(value)


def document_shape(document: dict[str, Any], roles: dict[str, str]) -> Any:
    # A task's config is its YAML, which differs from task to task: its keys only.
    configs = {task: sorted(config) for task, config in document["configs"].items()}
    return shape({**document, "configs": configs}, roles)


def only(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, found
    return found[0]


async def run_locally(tmp_path: Path, options: dict[str, Any]) -> tuple[Path, list[Path]]:
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(
            model="openai", model_args=OPENAI_ARGS, output_dir=str(tmp_path / "out"), **options
        )
        done = await client.wait_for_job(job.job_id, poll_interval=0.005, timeout=10, verbose=False)
    assert done.result is not None
    files = done.result["stub-model"]
    assert files.results is not None
    return Path(files.results), [Path(p) for p in files.samples]


@pytest.mark.parametrize("case", sorted(CASES))
async def test_results_file_has_the_real_structure(case: str, tmp_path: Path) -> None:
    options, real_roles, local_roles = CASES[case]
    real = json.loads(only(FIXTURES / case, "*_results.json").read_text(encoding="utf-8"))
    path, _ = await run_locally(tmp_path, options)
    local = json.loads(path.read_text(encoding="utf-8"))

    assert list(local) == list(real)  # the same top-level keys, in the same order
    real_shape, local_shape = document_shape(real, real_roles), document_shape(local, local_roles)
    for key in real:
        assert local_shape[key] == real_shape[key], key
    # each task entry of results, one by one (the same keys, the same types)
    for task, entry in local["results"].items():
        real_task = next(name for name, role in real_roles.items() if role == local_roles[task])
        assert set(entry) == set(real["results"][real_task]), task
        assert shape(entry, {}) == shape(real["results"][real_task], {}), task


@pytest.mark.parametrize("case", ["single", "group"])
async def test_samples_files_have_the_real_structure(case: str, tmp_path: Path) -> None:
    options, _, local_roles = CASES[case]
    real_files = sorted((FIXTURES / case).glob("*_samples_*.jsonl"))
    results, samples = await run_locally(tmp_path, options)
    assert len(samples) == len(real_files)  # one per subtask
    stamp = results.name.removesuffix("_results.json")
    subtasks = sorted(task for task, role in local_roles.items() if role != "group")
    assert sorted(p.name for p in samples) == [f"{stamp}_samples_{t}.jsonl" for t in subtasks]
    real_line = json.loads(real_files[0].read_text(encoding="utf-8").splitlines()[0])
    for path in samples:
        for line in path.read_text(encoding="utf-8").splitlines():
            sample = json.loads(line)
            assert list(sample) == list(real_line)
            assert shape(sample, {}) == shape(real_line, {})


async def test_evaluation_log_is_named_as_the_real_one(tmp_path: Path) -> None:
    real_log = only(FIXTURES / "single", "eval-*.log")
    await run_locally(tmp_path, {"tasks": ["mme"]})
    local_log = only(tmp_path / "out", "eval-*.log")
    pattern = re.compile(r"eval-\d{8}-\d{6}\.log")
    assert pattern.fullmatch(real_log.name)
    assert pattern.fullmatch(local_log.name)


async def test_failed_job_reports_as_the_real_one(tmp_path: Path) -> None:
    real = json.loads((FIXTURES / "failed" / "failed_job.json").read_text(encoding="utf-8"))
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        job = await client.evaluate(
            model="openai", tasks=["no_such_task"], model_args=OPENAI_ARGS, output_dir=str(tmp_path)
        )
        with pytest.raises(JobFailedError) as failed:
            await client.wait_for_job(job.job_id, poll_interval=0.005, timeout=10, verbose=False)
        local = (await http.get(f"/jobs/{job.job_id}")).json()
    assert list(local) == list(real)
    assert shape(local["request"], {}) == shape(real["request"], {})
    real_lines, local_lines = real["error"].splitlines(), (failed.value.error or "").splitlines()
    prefix = "Evaluation produced no parsed results. Last lines of "
    assert real_lines[0].startswith(prefix)
    assert local_lines[0].startswith(prefix)
    reason = "ValueError: Tasks not found: no_such_task. Try `lmms-eval --tasks"
    assert any(line.startswith(reason) for line in real_lines)
    assert any(line.startswith(reason) for line in local_lines)
    assert "Error during evaluation: Tasks not found: no_such_task." in real_lines[-1]
    assert "Error during evaluation: Tasks not found: no_such_task." in local_lines[-1]
