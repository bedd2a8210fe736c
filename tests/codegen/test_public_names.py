"""The public names are listed once, as the TYPE_CHECKING imports of __init__.py:
codegen/public_names.py writes the lazy-loading table from them, and --check fails when the
committed table differs (``make test`` runs it through ``make check-generated``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "codegen" / "public_names.py"
PACKAGE = ROOT / "src" / "lmms_eval_client"


def run(package: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *flags, "--package", str(package)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def package(tmp_path: Path) -> Path:
    """The two files the script reads and writes, copied."""
    for name in ("__init__.py", "_public_names.py"):
        shutil.copy(PACKAGE / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_committed_table_is_fresh(package: Path) -> None:
    done = run(package, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "matches the TYPE_CHECKING imports" in done.stdout


def test_a_name_imported_but_not_in_the_table_fails_the_check_then_is_written(
    package: Path,
) -> None:
    edit(package / "__init__.py", "        JobInfo,\n", "        JobInfo,\n        JobInfoNew,\n")
    done = run(package, "--check")
    assert done.returncode == 1
    assert '+    "JobInfoNew": "lmms_eval_api.models",' in done.stdout
    assert "run 'make generate'" in done.stdout
    assert run(package).returncode == 0
    assert '"JobInfoNew": "lmms_eval_api.models"' in (package / "_public_names.py").read_text()
    assert run(package, "--check").returncode == 0


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("        JobInfo,\n", "        JobInfo as Job,\n", "JobInfo is imported under another"),
        ("if TYPE_CHECKING:\n", "if TYPE_CHECKING:\n    import os\n", "holds only `from"),
        ("if TYPE_CHECKING:\n", "if not TYPE_CHECKING:\n", "0 `if TYPE_CHECKING:` blocks"),
    ],
    ids=["alias", "plain-import", "no-block"],
)
def test_what_the_table_cannot_say_fails_with_why(
    package: Path, old: str, new: str, message: str
) -> None:
    edit(package / "__init__.py", old, new)
    done = run(package, "--check")
    assert done.returncode == 1
    assert message in done.stdout
