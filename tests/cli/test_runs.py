"""``lmms-eval-client runs ls|show`` over a real ledger written by EvalRun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..runs.test_ledger import read_only_folder
from ..servers import refused_url
from .test_commands import invoke

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("runs")
    path = root / "evals.sqlite"
    with LocalServer(LocalServerConfig(job_duration=0.02, temp_dir_root=root)) as server:
        with EvalClient(server.url) as client, EvalRun(client, path, poll_interval=0.02) as run:
            for epoch in (1, 2):
                run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"epoch": epoch})
            run.wait(timeout=60)
        yield path, server.url


def test_ls_lists_every_job_with_its_labels(ledger: tuple[Path, str]) -> None:
    path, url = ledger
    done = invoke(["runs", "ls", str(path), "--json"], url)
    assert done.exit_code == 0, done.stderr
    jobs = json.loads(done.stdout)
    assert [job["labels"] for job in jobs] == [{"epoch": 1}, {"epoch": 2}]
    assert {job["state"] for job in jobs} == {"completed"}
    human = invoke(["runs", "ls", str(path)], url)
    assert human.exit_code == 0 and "epoch=2" in human.stdout and "completed" in human.stdout


def test_show_gives_one_job_with_its_summary(ledger: tuple[Path, str]) -> None:
    path, url = ledger
    done = invoke(["runs", "show", str(path), "2", "--json"], url)
    assert done.exit_code == 0, done.stderr
    job = json.loads(done.stdout)
    assert job["seq"] == 2 and job["labels"] == {"epoch": 2}
    assert job["request"]["model_args"] == QWEN
    assert "mme" in job["summary"]["Qwen__Qwen2-VL-2B-Instruct"]  # the default summary


def test_reading_a_ledger_needs_no_server(ledger: tuple[Path, str]) -> None:
    path, _ = ledger
    with refused_url() as nobody:  # a request sent there would fail
        done = invoke(["runs", "ls", str(path), "--json"], nobody)
    assert done.exit_code == 0, done.stderr


def test_a_missing_ledger_is_a_usage_error_and_is_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    done = invoke(["runs", "ls", str(missing)], "http://127.0.0.1:9")
    assert done.exit_code == 2 and "no run ledger" in done.stderr
    assert not missing.exists()


def test_what_is_at_a_ledgers_path_and_is_no_file_is_named(tmp_path: Path) -> None:
    # Before: "there is no run ledger at ..." for a folder, a FIFO or a link loop, as for
    # a path where nothing is (an adversarial try); runs submit already named them.
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for name, says in [("folder", "directory"), ("fifo", "FIFO"), ("loop", "link loop")]:
        done = invoke(["runs", "ls", str(tmp_path / name)], None)
        assert done.exit_code == 1 and says in done.stderr, done.output


def test_a_ledger_its_user_may_only_read_is_listed(
    ledger: tuple[Path, str], tmp_path: Path
) -> None:
    """The command-line guide says ``runs ls``/``runs show`` read the file: they must not
    need to write it, its folder, or a -wal/-shm beside it. A normal user gets a file and
    folder without write permission; root (whom permissions do not stop) a read-only tmpfs."""
    path, _ = ledger
    with read_only_folder(tmp_path / "ro", lambda folder: shutil.copy(path, folder)) as folder:
        copy = folder / path.name
        done = invoke(["runs", "ls", str(copy), "--json"], "http://127.0.0.1:9")
        assert done.exit_code == 0, done.stderr
        assert [job["labels"] for job in json.loads(done.stdout)] == [{"epoch": 1}, {"epoch": 2}]
        shown = invoke(["runs", "show", str(copy), "1"], "http://127.0.0.1:9")
        assert shown.exit_code == 0 and "epoch=1" in shown.stdout, shown.stderr
        assert sorted(p.name for p in folder.iterdir()) == [path.name]


# Root ignores permission bits through these capabilities: without them, root is held to the
# bits as any user (setpriv drops them from the child's bounding set).
_AS_ANY_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


def test_a_ledger_and_folder_without_write_permission_are_listed(
    ledger: tuple[Path, str], tmp_path: Path
) -> None:
    path, _ = ledger
    folder = tmp_path / "ro"
    folder.mkdir()
    copy = Path(shutil.copy(path, folder))
    copy.chmod(0o444)
    folder.chmod(0o555)
    command = [sys.executable, "-c", "from lmms_eval_client.cli import main; main()"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: permission bits cannot be made to count")
        command = _AS_ANY_USER + command
    try:
        done = subprocess.run(
            [*command, "runs", "ls", str(copy), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
    finally:
        folder.chmod(0o755)
    assert done.returncode == 0, done.stderr
    assert [job["labels"] for job in json.loads(done.stdout)] == [{"epoch": 1}, {"epoch": 2}]
    assert sorted(p.name for p in folder.iterdir()) == [path.name]
