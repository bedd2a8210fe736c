"""``runs migrate`` refuses a source that a process may still write (the adversarial test
of a team's shared ledgers: migrate ran while a trainer wrote the SQLite file; the copy had
26 of its jobs, the trainer moved to the copy submitted 14 of 40 keys a second time, and
outcomes taken from the file after the copy were untaken in the copy).

Now: a process of this host holding the SQLite file open for writing is named (pid@host)
and refused, ``--writers-stopped`` or not; one alive, its run closed, is warned of; writers
of other hosts, which cannot be checked, are refused unless ``--writers-stopped`` says they
stopped. Nothing is created meanwhile.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from typer.testing import Result

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.postgres.url import parse_url
from lmms_eval_client.testing import LocalServer

from .conftest import read_until
from .test_commands import invoke

HOST = socket.gethostname()
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}

# A trainer still writing its ledger: one job submitted under a key, then it waits, its
# run open until a line comes on its stdin, then closed until its stdin closes.
WRITER = """
import sys
from lmms_eval_client import EvalClient, EvalRun
with EvalClient(sys.argv[1]) as client, EvalRun(client, sys.argv[2]) as run:
    run.submit("qwen2_vl", ["mme"], {"pretrained": "org/live"}, key="live-1")
    print("ready", flush=True)
    sys.stdin.readline()
print("closed", flush=True)
sys.stdin.read()
"""


def completed_run(ledger: Path, url: str) -> None:
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        for key in ("k1", "k2"):
            run.submit("qwen2_vl", ["mme"], {**QWEN, "n": key}, key=key)
        run.wait(timeout=60)


@pytest.mark.slow
def test_migrate_refuses_while_a_writer_of_the_source_lives_then_copies(
    server: LocalServer, tmp_path: Path, postgres_url: str
) -> None:
    source = tmp_path / "evals.sqlite"
    completed_run(source, server.url)
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, server.url, str(source)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as writer:
        done = trained_while_migrated(writer, source, postgres_url)
    assert done.exit_code == 0, done.output
    assert done.stdout == f"copied 3 jobs from {source} to {parse_url(postgres_url).shown}\n"
    (warned,) = done.stderr.splitlines()
    assert warned.startswith(f"warning: process {writer.pid}@{HOST} (")
    assert "alive on this host without it open" in warned


def trained_while_migrated(
    writer: subprocess.Popen[str], source: Path, postgres_url: str
) -> Result:
    """Migrations tried while the writer has its run open (refused), then once it closed
    it, the process alive: the last one's result."""
    try:
        assert writer.stdout is not None and writer.stdin is not None
        read_until(writer.stdout, "ready", timeout=120)
        refused = invoke(["runs", "migrate", str(source), postgres_url], None)
        # Before: exit 0, "copied 3 jobs": the writer went on writing the file alone.
        assert refused.exit_code == 2, refused.output
        assert f"is open for writing in process {writer.pid}@{HOST} (" in refused.stderr
        assert "nothing was copied" in refused.stderr and refused.stderr.count("\n") == 1
        # Nothing created: the target is still no ledger.
        assert "There is no run ledger" in invoke(["runs", "ls", postgres_url], None).stderr
        # --writers-stopped does not override a process holding the file open.
        forced = invoke(["runs", "migrate", str(source), postgres_url, "--writers-stopped"])
        assert forced.exit_code == 2 and f"{writer.pid}@{HOST} (" in forced.stderr
        writer.stdin.write("close\n")
        writer.stdin.flush()
        read_until(writer.stdout, "closed", timeout=120)
        # Its run closed, the process alive: copied, and named (it could reopen its run).
        return invoke(["runs", "migrate", str(source), postgres_url], None)
    finally:
        writer.kill()


def test_migrate_wants_writers_stopped_for_writers_of_other_hosts(
    server: LocalServer, tmp_path: Path
) -> None:
    source, target = tmp_path / "evals.sqlite", tmp_path / "copy.sqlite"
    completed_run(source, server.url)
    with closing(Ledger(source)) as ledger, ledger.transaction("test") as conn:
        conn.execute("UPDATE jobs SET owner = 'gpu-node-7:4242:0a1b2c3d' WHERE seq = 2")
    refused = invoke(["runs", "migrate", str(source), str(target)], None)
    # Before: exit 0, "copied 2 jobs" (a trainer on gpu-node-7 could still be writing).
    assert refused.exit_code == 2, refused.output
    assert "written by process 4242@gpu-node-7, which cannot be checked" in refused.stderr
    assert "--writers-stopped" in refused.stderr and refused.stderr.count("\n") == 1
    assert not target.exists()
    done = invoke(["runs", "migrate", str(source), str(target), "--writers-stopped"], None)
    assert done.exit_code == 0, done.output
    assert done.stdout == f"copied 2 jobs from {source} to {target}\n"
