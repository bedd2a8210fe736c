"""Fixtures of the report tests: a finished run of 4 checkpoints on the local server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

STEPS = (100, 200, 300, 400)
FAILING = 300  # its job fails (a simulated out-of-memory error)
XSS = '<script>window.__xss = 1; console.error("xss")</script>'
TASKS = ["mme", "pope"]
LEAKED = "sk-report0123456789"  # a key in a failed job's error: never in the page


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 0.05 s; output under the test's tmp_path."""
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


@dataclass
class MadeRun:
    ledger: Path
    base_url: str


def _poison_first_sample(run: EvalRun, key: str) -> None:
    """Put a script in the input of the first sample of ``key``'s mme samples file."""
    info = run.job(key).info
    assert info is not None and info.result is not None
    (files,) = info.result.values()
    path = Path(next(p for p in files.samples if p.endswith("_mme.jsonl")))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    first = json.loads(lines[0])
    first["input"] = f"What is 2+2? {XSS}"
    lines[0] = json.dumps(first) + "\n"
    path.write_text("".join(lines), encoding="utf-8")


@pytest.fixture
def made_run(local_server: LocalServer, tmp_path: Path) -> MadeRun:
    """A run of 4 checkpoints (labels {"step": n}, keys step-n, samples logged) on the local
    server, all finished; step 300's job failed; a sample of step 400 carries a script."""
    ledger = tmp_path / "run.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        for step in STEPS:
            model_args = {"pretrained": f"org/ckpt-step-{step}"}
            if step == FAILING:
                model_args["sim_error"] = f"CUDA out of memory (api_key={LEAKED})"
            run.submit(
                "qwen2_vl", TASKS, model_args=model_args, limit=30, log_samples=True,
                labels={"step": step, "note": "<b>bold</b>"}, key=f"step-{step}",
            )  # fmt: skip
        outcomes = list(run.as_completed(timeout=60))
        assert len(outcomes) == len(STEPS)
        _poison_first_sample(run, "step-400")
    return MadeRun(ledger=ledger, base_url=local_server.url)
