"""The files a completed lmms-eval run leaves: ``<date>_results.json`` and the samples.

Key for key what lmms-eval 0.7.3 writes (compared with real output files by
tests/testing/test_fidelity.py); only the numbers are made up, deterministically.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._results_config import RunFacts, run_config, task_config
from ._task_tree import (
    TaskNode,
    aggregated_leaves,
    group_subtasks,
    indent,
    leaves,
    print_order,
)

_CHOICES = "ABCD"
_SIMULATED_VERSION = "simulated by lmms_eval_client.testing"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).digest()


def _fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return int.from_bytes(_digest(*parts)[:8], "big") / 2**64


@dataclass(frozen=True)
class TaskScore:
    """One subtask's simulated outcome."""

    original: int
    effective: int
    correct: frozenset[int]  # doc ids answered correctly

    @property
    def score(self) -> float:
        return len(self.correct) / self.effective if self.effective else 0.0


def docs_in(task: str, facts: RunFacts) -> tuple[int, int]:
    """(original, effective) number of documents of a task, with ``limit`` applied."""
    if facts.config.docs_per_task is not None:
        original = facts.config.docs_per_task
    else:
        original = 10 + int(_fraction("docs", task) * 91)
    limit = facts.request.limit
    if not limit or limit == -1:
        effective = original
    elif limit < 1:
        effective = math.ceil(original * limit)
    else:
        effective = min(int(limit), original)
    return original, effective


def score_task(task: str, facts: RunFacts) -> TaskScore:
    """Which documents of a task are answered correctly (a hash of model, name and task)."""
    original, effective = docs_in(task, facts)
    seed = _digest(facts.request.model, facts.model_name, task)
    accuracy = int.from_bytes(seed[:8], "big") / 2**64
    correct = random.Random(seed).sample(range(effective), round(accuracy * effective))
    return TaskScore(original, effective, frozenset(correct))


def _task_metrics(score: TaskScore, predict_only: bool) -> dict[str, Any]:
    if predict_only:
        return {
            "bypass,none": 999,
            "bypass_stderr,none": "N/A",
            "bypass_stderr_clt,none": "N/A",
            "bypass_stderr_clustered,none": "N/A",
        }
    n, p = score.effective, score.score
    # Of 0/1 scores, the sample standard deviation over sqrt(n): lmms-eval's bootstrap
    # stderr of a mean and its CLT stderr both come to this.
    stderr: float | str = math.sqrt(p * (1 - p) / (n - 1)) if n > 1 else "N/A"
    return {
        "exact_match,none": p,
        "exact_match_stderr,none": stderr,
        "exact_match_stderr_clt,none": stderr,
        "exact_match_stderr_clustered,none": "N/A",  # no cluster_key in any simulated task
    }


def _group_metrics(
    group: TaskNode, metrics: dict[str, dict[str, Any]], sizes: dict[str, int]
) -> dict[str, Any]:
    """A group's entry: its pooled metric when its YAML aggregates, else ``{" ": " "}``."""
    assert group.group is not None
    if not group.group.aggregate:
        return {" ": " "}
    entry: dict[str, Any] = {}
    members = [leaf.name for leaf in aggregated_leaves(group)]
    keys = {k for m in members for k in metrics[m] if "_stderr" not in k and k != "alias"}
    for key in sorted(keys):
        stderr_key = "_stderr,".join(key.split(","))
        values = [metrics[m][key] for m in members if key in metrics[m]]
        counts = [sizes[m] for m in members if key in metrics[m]]
        weights = counts if group.group.weight_by_size else [1] * len(counts)
        entry[key] = sum(v * w for v, w in zip(values, weights, strict=True)) / sum(weights)
        stderrs = [metrics[m][stderr_key] for m in members if stderr_key in metrics[m]]
        if "N/A" in stderrs or sum(counts) <= len(counts):
            entry[stderr_key] = "N/A"
        else:  # the pooled standard error of the subtasks' samples
            pooled = sum((n - 1) * s**2 * n for n, s in zip(counts, stderrs, strict=True))
            entry[stderr_key] = math.sqrt(pooled / (sum(counts) - len(counts)) / sum(counts))
    return entry


