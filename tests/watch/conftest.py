"""Fixtures of the watcher tests: a local server with quick jobs, a run over it, a trainer
that writes checkpoint folders one file at a time (no sleeps: each step is a call)."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._watch.submission import CheckpointSubmission
from lmms_eval_client.testing import LocalServerConfig

from ..servers import loopback_http

SUBMIT = CheckpointSubmission(
    model="qwen2_vl", tasks=["mme"], model_args={"pretrained": "{checkpoint}"}
)


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """Jobs of 0.05 s unless a request says otherwise; output under the test's tmp_path."""
    return LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[..., EvalRun]]:
    """``make_run(url, ledger=...)``: an EvalRun over a fresh client, closed after the test."""
    made: list[tuple[EvalClient, EvalRun]] = []

    def make(url: str, ledger: Path | None = None, **options: Any) -> EvalRun:
        client = EvalClient(url)
        run = EvalRun(client, ledger or tmp_path / "evals.sqlite", poll_interval=0.02, **options)
        made.append((client, run))
        return run

    yield make
    for client, run in made:
        run.close()
        client.close()


@pytest.fixture
def callback_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``lmms_eval_client._watch.callback`` made over a stub of transformers (only its
    ``TrainerCallback`` base class is used); the real Trainer runs in make test-real."""
    monkeypatch.setitem(sys.modules, "transformers", types.SimpleNamespace(TrainerCallback=object))
    monkeypatch.delitem(sys.modules, "lmms_eval_client._watch.callback", raising=False)
    yield importlib.import_module("lmms_eval_client._watch.callback")
    sys.modules.pop("lmms_eval_client._watch.callback", None)  # (made over the stub)


def write_checkpoint(root: Path, step: int, *, marker: bool = True, weights: int = 64) -> Path:
    """A checkpoint folder as HF's Trainer leaves it (``marker``: trainer_state.json last)."""
    folder = root / f"checkpoint-{step}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.safetensors").write_bytes(b"w" * weights)
    if marker:
        (folder / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    return folder


def server_job_count(url: str) -> int:
    """Every job the server holds: queued, running, completed, failed."""
    with loopback_http(url) as http:
        queue = http.get("/queue").raise_for_status().json()
    running = 1 if queue["running_job"] else 0
    return int(queue["queue_size"]) + running + queue["completed_jobs"] + queue["failed_jobs"]
