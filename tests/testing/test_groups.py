"""Tasks as lmms-eval runs them: the real registry, groups, tags, wildcards, model aliases."""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import AsyncEvalClient, JobFailedError
from lmms_eval_client.testing import LocalServerConfig, asgi_client
from lmms_eval_client.testing.__main__ import main
from lmms_eval_client.testing._registry import lmms_eval_registry

CKPT = {"model": "checkpoints/epoch_0"}
CKPT_FOLDER = "checkpoints__epoch_0"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncEvalClient]:
    config = LocalServerConfig(job_duration=0, temp_dir_root=tmp_path)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as facade:
        yield facade


async def run(client: AsyncEvalClient, tmp_path: Path, **options: Any) -> tuple[Any, list[str]]:
    """Submit, wait; the results document and the samples files' task names."""
    arguments: dict[str, Any] = {"model": "vllm", "model_args": CKPT}
    arguments.update(options)
    job = await client.evaluate(output_dir=str(tmp_path / "out"), **arguments)
    done = await client.wait_for_job(job.job_id, poll_interval=0.005, timeout=10, verbose=False)
    assert done.result is not None
    (files,) = done.result.values()
    assert files.results is not None
    document = json.loads(Path(files.results).read_text(encoding="utf-8"))
    tasks = [Path(p).name.split("_samples_", 1)[1].removesuffix(".jsonl") for p in files.samples]
    return document, sorted(tasks)


async def failure(client: AsyncEvalClient, **options: Any) -> str:
    arguments: dict[str, Any] = {"model": "vllm", "model_args": CKPT}
    arguments.update(options)
    job = await client.evaluate(**arguments)
    with pytest.raises(JobFailedError) as failed:
        await client.wait_for_job(job.job_id, poll_interval=0.005, timeout=10, verbose=False)
    return failed.value.error or ""