def _token_counts(task: str, doc_id: int) -> dict[str, int]:
    return {"input_tokens": 10 + int(_fraction("in", task, doc_id) * 20), "output_tokens": 1}


def _usage(totals: tuple[int, int, int]) -> dict[str, Any]:
    inputs, outputs, calls = totals
    counted = {
        "input_tokens": inputs,
        "output_tokens": outputs,
        "reasoning_tokens": 0,
        "total_tokens": inputs + outputs,
        "n_api_calls": calls,
    }
    return {
        "total": counted,
        "by_task": {"_unknown": dict(counted)},  # the server's runs set no task context
        "by_source": {"model": dict(counted)},
        "budget_exceeded": False,
        "budget_total_tokens": None,
    }


def _efficiency_of(docs: int, inputs: int, outputs: int, correct: int, counted: int) -> Any:
    return {
        "docs": float(docs),
        "docs_with_token_counts": float(counted),
        "total_input_tokens": float(inputs),
        "total_output_tokens": float(outputs),
        "total_tokens": float(inputs + outputs),
        "total_correct_score": float(correct),
        "avg_output_tokens_per_sample": outputs / counted if counted else 0.0,
        "tokens_per_correct_answer": outputs / correct if correct else None,
    }


class ResultsWriter:
    """Writes one run's results file and samples files, as lmms-eval does."""

    def __init__(self, facts: RunFacts, log: Callable[[str, str], None]) -> None:
        self.facts = facts
        self.log = log
        self.predict_only = facts.request.predict_only
        self.log_samples = facts.request.log_samples or self.predict_only  # as lmms-eval
        self.metric = "bypass" if self.predict_only else "exact_match"
        self.api = facts.backend is not None and facts.backend.records_usage

    def write(self, forest: Sequence[TaskNode]) -> Path:
        """Write the files of a run over ``forest``; return the results file's path."""
        facts = self.facts
        facts.folder.mkdir(parents=True, exist_ok=True)
        subtasks = [leaf.name for leaf in leaves(forest)]
        scores = {task: score_task(task, facts) for task in subtasks}
        metrics = {task: _task_metrics(scores[task], self.predict_only) for task in subtasks}
        sizes = {task: scores[task].effective for task in subtasks}

        results: dict[str, Any] = {}
        groups: dict[str, Any] = {}
        for node, depth in print_order(forest):
            if node.is_group:
                entry = {**_group_metrics(node, metrics, sizes), "alias": indent(node.alias, depth)}
                if " " not in entry:
                    groups[node.name] = entry
            else:
                entry = {"alias": indent(node.name, depth), **metrics[node.name]}
            results[node.name] = entry

        listed = group_subtasks(forest)
        versions: dict[str, Any] = dict.fromkeys(subtasks, 0.0)
        for node, _ in print_order(forest):
            spec = node.group
            if spec is not None and spec.aggregate and spec.version is not None:
                versions[node.name] = spec.version
        rated = [*subtasks, *(name for name, members in listed.items() if members)]
        n_shot = facts.request.num_fewshot or 0

        task_hashes: dict[str, str] = {}
        efficiency: dict[str, Any] = {}
        totals = [0, 0, 0]  # input tokens, output tokens, API calls
        for task in subtasks:
            task_hash, used = self.write_samples(task, scores[task])
            inputs, outputs = used
            totals = [totals[0] + inputs, totals[1] + outputs, totals[2] + sizes[task]]
            if self.log_samples:
                task_hashes[task] = task_hash
                hits = 0 if self.predict_only else len(scores[task].correct)
                if self.api:
                    efficiency[task] = _efficiency_of(sizes[task], *used, hits, sizes[task])
                else:  # no token counts in the samples
                    efficiency[task] = _efficiency_of(sizes[task], 0, 0, hits, 0)

        ended = time.perf_counter()
        document: dict[str, Any] = {"results": results}
        if groups:
            document["groups"] = groups
        document.update(
            {
                "group_subtasks": listed,
                "configs": {t: task_config(t, n_shot, self.metric) for t in sorted(subtasks)},
                "versions": dict(sorted(versions.items())),
                "n-shot": {task: n_shot for task in sorted(subtasks)},
                "higher_is_better": {name: {self.metric: True} for name in sorted(rated)},
                "n-samples": {
                    task: {"original": scores[task].original, "effective": sizes[task]}
                    for task in subtasks
                },
                "config": run_config(facts),
                "git_hash": None,
                "git_branch": None,
                "lmms_eval_version": _SIMULATED_VERSION,
                "date": facts.date_id,
            }
        )
        if facts.backend is not None and facts.backend.logs_throughput:
            elapsed = max(ended - facts.started, 1e-6)
            document["throughput"] = {
                "total_gen_tokens": totals[1],
                "total_elapsed_time": elapsed,
                "avg_speed": totals[1] / elapsed,
            }
        document["usage"] = _usage((totals[0], totals[1], totals[2])) if self.api else {}
        if efficiency:
            overall = [sum(e[k] for e in efficiency.values()) for k in _OVERALL_SUMS]
            document["efficiency"] = {
                "by_task": efficiency,
                "overall": _efficiency_of(*(int(v) for v in overall)),
            }
        document.update(
            {
                "task_hashes": task_hashes,
                "model_source": facts.request.model,
                "model_name": facts.model_name,
                "model_name_sanitized": facts.folder_name,
                "system_instruction": None,
                "system_instruction_sha": None,
                "fewshot_as_multiturn": False,
                "chat_template": None,
                "chat_template_sha": None,
                "start_time": facts.started,
                "end_time": ended,
                "total_evaluation_time_seconds": str(ended - facts.started),
            }
        )
        path = facts.folder / f"{facts.date_id}_results.json"
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
        self.log("INFO", "Saving results aggregated")
        return path

    def write_samples(self, task: str, score: TaskScore) -> tuple[str, tuple[int, int]]:
        """Append one task's samples if logged (as lmms-eval, appending).

        Returns the task's hash and the (input, output) tokens its answers took.
        """
        path = self.facts.folder / f"{self.facts.date_id}_samples_{task}.jsonl"
        lines = []
        hashes = []
        inputs = outputs = 0
        for doc_id in range(score.effective):
            target = _CHOICES[int(_fraction("target", task, doc_id) * len(_CHOICES))]
            if doc_id in score.correct:
                answer = target
            else:
                answer = _CHOICES[(_CHOICES.index(target) + 1) % len(_CHOICES)]
            doc_hash = hashlib.sha256(f"{task}/{doc_id}".encode()).hexdigest()
            hashes.append(f"sample_{doc_id}{doc_hash}")
            counts = _token_counts(task, doc_id)
            inputs += counts["input_tokens"]
            outputs += counts["output_tokens"]
            counted = [{**counts, "reasoning_tokens": 0}] if self.api else [None]
            sample = {
                "doc_id": doc_id,
                "target": target,
                "filtered_resps": answer,
                "token_counts": counted,
                "doc_hash": doc_hash,
                self.metric: None if self.predict_only else float(answer == target),
                "input": f"Simulated question {doc_id} of {task}. Answer with the letter.",
            }
            lines.append(json.dumps(sample, ensure_ascii=False) + "\n")
        if self.log_samples:
            with path.open("a", encoding="utf-8") as out:
                out.writelines(lines)
            self.log("INFO", f"Saving samples to {path}")
        return hashlib.sha256("".join(hashes).encode("utf-8")).hexdigest(), (inputs, outputs)


_OVERALL_SUMS = (
    "docs",
    "total_input_tokens",
    "total_output_tokens",
    "total_correct_score",
    "docs_with_token_counts",
)
