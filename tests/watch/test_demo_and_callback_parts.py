"""``make demo-watch`` (examples/watch_demo.py) as written, and the parts of the trainer
callback that need no transformers: the metric names, the rank rule, the missing extra."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_eval_client import MissingDependencyError, TrackedJob
from lmms_eval_client._watch.reporting import is_rank_zero, metric_values

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_submits_five_checkpoints_once_across_a_kill() -> None:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'generated'}"}
    env.pop("LMMS_EVAL_BASE_URL", None)
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "watch_demo.py")],
        capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "watcher: killed (SIGKILL) halfway" in done.stdout
    assert "the server holds 5 finished jobs: none submitted twice" in done.stdout
    submitted = [line for line in done.stdout.splitlines() if ": submitted checkpoint-" in line]
    assert len(submitted) == 5
    rows = done.stdout.split("step  task  metric")[1].strip().splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["100", "200", "300", "400", "500"]


def job(summary: object) -> TrackedJob:
    return TrackedJob.model_construct(summary=summary)


def test_metric_values_names_task_and_metric_without_stderrs() -> None:
    summary = {
        "m": {
            "mme": {"exact_match,none": 0.5, "exact_match_stderr,none": 0.1, "alias": "mme"},
            "gsm8k": {"exact_match,flexible": 0.25, "flag,none": True},
        }
    }
    assert metric_values(job(summary)) == {
        "mme/exact_match": 0.5,
        "gsm8k/exact_match,flexible": 0.25,
    }
    assert metric_values(job(None)) == {}


def test_only_rank_zero_submits() -> None:
    assert is_rank_zero(True, {})
    assert is_rank_zero(True, {"RANK": "0", "LOCAL_RANK": "0"})
    assert not is_rank_zero(True, {"RANK": "1"})
    assert not is_rank_zero(True, {"LOCAL_RANK": "2"})
    assert not is_rank_zero(False, {})
    assert is_rank_zero(True, {"RANK": "-1", "LOCAL_RANK": "-1"})  # not distributed
    assert not is_rank_zero(True, {"RANK": "-2"})


def test_the_callback_without_transformers_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['transformers'] = None\n"  # as if it were not installed
        "try:\n    import lmms_eval_client.hf\n"
        "except ImportError as exc:\n    print(type(exc).__name__, exc.extra, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT / 'generated'}"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.startswith(f"{MissingDependencyError.__name__} hf "), done.stderr
    assert "pip install 'lmms-eval-client[hf]'" in done.stdout
    assert "lmms_eval_client._watch.callback" not in sys.modules  # nothing imports it here