async def test_the_documented_request_expands_the_mathvista_group(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    document, sampled = await run(client, tmp_path, tasks=["mmmu_val", "mathvista"])
    subtasks = [
        "mathvista_test",
        "mathvista_testmini_cot",
        "mathvista_testmini_format",
        "mathvista_testmini_solution",
        "mmmu_val",
    ]
    assert sampled == subtasks  # a samples file per subtask, none per group
    # each level sorted, a group before its members, aliases indented by depth
    assert {task: entry["alias"] for task, entry in document["results"].items()} == {
        "mathvista": "mathvista",
        "mathvista_test": " - mathvista_test",
        "mathvista_testmini": " - mathvista_testmini",
        "mathvista_testmini_cot": "  - mathvista_testmini_cot",
        "mathvista_testmini_format": "  - mathvista_testmini_format",
        "mathvista_testmini_solution": "  - mathvista_testmini_solution",
        "mmmu_val": "mmmu_val",
    }
    assert list(document["results"]) == [
        "mathvista",
        "mathvista_test",
        "mathvista_testmini",
        "mathvista_testmini_cot",
        "mathvista_testmini_format",
        "mathvista_testmini_solution",
        "mmmu_val",
    ]
    # mathvista's YAML has no aggregate_metric_list: no score, no "groups"
    assert document["results"]["mathvista"] == {" ": " ", "alias": "mathvista"}
    assert "groups" not in document
    assert document["group_subtasks"] == {
        "mathvista_testmini": [
            "mathvista_testmini_cot",
            "mathvista_testmini_solution",
            "mathvista_testmini_format",
        ],
        "mathvista": ["mathvista_testmini", "mathvista_test"],
        "mmmu_val": [],
    }
    assert list(document["group_subtasks"]) == ["mathvista_testmini", "mathvista", "mmmu_val"]
    # evaluation order: the last requested name first, members in their YAML's order
    assert list(document["n-samples"]) == [
        "mmmu_val",
        "mathvista_testmini_cot",
        "mathvista_testmini_solution",
        "mathvista_testmini_format",
        "mathvista_test",
    ]
    for key in ("configs", "versions", "n-shot"):
        assert list(document[key]) == subtasks, key
    assert list(document["higher_is_better"]) == sorted(
        [*subtasks, "mathvista", "mathvista_testmini"]
    )
    assert document["config"]["model_backend"] == "lmms_eval.models.chat.vllm.VLLM (chat)"
    assert "throughput" in document  # the vllm backend logs it
    assert document["usage"] == {}  # not an API backend


async def test_an_aggregating_group_gets_its_pooled_score(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    # c4_bench_explanations: two subtasks, mean of exact_match weighted by size
    document, sampled = await run(client, tmp_path, tasks=["c4_bench_explanations"])
    assert sampled == ["c4_bench_e0", "c4_bench_e1"]
    results, sizes = document["results"], document["n-samples"]
    group = results["c4_bench_explanations"]
    assert list(group) == ["exact_match,none", "exact_match_stderr,none", "alias"]
    assert group["alias"] == "C4 Bench Explanations"  # its group_alias
    assert document["groups"] == {"c4_bench_explanations": group}
    n = [sizes[t]["effective"] for t in sampled]
    scores = [results[t]["exact_match,none"] for t in sampled]
    stderrs = [results[t]["exact_match_stderr,none"] for t in sampled]
    weighted = sum(s * k for s, k in zip(scores, n, strict=True)) / sum(n)
    assert group["exact_match,none"] == pytest.approx(weighted)
    pooled = sum((k - 1) * e**2 * k for k, e in zip(n, stderrs, strict=True)) / (sum(n) - len(n))
    assert group["exact_match_stderr,none"] == pytest.approx(math.sqrt(pooled / sum(n)))


async def test_nested_inline_groups_indent_in_results_and_groups(
    client: AsyncEvalClient, tmp_path: Path
) -> None:
    # jmmmu defines two groups inline, each a tag of subtasks
    document, sampled = await run(client, tmp_path, tasks=["jmmmu"], limit=2)
    registry = lmms_eval_registry()
    members = {*registry.tags["jmmmu_culture_agnostic"], *registry.tags["jmmmu_culture_specific"]}
    assert sampled == sorted(members)
    results = document["results"]
    assert results["jmmmu"]["alias"] == "jmmmu_all"
    assert results["culture_agnostic"]["alias"] == " - culture_agnostic"
    assert results["jmmmu_accounting"]["alias"] == "  - jmmmu_accounting"
    assert {name: entry["alias"] for name, entry in document["groups"].items()} == {
        "jmmmu": "jmmmu_all",
        "culture_agnostic": " - culture_agnostic",
        "culture_specific": " - culture_specific",
    }
    assert document["group_subtasks"]["jmmmu"] == ["culture_agnostic", "culture_specific"]


async def test_a_tag_stands_for_its_tasks(client: AsyncEvalClient, tmp_path: Path) -> None:
    members = sorted(lmms_eval_registry().tags["jmmmu_culture_specific"])
    document, sampled = await run(client, tmp_path, tasks=["jmmmu_culture_specific"], limit=1)
    assert sampled == members
    assert list(document["results"]) == members
    assert all(document["results"][m]["alias"] == m for m in members)
    assert document["group_subtasks"] == {m: [] for m in members}


async def test_wildcards_select_from_the_registry(client: AsyncEvalClient, tmp_path: Path) -> None:
    document, sampled = await run(client, tmp_path, tasks=["mathvista_testmini_*"], limit=1)
    expected = fnmatch.filter(lmms_eval_registry().task_names, "mathvista_testmini_*")
    assert sampled == sorted(expected)
    assert list(document["results"]) == sorted(expected)


async def test_a_group_lmms_eval_cannot_load_fails_the_job(client: AsyncEvalClient) -> None:
    # olympiadbench (in lmms-eval 0.7.3) lists olympiadbench_testmini, which does not exist
    error = await failure(client, tasks=["olympiadbench"])
    assert error.startswith("Evaluation produced no parsed results.")
    assert "KeyError: 'olympiadbench_testmini'" in error


async def test_groups_sharing_a_subtask_fail_the_job(client: AsyncEvalClient) -> None:
    error = await failure(client, tasks=["c4_bench", "c4_bench_explanations"])
    assert "were members of more than 1 called group: ['c4_bench_e0'" in error


async def test_model_aliases_are_accepted(client: AsyncEvalClient, tmp_path: Path) -> None:
    document, _ = await run(
        client, tmp_path, model="openai_compatible", model_args={"model": "m"}, tasks=["mme"]
    )
    assert document["config"]["model_backend"].startswith("lmms_eval.models.chat.openai.")
    assert document["usage"]["total"]["n_api_calls"] == document["n-samples"]["mme"]["effective"]
    error = await failure(client, model="no_such_model", tasks=["mme"])
    assert "Model 'no_such_model' not found in available models: " in error
    assert "openai_compatible" in error


def test_offered_tasks_and_models_take_patterns() -> None:
    registry = lmms_eval_registry()
    config = LocalServerConfig(tasks=["mmmu_val*", "my_own_task"], models=["qwen2*"])
    assert config.tasks == (*fnmatch.filter(registry.task_names, "mmmu_val*"), "my_own_task")
    assert "mmmu_val_reasoning" in config.tasks
    assert config.models == tuple(fnmatch.filter(registry.models, "qwen2*"))
    assert LocalServerConfig().tasks == registry.task_names  # the default: all of them
    with pytest.raises(ValueError, match="'foo_\\*' matches none of the"):
        LocalServerConfig(tasks=["foo_*"])
    with pytest.raises(SystemExit) as exited:
        main(["--tasks", "foo_*"])
    assert exited.value.code == 2


async def test_listings_are_the_real_registry(tmp_path: Path) -> None:
    import lmms_eval.models

    registry = lmms_eval_registry()
    config = LocalServerConfig(temp_dir_root=tmp_path)
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        tasks = await client.list_tasks()
        models = await client.list_models()
    assert tasks == list(registry.task_names)
    assert {"mmmu_val", "mathvista", "mme"} <= set(tasks)
    assert models == lmms_eval.models.list_available_models()  # the pinned package's own
    config = LocalServerConfig(temp_dir_root=tmp_path, tasks=["mathvista*"])
    async with asgi_client(config) as http, AsyncEvalClient(http_client=http) as client:
        assert await client.list_tasks() == fnmatch.filter(registry.task_names, "mathvista*")
