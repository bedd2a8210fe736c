"""The benchmarks still run against today's code: each reaches into a few internals (a
ledger's connection, to fill it fast), which a change can move without any other test
noticing. Here the in-process ones run at a toy size; what they print is not judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["bench_loop_stall.py", "--jobs", "5", "--results-mb", "0.05", "--repeat", "1"],
        ["bench_construct.py", "--rounds", "1"],
    ],
    ids=lambda command: command[0],
)
@pytest.mark.slow
def test_the_benchmark_runs_at_a_toy_size(command: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "target" in done.stdout
