"""Test data of the results tests: the real lmms-eval 0.7.3 server's files.

``tests/data/real-lmms-eval-0.7.3`` holds what a real server wrote (paths inside rewritten
to ``/srv/...``). ``server_disk`` lays those files out under a temporary folder exactly
where the server wrote them, so a job's result paths (``/srv/evals/...``) resolve through
``path_map={"/srv": <that folder>}`` as they would from a client with the disk mounted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lmms_eval_client import JobInfo

DATA = Path(__file__).resolve().parent.parent / "data" / "real-lmms-eval-0.7.3"
SINGLE = DATA / "single" / "20261202_055237_results.json"
GROUP = DATA / "group" / "20261202_055527_results.json"
PREDICT_ONLY = DATA / "predict_only" / "20261202_055555_results.json"
SINGLE_SAMPLES = DATA / "single" / "20261202_055237_samples_e2e_arith.jsonl"
SINGLE_LOG = DATA / "single" / "eval-20261201-215203.log"
FAILED_JOB = DATA / "failed" / "failed_job.json"
FAILED_ERROR = DATA / "failed" / "failed_error.txt"

MODEL = "stub-model"  # the folder lmms-eval named after model_args' model=stub-model
# fixture folder -> the output_dir the real server was given
OUTPUT_DIRS = {
    "single": "/srv/evals/a",
    "group": "/srv/evals/group",
    "predict_only": "/srv/evals/predict",
}


def server_paths(folder: str) -> tuple[str, list[str]]:
    """The results path and samples paths a completed job of that fixture reports."""
    out = OUTPUT_DIRS[folder]
    files = sorted(p.name for p in (DATA / folder).iterdir())
    results = next(f"{out}/{MODEL}/{n}" for n in files if n.endswith("_results.json"))
    samples = [f"{out}/{MODEL}/{n}" for n in files if n.endswith(".jsonl")]
    return results, samples


def job_info(status: str = "completed", **fields: Any) -> JobInfo:
    """A JobInfo as GET /jobs/{id} answers it."""
    body: dict[str, Any] = {
        "job_id": "4c1e7f52-0b55-4f0b-9d43-6f1a3b5d2e10",
        "status": status,
        "created_at": "2026-12-01T21:52:03.100000",
        "started_at": "2026-12-01T21:52:03.110000" if status != "queued" else None,
        "completed_at": "2026-12-01T21:52:43.000000" if status == "completed" else None,
        "request": {"model": "openai", "tasks": ["e2e_arith"], "model_args": {"model": MODEL}},
        "result": None,
        "error": None,
        "position_in_queue": 0,
    }
    body.update(fields)
    return JobInfo.model_validate(body)


def completed_job(folder: str = "single", *, output_dir: bool = True) -> JobInfo:
    """The completed job that wrote that fixture folder."""
    results, samples = server_paths(folder)
    request: dict[str, Any] = {"model": "openai", "tasks": ["e2e_arith"], "model_args": {}}
    if output_dir:
        request["output_dir"] = OUTPUT_DIRS[folder]
    return job_info(result={MODEL: {"results": results, "samples": samples}}, request=request)


def failed_job() -> JobInfo:
    """The real failed job (tasks=["no_such_task"])."""
    return JobInfo.model_validate(json.loads(FAILED_JOB.read_text()))


@pytest.fixture
def server_disk(tmp_path: Path) -> Path:
    """A copy of the server's ``/srv`` with the fixtures where the server wrote them."""
    root = tmp_path / "mnt" / "srv"
    for folder, out in OUTPUT_DIRS.items():
        target = root / out.removeprefix("/srv/") / MODEL
        target.mkdir(parents=True)
        for src in (DATA / folder).iterdir():
            dest = target.parent if src.name.endswith(".log") else target
            shutil.copyfile(src, dest / src.name)
    return root


@pytest.fixture
def path_map(server_disk: Path) -> dict[str, str]:
    """The path map of a client that has the server's /srv mounted at ``server_disk``."""
    return {"/srv": str(server_disk)}


@pytest.fixture(autouse=True)
def _no_path_map_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LMMS_EVAL_PATH_MAP", raising=False)
