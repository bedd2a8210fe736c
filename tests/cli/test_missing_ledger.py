"""A run ledger that is not there, named to a command that reads or drives one: the same
error as the SDK's (LedgerNotFoundError), one line, exit 2, and nothing created.

Before: every command looked for a SQLite file itself and raised InvalidArgumentError,
"there is no run ledger at ...", while a read-only Ledger (a PostgreSQL schema too)
raised LedgerNotFoundError: two types for one thing (a review).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lmms_eval_client import LedgerNotFoundError
from lmms_eval_client.cli.runs import open_read_only

from .test_commands import invoke

NOWHERE = "http://127.0.0.1:9"  # a request sent there would fail (exit 5, not 2)

# MLflow's client makes its SQLite store when built: before, the store was made, then the
# ledger found missing.
MLFLOW_STORE = ["--tracking-uri", "sqlite:///{tmp}/mlflow.db"]

# Every command that takes an existing ledger, {ledger} where it goes; {tmp} a folder of
# the test's (what a command would write: a copy, a page, a tracker's files).
COMMANDS = [
    ["runs", "ls", "{ledger}"],
    ["runs", "ls", "--refresh", "{ledger}"],
    ["runs", "show", "{ledger}", "1"],
    ["runs", "export", "{ledger}"],
    ["runs", "export", "{ledger}", "--csv"],
    ["runs", "export", "{ledger}", "--to", "tensorboard", "--log-dir", "{tmp}/tb"],
    ["runs", "export", "{ledger}", "--to", "mlflow", "--experiment", "e", *MLFLOW_STORE],
    ["runs", "watch", "{ledger}"],
    ["runs", "migrate", "{ledger}", "{tmp}/copy.sqlite"],
    ["runs", "rehome", "{ledger}", NOWHERE, "http://127.0.0.1:10"],
    ["runs", "report", "{ledger}", "-o", "{tmp}/report.html"],
    ["compare", "--ledger", "{ledger}", "1", "2"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("url", [None, NOWHERE], ids=["no-server", "server"])
@pytest.mark.parametrize("where", ["file", "folder"])
def test_a_missing_ledger_is_one_line_exit_2_and_nothing_is_created(
    tmp_path: Path, command: list[str], url: str | None, where: str
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    ledger = work / "nope.sqlite" if where == "file" else work / "no-folder" / "nope.sqlite"
    args = [arg.format(ledger=ledger, tmp=work) for arg in command]
    done = invoke(args, url)
    folder = "" if where == "file" else f": its folder {str(ledger.parent)!r} does not exist"
    said = re.escape(f"error: There is no run ledger at {str(ledger)!r}{folder}")
    assert done.exit_code == 2, done.output
    assert re.fullmatch(rf"{said} \(see '[^']* -h'\)\n", done.stderr), done.stderr
    assert done.stdout == ""
    assert list(work.iterdir()) == []  # no ledger, no copy, no page, no tracker folder


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_the_error_is_the_sdks_ledger_not_found(tmp_path: Path, command: list[str]) -> None:
    ledger = tmp_path / "nope.sqlite"
    args = [arg.format(ledger=ledger, tmp=tmp_path) for arg in command]
    done = invoke(["--debug", *args], NOWHERE)  # the traceback names the error's type
    assert done.exit_code == 2, done.output
    assert f"LedgerNotFoundError: There is no run ledger at {str(ledger)!r}" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_command_lines_read_only_open_raises_the_sdks_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    with pytest.raises(LedgerNotFoundError, match=r"^There is no run ledger at ") as info:
        open_read_only(missing)
    assert info.value.path == str(missing)
    assert not missing.exists()
