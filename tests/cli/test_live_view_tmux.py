"""The live view of ``wait``, looked at in a real terminal: tmux runs the console script,
``send-keys`` types, ``capture-pane`` reads the screen.

The job is held at a JobGate, so the test knows it is running while it looks; the
screen is read until the expected text shows (bounded), and the end of the command is an
event (``tmux wait-for``). CI installs tmux (``.ci/run``); elsewhere without it these
tests skip.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, JobStatus
from lmms_eval_client.testing import JobGate, LocalServer

from .conftest import SCRIPT, cli_env

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None,
    reason="tmux is not installed (CI installs it in .ci/run; apt-get install -y tmux)",
)

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


@dataclass
class Terminal:
    """A tmux server of our own (its own socket), one 140x20 window running bash."""

    socket: Path
    env: dict[str, str]

    def tmux(self, *args: str, timeout: float = 30) -> str:
        done = subprocess.run(
            ["tmux", "-S", str(self.socket), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "cli", line, "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "cli")

    def shows(self, *texts: str, timeout: float = 30) -> str:
        """The screen once it shows every text (read every 50 ms, at most ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"never showed {texts!r}; the screen:\n{screen}")
            time.sleep(0.05)  # nothing to wait on: the screen is only known by reading it

    def row(self, job_id: str, status: str, timeout: float = 30) -> tuple[str, str]:
        """The screen, and the job's row once that row shows ``status``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            for line in screen.splitlines():
                if line.startswith(job_id) and line.split()[1] == status:
                    return screen, line
            if time.monotonic() > deadline:
                raise AssertionError(f"{job_id} never showed {status}; the screen:\n{screen}")
            time.sleep(0.05)

    def run_to_end(self, command: str, channel: str) -> None:
        """Type ``command``; it signals ``channel`` when it has ended (see ``wait_for``)."""
        signal = shlex.join(["tmux", "-S", str(self.socket), "wait-for", "-S", channel])
        self.type(f"{command}; echo EXIT=$?; {signal}")

    def wait_for(self, channel: str, timeout: float = 60) -> None:
        self.tmux("wait-for", channel, timeout=timeout)


@pytest.fixture
def terminal(tmp_path: Path, gated_server: LocalServer) -> Iterator[Terminal]:
    env = cli_env(gated_server.url)
    env["TERM"] = "xterm-256color"
    term = Terminal(tmp_path / "tmux.sock", env)
    term.tmux(
        "new-session", "-d", "-s", "cli", "-x", "140", "-y", "20",
        "bash --norc --noprofile",
    )  # fmt: skip
    try:
        yield term
    finally:
        term.tmux("kill-server")  # our server only: it is the one on our socket


def submit(server: LocalServer) -> str:
    with EvalClient(server.url) as client:
        return client.evaluate(model="qwen2_vl", tasks=["mme"], model_args=QWEN).job_id


@pytest.mark.slow
def test_the_live_view_renders_the_status_line_and_ends(
    terminal: Terminal, gated_server: LocalServer, gate: JobGate
) -> None:
    job_id = submit(gated_server)
    gate.wait_until_held()
    terminal.run_to_end(f"{SCRIPT} wait {job_id} --poll-interval 0.05", "done")

    running, row = terminal.row(job_id, "running")
    assert "Waiting for 1 of 1 job(s)" in running
    assert row.split()[2].endswith("s")  # elapsed
    assert "JOB" in running and "STATUS" in running and "ELAPSED" in running
    assert "Ctrl+C stops waiting" in running

    gate.release()
    terminal.wait_for("done")
    final = terminal.shows("EXIT=0")
    assert f"Done: 1 job(s) on {gated_server.url}" in final
    row = next(line for line in final.splitlines() if line.startswith(job_id))
    assert row.split()[1] == "completed"
    assert "results: Qwen__Qwen2-VL-2B-Instruct" in row
    rows = [line for line in final.splitlines() if line.startswith(job_id)]
    assert len(rows) == 1, "the last frame replaces the others: the table is drawn once"


@pytest.mark.slow
def test_ctrl_c_in_the_live_view_stops_waiting_and_says_so(
    terminal: Terminal, gated_server: LocalServer, gate: JobGate
) -> None:
    job_id = submit(gated_server)
    gate.wait_until_held()
    terminal.run_to_end(f"{SCRIPT} wait {job_id} --poll-interval 0.05", "stopped")
    terminal.row(job_id, "running")

    terminal.tmux("send-keys", "-t", "cli", "C-c")
    terminal.wait_for("stopped")
    screen = terminal.shows("EXIT=130")
    assert "Stopped waiting (Ctrl+C)" in " ".join(screen.split())
    with EvalClient(gated_server.url) as client:
        assert client.get_job(job_id).status == JobStatus.RUNNING
