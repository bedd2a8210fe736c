"""A training loop of four checkpoints against the real server, killed and restarted twice.

The loop (``training_script.py``) runs as its own process and is killed with SIGKILL: once
right after its second submission, once after processing an outcome it had not yet
acknowledged. Its third run ends the work: four jobs in the ledger, four on the server (no
submission sent twice), every outcome processed (the unacknowledged one again), and the
run's metrics as one table, metric against step.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun

from ..faults import job_count
from ._lane import requires_lane
from .conftest import Lane

pytestmark = [pytest.mark.real_completion, requires_lane]

SCRIPT = Path(__file__).with_name("training_script.py")
RUN_TIMEOUT = 600.0  # four real jobs of about 10 s each, one at a time


def train(lane: Lane, folder: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable, str(SCRIPT), lane.url, str(folder / "run.sqlite"),
            str(folder / "out"), json.dumps(lane.model_args), str(folder / "done.txt"), *flags,
        ],
        capture_output=True, text=True, timeout=RUN_TIMEOUT,
    )  # fmt: skip


def test_a_run_killed_twice_ends_with_four_jobs_and_a_metric_per_step(
    lane: Lane, tmp_path: Path
) -> None:
    before = job_count(lane.url)
    first = train(lane, tmp_path, "--die-after-submit", "2")
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = train(lane, tmp_path, "--die-before-ack")
    assert second.returncode == -signal.SIGKILL, second.stderr
    (processed_once,) = (tmp_path / "done.txt").read_text().splitlines()
    third = train(lane, tmp_path)
    assert third.returncode == 0, third.stderr
    processed = (tmp_path / "done.txt").read_text().splitlines()
    # The outcome processed before the kill came again (it was never acknowledged).
    assert processed[0] == processed_once and processed_once in processed[1:]
    assert sorted(set(processed)) == [f"ckpt-{n} completed" for n in range(1, 5)]
    assert job_count(lane.url) - before == 4  # no submission sent twice
    with EvalClient(lane.url) as client, EvalRun(client, tmp_path / "run.sqlite") as run:
        jobs = run.jobs()
        assert [job.key for job in jobs] == [f"ckpt-{n}" for n in range(1, 5)]
        assert {job.state for job in jobs} == {"completed"}
        table = run.to_pandas()
    by_step = table.pivot_table(index="step", columns="metric", values="value")
    assert list(by_step.index) == [100, 200, 300, 400]
    assert by_step["exact_match"].tolist() == pytest.approx(
        [0.8] * 4
    )  # the chat server's score on the task
    print(by_step.to_string())
