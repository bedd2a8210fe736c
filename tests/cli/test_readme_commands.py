"""The README's taste of the command line, the docs site's command-line guide (the README's
former "Command line" section) and the tracker guide's backfill run as written, against a
local server.

Their ```bash blocks (tests/readme/snippets.py finds them, by the sections of
SHELL_SECTIONS) are run in order, in one bash (``set -euo pipefail``, so every line must
succeed), in an empty folder, with the installed console scripts on PATH. Two changes
only: the line that starts the reader's server (``lmms-eval-local-server --port 8000 &``)
is this test's fixture instead (a server on a free port, stopped by the test), and its
URL, ``http://127.0.0.1:8000``, becomes that server's.
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..readme.snippets import (
    MLFLOW_URL,
    PAGE_URL,
    README,
    ROOT,
    SHELL_SECTIONS,
    TRACKER_SECTIONS,
    shell_section,
)
from ..runs.test_sinks import scalars
from ..trackers._mlflow import MlflowServer
from .conftest import cli_env

SERVER_LINE = re.compile(r"^lmms-eval-local-server --port 8000 &(\s+#.*)?$")
SECTIONS = list(SHELL_SECTIONS.items())
IDS = [path.relative_to(ROOT).as_posix() for path in SHELL_SECTIONS]
GUIDE = ROOT / "docs" / "guides" / "command-line.md"


@pytest.mark.parametrize(("path", "heading"), SECTIONS, ids=IDS)
def test_the_section_has_its_blocks(path: Path, heading: str) -> None:
    blocks = shell_section(path, heading)
    assert len(blocks) >= (3 if path == GUIDE else 1)
    assert any(SERVER_LINE.match(line) for line in blocks[0].splitlines())


def test_the_readme_and_the_guide_are_run() -> None:
    assert set(SHELL_SECTIONS) == {README, GUIDE}


def _run_section(path: Path, heading: str, tmp_path: Path) -> str:
    """The section's bash blocks in one bash, the fixture's server instead of the reader's;
    its stdout."""
    script_lines = ["set -euo pipefail"]
    for block in shell_section(path, heading):
        for line in block.splitlines():
            if SERVER_LINE.match(line):
                continue  # the fixture's server, below
            script_lines.append(line)
    config = LocalServerConfig(job_duration=0.1, temp_dir_root=tmp_path)
    with LocalServer(config) as server:
        script = "\n".join(script_lines).replace(PAGE_URL, server.url) + "\n"
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=cli_env(None),
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def _healthy(out: str) -> bool:
    return "status:     healthy" in out or "status: healthy" in " ".join(out.split())


@pytest.mark.slow
def test_the_command_line_guide_runs_as_written(tmp_path: Path) -> None:
    out = _run_section(GUIDE, SHELL_SECTIONS[GUIDE], tmp_path)
    assert _healthy(out)
    assert "qwen2_vl" in out.splitlines()
    assert "exact_match" in out  # the results table
    assert "exit code 1" in out  # the failed job's exit code, as the guide says
    assert "\ncompleted\n" in out  # the status read from --json
    with (tmp_path / "metrics.csv").open() as metrics:
        rows = list(csv.DictReader(metrics))
    assert {row["task"] for row in rows} == {"mme", "mmmu_val"}
    finished = json.loads((tmp_path / "done.json").read_text())
    assert finished["wait"]["outcome"] == "completed"
    # --output-root "$PWD/evals": the job's files are in the reader's folder
    assert any((tmp_path / "evals").iterdir())
    # the shell-only training run: one job per key, its metrics a row per step
    with (tmp_path / "metric_vs_step.csv").open() as exported:
        steps = list(csv.DictReader(exported))
    assert [(row["key"], row["step"], row["task"]) for row in steps] == [
        (f"step-{step}", str(step), "mme") for step in (100, 200, 300)
    ]
    with (tmp_path / "all_results.csv").open() as every:
        models = {row["model_name"] for row in csv.DictReader(every)}
    assert {f"ckpts/step-{step}" for step in (100, 200, 300)} < models  # and the first job's


@pytest.mark.slow
def test_the_readmes_taste_of_the_command_line_runs_as_written(tmp_path: Path) -> None:
    out = _run_section(README, SHELL_SECTIONS[README], tmp_path)
    assert _healthy(out)
    assert "exact_match" in out  # the results table
    assert any((tmp_path / "evals").iterdir())  # --output-root "$PWD/evals"
    with (tmp_path / "metric_vs_step.csv").open() as exported:
        steps = list(csv.DictReader(exported))
    assert [(row["key"], row["step"], row["task"]) for row in steps] == [
        (f"step-{step}", str(step), "mme") for step in (100, 200, 300)
    ]
    report = (tmp_path / "report.html").read_text()
    assert "step-300" in report and "<svg" in report  # the jobs and the chart


@pytest.mark.parametrize(
    ("path", "heading"),
    list(TRACKER_SECTIONS.items()),
    ids=[path.relative_to(ROOT).as_posix() for path in TRACKER_SECTIONS],
)
@pytest.mark.slow
def test_the_tracker_sections_backfill_runs_as_written(
    path: Path, heading: str, tmp_path: Path, local_server: LocalServer, mlflow_server: MlflowServer
) -> None:
    """Its ```bash block, against a ledger of three completed steps (made by EvalRun, as
    the section's Python block does), the MLflow URL being the fixture server's."""
    (block,) = shell_section(path, heading)
    with EvalClient(local_server.url) as client, EvalRun(client, tmp_path / "evals.sqlite") as run:
        for step in (100, 200, 300):
            # jobs of 0.1 s, not the fixture server's 5 s: what is tested is the export
            model_args = {"pretrained": f"org/ckpt-{step}", "sim_duration": 0.1}
            run.submit("qwen2_vl", ["mme"], model_args, labels={"step": step})
        assert len(list(run.as_completed(timeout=60))) == 3
        rows = run.metrics()
    env = {**cli_env(None), "WANDB_DIR": str(tmp_path), "WANDB_SILENT": "true"}
    env |= {"WANDB_CONFIG_DIR": str(tmp_path / "wandb-config"), "WANDB_DISABLE_GIT": "true"}
    script = "set -euo pipefail\n" + block.replace(MLFLOW_URL, mlflow_server.url) + "\n"
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    print(done.stdout)
    assert done.stdout.count("wrote 3 job(s) [1, 2, 3], recorded in the ledger") == 3
    assert scalars(tmp_path / "runs" / "evals", "eval/mme/exact_match") == [
        (row.labels["step"], round(row.value, 6)) for row in rows if row.value is not None
    ]
