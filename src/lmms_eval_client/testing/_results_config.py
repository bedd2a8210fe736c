"""What a run's results depend on; their ``configs`` and ``config`` (the run's arguments).

``config.resolved_cli_args`` records every option of lmms-eval's command line: the
run's own values over the defaults of lmms-eval 0.7.3's CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmms_eval_api.models import EvaluateRequest

from ._config import LocalServerConfig
from ._naming import redact_secrets
from ._registry import ModelBackend

_SIMULATED_BACKEND = "simulated (lmms_eval_client.testing)"


@dataclass(frozen=True)
class RunFacts:
    """What the results of one run depend on, besides its tasks."""

    request: EvaluateRequest
    config: LocalServerConfig
    model_args: str  # as lmms-eval saw them (no sim_* keys), not yet redacted
    model_name: str
    folder_name: str  # the sanitized model name; "" when model_args name no model
    output_path: Path
    date_id: str
    started: float  # time.perf_counter() when the run began
    backend: ModelBackend | None  # None: a model the pinned lmms-eval does not have

    @property
    def folder(self) -> Path:
        """Where the files go: ``<output_dir>/<model name>`` (output_dir without a name)."""
        return self.output_path / self.folder_name


def task_config(task: str, num_fewshot: int, metric: str) -> dict[str, Any]:
    """A subtask's entry in ``configs``: the fields of a generate_until task's YAML."""
    return {
        "task": task,
        "dataset_path": f"simulated/{task}",
        "dataset_kwargs": {"token": True},
        "test_split": "test",
        "full_docs": False,
        "process_results_use_image": False,
        "doc_to_visual": "<function doc_to_visual (simulated)>",
        "doc_to_text": "<function doc_to_text (simulated)>",
        "doc_to_target": "answer",
        "process_results": "<function process_results (simulated)>",
        "description": "",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "num_fewshot": num_fewshot,
        "metric_list": [{"metric": metric, "aggregation": "mean", "higher_is_better": True}],
        "output_type": "generate_until",
        "generation_kwargs": {
            "max_new_tokens": 16,
            "temperature": 0.0,
            "do_sample": False,
            "until": ["\n\n"],
        },
        "repeats": 1,
        "should_decontaminate": False,
        "score_key": "score",
        "metadata": {"version": 0.0},
        "auto_strip_thinking": False,
    }


def run_config(facts: RunFacts) -> dict[str, Any]:
    """The results' ``config``: the run's arguments, secrets masked."""
    request = facts.request
    backend = facts.backend
    model_args = redact_secrets(facts.model_args)
    # The server passes only truthy values on; lmms-eval's CLI reads them as strings
    # (batch_size) or floats (limit).
    batch_size: str | int = str(request.batch_size) if request.batch_size else 1
    limit = float(request.limit) if request.limit else None
    output_path = str(facts.output_path)
    return {
        "model": request.model,
        "model_args": model_args,
        "model_backend": (
            f"{backend.class_path} ({backend.type})" if backend else _SIMULATED_BACKEND
        ),
        "batch_size": batch_size,
        "batch_sizes": [],
        "device": None,
        "use_cache": None,
        "limit": limit,
        "offset": 0,
        "bootstrap_iters": 100000,
        "process_docs_parallel": 4,
        "gen_kwargs": request.gen_kwargs or "",
        "random_seed": 0,
        "numpy_seed": 1234,
        "torch_seed": 1234,
        "fewshot_seed": 1234,
        "resolved_cli_args": {
            **_CLI_DEFAULTS,
            "model": request.model,
            "tasks": ",".join(request.tasks),
            "model_args": model_args or "",
            "num_fewshot": request.num_fewshot,
            "batch_size": batch_size,
            "output_path": output_path,
            "limit": limit,
            "log_samples": bool(request.log_samples),
            "gen_kwargs": request.gen_kwargs or "",
            "hf_hub_log_args": f",output_path={output_path}",
            "predict_only": bool(request.predict_only),
        },
    }


# lmms-eval 0.7.3's command-line defaults, as its results' config.resolved_cli_args records
# them; the run's own values are filled in over these.
_CLI_DEFAULTS: dict[str, Any] = {
    "config": "",
    "model": None,
    "tasks": None,
    "model_args": "",
    "launcher_args": None,
    "num_fewshot": None,
    "batch_size": 1,
    "max_batch_size": None,
    "device": None,
    "output_path": None,
    "limit": None,
    "offset": 0,
    "use_cache": None,
    "cache_requests": None,
    "check_integrity": False,
    "write_out": False,
    "log_samples": False,
    "wandb_log_samples": False,
    "swanlab_log_samples": False,
    "log_samples_suffix": "model_outputs",
    "system_instruction": None,
    "apply_chat_template": False,
    "fewshot_as_multiturn": False,
    "show_config": False,
    "include_path": None,
    "gen_kwargs": "",
    "reasoning_tags": '[["<think>", "</think>"], ["<analysis>", "</analysis>"]]',
    "verbosity": "INFO",
    "wandb_args": "",
    "swanlab_args": "",
    "timezone": "Asia/Singapore",
    "hf_hub_log_args": "",
    "predict_only": False,
    "seed": [0, 1234, 1234, 1234],
    "trust_remote_code": False,
    "process_with_media": False,
    "process_docs_parallel": 4,
    "agentic_trace_mode": "basic",
    "force_simple": False,
    "tui": False,
    "repeats": 1,
    "baseline": None,
    "max_tokens": None,
    "power_analysis": False,
    "effect_size": 0.03,
    "alpha": 0.05,
    "power": 0.8,
    "correlation": 0.5,
    "std_a": None,
    "std_b": None,
}
