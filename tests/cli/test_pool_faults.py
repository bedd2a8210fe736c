"""The command line over several servers when one stops answering, or none answers (an
adversarial try of the pool under faults).

Before: ``wait --timeout 2`` polled with the client's whole timeout and retries, never the
wait's deadline (three minutes with the default timeout, 17 s with ``--timeout 5``); with
several servers, none of them reachable made ``queue``, ``submit`` and ``health`` exit 1,
where one server exits 5; and ``health --wait`` stopped at the first server up, then
exited 1 ("degraded") though the others came up within the wait."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient
from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig

from ..faults import Reset, Script, Stall, on, proxy
from ..servers import refused_url
from .test_commands import invoke

QWEN = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}


@pytest.fixture
def held(tmp_path: Path) -> Iterator[LocalServer]:
    gate = JobGate()
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path, job_gate=gate)
    with LocalServer(config) as server:
        yield server
        gate.release()


@pytest.mark.slow
def test_a_wait_ends_at_its_timeout_when_a_server_stops_answering(held: LocalServer) -> None:
    with EvalClient(held.url) as client:
        job = client.evaluate("qwen2_vl", ["mme"], QWEN)  # running, held
    with proxy(held.url, Script(then=Stall())) as hung:
        args = ["--timeout", "5", "--server", hung.url, "--server", held.url]
        started = time.monotonic()
        done = invoke([*args, "wait", job.job_id, "--timeout", "2", "--quiet"])
        took = time.monotonic() - started
    assert done.exit_code == 4, done.output  # the wait's timeout
    assert took < 8, took  # 17 s before


@pytest.mark.parametrize(
    "command", [["queue"], ["health"], ["submit", "-m", "m", "-t", "mme", "-a", "pretrained=o/m"]]
)
@pytest.mark.slow
def test_no_server_of_several_reachable_exits_5(command: list[str]) -> None:
    with refused_url() as first, refused_url() as second:
        done = invoke(["--server", first, "--server", second, *command])
    assert done.exit_code == 5, done.output


@pytest.mark.slow
def test_health_wait_waits_for_every_server(tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    with LocalServer(config) as up, LocalServer(config) as other:
        # the other server is not up for its first six /health: it comes up during the wait
        starting = Script(*[Reset()] * 6, match=on("GET", "/health"))
        with proxy(other.url, starting) as later:
            done = invoke(["--server", up.url, "--server", later.url, "health", "--wait", "30"])
    assert done.exit_code == 0, done.output  # 1 ("degraded") at once before
    assert "status:     healthy" in done.stdout


def test_an_id_two_servers_hold_is_told_how_to_pick_one_on_the_command_line(
    tmp_path: Path,
) -> None:
    # Before: "say which with server=, e.g. get_job(...)": the SDK's words, which the
    # command line has no option for (an adversarial try).
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    with LocalServer(config) as a, proxy(a.url) as also_a:  # a second server with a's jobs
        with EvalClient(a.url) as client:
            job = client.evaluate("qwen2_vl", ["mme"], QWEN)
        done = invoke(["--server", a.url, "--server", also_a.url, "status", job.job_id])
    assert done.exit_code == 2, done.output
    assert "give its server alone, e.g. --server " in done.stderr
    assert "server=" not in done.stderr
