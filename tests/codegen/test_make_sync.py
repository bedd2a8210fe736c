"""codegen/make_sync.py: the sync client is generated from the async one, and checked."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "codegen" / "make_sync.py"
PACKAGE = ROOT / "src" / "lmms_eval_client"


def check(package: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--package", str(package)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    copy = tmp_path / "lmms_eval_client"
    for concept in ("_client", "_runs", "_pool"):
        for part in ("_async", "_sync"):
            shutil.copytree(PACKAGE / concept / part, copy / concept / part)
    return copy


@pytest.mark.slow
def test_the_committed_sync_client_is_fresh(package: Path) -> None:
    done = check(package)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches a fresh generation" in done.stdout


@pytest.mark.slow
def test_a_hand_edit_of_the_sync_client_fails_the_check(package: Path) -> None:
    target = package / "_client" / "_sync" / "client.py"
    target.write_text(target.read_text().replace("retries += 1", "retries += 2"))
    done = check(package)
    assert done.returncode == 1
    assert "retries += 2" in done.stdout  # the diff shows the edit
    assert "run 'make generate'" in done.stdout


@pytest.mark.slow
def test_a_change_of_the_async_source_makes_the_sync_client_stale(package: Path) -> None:
    source = package / "_client" / "_async" / "client.py"
    text = source.read_text()
    assert "Get a job's status, timestamps" in text
    source.write_text(text.replace("Get a job's status, timestamps", "A job's status, times"))
    done = check(package)
    assert done.returncode == 1
    assert '+        """A job\'s status, times' in done.stdout


def test_the_generated_file_says_it_is_generated() -> None:
    text = (PACKAGE / "_client" / "_sync" / "client.py").read_text()
    assert text.startswith("# GENERATED FILE")
    code = text.split("\n", 2)[2]  # after the two header lines
    assert "async " not in code and "await " not in code
    assert "class EvalClient(" in text and "AsyncEvalClient" not in text
