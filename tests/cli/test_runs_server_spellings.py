"""``runs watch`` and ``runs ls --refresh`` without --server poll the servers the ledger's
jobs were sent to: two spellings of one server (``127.0.0.1`` and ``localhost``, recorded
by two processes) are one server, polled once.

Before (the adversarial test of a team's shared ledgers): exit 2, "error: a server is
given twice: http://127.0.0.1:N and http://localhost:N", though the user gave no server.
"""

from __future__ import annotations

import json
from pathlib import Path

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer

from ..servers import free_port
from .test_commands import invoke

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


def completed_run(ledger: Path, url: str, key: str) -> None:
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", ["mme"], {**QWEN, "n": key}, key=key)
        run.wait(timeout=60)


def test_watch_and_refresh_without_server_take_two_spellings_of_one_server_as_one(
    server: LocalServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "evals.sqlite"
    other = server.url.replace("127.0.0.1", "localhost")
    assert other != server.url
    completed_run(ledger, server.url, "a")
    completed_run(ledger, other, "b")
    refreshed = invoke(["runs", "ls", "--refresh", str(ledger)], None)
    # Before: exit 2, "a server is given twice: http://127.0.0.1:N and http://localhost:N".
    assert refreshed.exit_code == 0, refreshed.output
    watched = invoke(["runs", "watch", str(ledger), "--json", "--timeout", "30"], None)
    assert watched.exit_code == 0, watched.output
    assert json.loads(watched.stdout.splitlines()[-1])["exit_code"] == 0


def test_runs_commands_take_the_pools_variable_as_the_servers_given(
    server: LocalServer, tmp_path: Path
) -> None:
    # $LMMS_EVAL_BASE_URLS names the servers as --server does (EvalPool() reads it): the
    # ledger's servers are not polled instead. Before: it was ignored, the ledger's polled.
    ledger = tmp_path / "evals.sqlite"
    with EvalClient(server.url) as client, EvalRun(client, ledger) as run:
        run.submit("qwen2_vl", ["mme"], QWEN, key="a")  # pending in the ledger
    down = f"http://127.0.0.1:{free_port()},http://127.0.0.1:{free_port()}"
    refreshed = invoke(["runs", "ls", "--refresh", str(ledger)], None, LMMS_EVAL_BASE_URLS=down)
    # The servers given cannot poll the job: it is said, and its row is not refreshed.
    assert "they are not polled" in refreshed.stderr, refreshed.stderr
    assert "completed" not in refreshed.stdout
