"""``runs submit --key K`` when another process is sending K (its intent recorded, the
server's answer not yet): the command waits for that answer and prints the job id, sends
the job itself if the other process died before sending it, or exits 4 saying who is
still sending it; never ``-`` (``--quiet``) nor ``"job_id": null`` (``--json``) with 0.

Before (the adversarial test of a team's shared ledgers: two processes submitting one key
at once): the loser's ``--quiet`` printed ``-`` and exited 0, and a script's
``JOB=$(lmms-eval-client runs submit ... --quiet); lmms-eval-client wait "$JOB"`` broke.
"""

from __future__ import annotations

import json
import socket
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.options import _this_host
from lmms_eval_client.cli import run_commands
from lmms_eval_client.testing import LocalServer

from .test_commands import invoke

HOST = socket.gethostname()
QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


def another_submitting(ledger: Path, url: str, pid: int) -> int:
    """Process ``pid``'s intent under key k1, not answered yet: its seq."""
    request = build_evaluate_request(
        "qwen2_vl", ["mme"], QWEN, None, None, None, None, None, True, False, 1, None
    )
    with closing(Ledger(ledger)) as opened:
        job = opened.record_intent(
            token="a1b2c3d4e5f6", labels={}, request=request, server=url,
            owner=f"{_this_host()}:{pid}:0a1b2c3d", snapshot=QueueSnapshot((), 0, 0).to_json(),
            key="k1",
        )  # fmt: skip
    return job.seq


def submit_args(ledger: Path, *extra: str) -> list[str]:
    command = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme"]
    return [*command, "-a", "pretrained=org/x", "--key", "k1", *extra]


@pytest.mark.parametrize("output", ["--quiet", "--json"])
def test_submit_of_a_key_another_process_is_sending_prints_its_job_id(
    server: LocalServer,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
    output: str,
) -> None:
    ledger = tmp_path / "evals.sqlite"
    seq = another_submitting(ledger, server.url, live_process.pid)
    waited: list[float] = []

    def answered(seconds: float) -> None:  # the other process records its answer meanwhile
        waited.append(seconds)
        with closing(Ledger(ledger)) as opened:
            opened.record_answer(seq, "job-of-the-other", "queued", "answer", None)

    monkeypatch.setattr(run_commands, "_sleep", answered)
    done = invoke(submit_args(ledger, output), server.url)
    # Before: "-" (--quiet), "job_id": null (--json), exit 0.
    assert done.exit_code == 0, done.output
    if output == "--quiet":
        assert done.stdout == "job-of-the-other\n"
    else:
        shown = json.loads(done.stdout)
        assert (shown["job_id"], shown["submitted"], shown["seq"]) == ("job-of-the-other", False, 1)
    assert len(waited) == 1 and f"being sent by process {live_process.pid}@{HOST}" in done.stderr


def test_submit_of_a_key_whose_sender_never_answers_exits_4(
    server: LocalServer,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = tmp_path / "evals.sqlite"
    another_submitting(ledger, server.url, live_process.pid)
    monkeypatch.setattr(run_commands, "KEY_PATIENCE", 0.3, raising=False)
    monkeypatch.setattr(run_commands, "_sleep", lambda seconds: None)
    done = invoke(submit_args(ledger, "--quiet"), server.url)
    # Before: exit 0, stdout "-".
    assert done.exit_code == 4, done.output
    assert done.stdout == ""
    line = done.stderr.splitlines()[-1]
    assert line.startswith("error: ") and f"process {live_process.pid}@{HOST}" in line
    assert "key k1" in line and "run the same command again" in line


def test_submit_sends_a_key_whose_sender_died_while_it_waited(
    server: LocalServer,
    tmp_path: Path,
    live_process: subprocess.Popen[bytes],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger = tmp_path / "evals.sqlite"
    another_submitting(ledger, server.url, live_process.pid)

    def dies(seconds: float) -> None:  # killed before its request reached the server
        live_process.kill()
        live_process.wait()

    monkeypatch.setattr(run_commands, "_sleep", dies)
    done = invoke(submit_args(ledger, "--json"), server.url)
    # Before: exit 0, "job_id": null, "state": "submitting".
    assert done.exit_code == 0, done.output
    shown = json.loads(done.stdout)
    assert shown["job_id"] is not None and shown["state"] != "submitting", shown
    status = invoke(["status", shown["job_id"], "--json"], server.url)
    assert status.exit_code == 0, status.output  # on the server: sent once, by this command
