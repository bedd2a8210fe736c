"""The team-scale guide, run as written against a real PostgreSQL server: its SQL creates
the database and its user, its Python writes a run there, its command migrates a SQLite
ledger into it. Only the server's port (and host) change."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..postgres import PostgresServer
from ..readme.snippets import PAGE_URL, ROOT, blocks
from ..runs._support import QWEN

GUIDE = ROOT / "docs" / "guides" / "team-scale.md"


@pytest.mark.slow
def test_the_team_scale_guide_runs_as_written(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    found = blocks([GUIDE])
    (sql,) = [s for s in found if s.language == "sql"]
    python = next(s for s in found if s.language == "python")
    (migrate,) = [s for s in found if s.language == "bash"]
    here = f"127.0.0.1:{postgres_server.port}"
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        for statement in filter(None, (part.strip() for part in sql.code.split(";"))):
            conn.execute(statement)
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    with LocalServer(config) as server:
        code = python.code.replace("127.0.0.1:5432", here).replace(PAGE_URL, server.url)
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"postgresql://evals:***@{here}/evals?schema=sweep_lr3e4"
        with EvalClient(server.url) as client, EvalRun(client, tmp_path / "evals.sqlite") as run:
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, key="step-200", labels={"step": 200})
    command = migrate.code.replace("db.internal", here).replace("sweep_lr3e4", "migrated")
    env = {**os.environ, "PGPASSWORD": "s3cret"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr
    with psycopg.connect(postgres_server.url.replace("/postgres", "/evals")) as conn:
        keys = conn.execute("SELECT submission_key FROM migrated.jobs").fetchall()
        runs = conn.execute("SELECT count(*) FROM sweep_lr3e4.jobs").fetchone()
    assert keys == [("step-200",)] and runs == (1,)
