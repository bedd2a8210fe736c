"""Submission options no server can use are usage errors: exit 2, one line, nothing sent.

An adversarial test found each sent by ``submit`` and ``runs submit``: ``-t 'mme,,mme'``
the server's disk that the server resolves against its own working folder. The SDK's
rules (``build_evaluate_request``) are the command line's: one rule each.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import QWEN_ARGS
from .test_commands import NOWHERE, invoke

CASES = [
    (["-t", "mme,,mme"], "empty task name"),
    (["-t", "mme,"], "empty task name"),
    (["-t", "mme,mmmu_val", "-t", "mme"], "'mme' is given twice"),
    (["-t", "mme", "--batch-size", "0"], "batch_size must be at least 1"),
    (["-t", "mme", "--batch-size", "-3"], "batch_size must be at least 1"),
    (["-t", "mme", "--batch-size", "auto:0"], "batch_size must be at least 1"),
    (["-t", "mme", "--output-root", "relative/dir"], "--output-root must be absolute"),
    (["-t", "mme", "--output-dir", "relative/dir"], "output_dir must be absolute"),
]


@pytest.mark.parametrize("command", ["submit", "runs submit"])
@pytest.mark.parametrize(("given", "says"), CASES, ids=[" ".join(c[0])[-30:] for c in CASES])
def test_an_option_no_server_can_use_is_a_usage_error(
    command: str, given: list[str], says: str, tmp_path: Path
) -> None:
    ledger = tmp_path / "never-created.sqlite"
    where = [str(ledger)] if command == "runs submit" else []
    result = invoke([*command.split(), *where, "-m", "qwen2_vl", "-a", QWEN_ARGS, *given], NOWHERE)
    assert result.exit_code == 2, result.output  # a request sent there would exit 5
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line, line
    assert result.stdout == "" and not ledger.exists()
