"""Issue 20, "duplicates and lost work", item 2: processes harvesting one ledger together
receive each outcome once in all ("harvest takes them, once per ledger").

Real processes on one ledger file, started at once, each printing the seqs it received:
together they must be every job, once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ._support import QWEN, LedgerTarget

JOBS = 40
PROCESSES = 4
ROOT = str(Path(__file__).resolve().parents[2])

# argv: server URL, ledger, mode (harvest | as_completed), go-file, repository root.
_HARVESTER = textwrap.dedent(
    """
    import json, os, sys, time
    sys.path[:0] = [os.path.join(sys.argv[5], "src"), os.path.join(sys.argv[5], "generated")]
    from lmms_eval_client import EvalClient, EvalRun

    url, ledger, mode, go = sys.argv[1:5]
    received = []
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.01) as run:
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
        deadline = time.monotonic() + 60
        while not all(job.harvested for job in run.jobs()):
            if time.monotonic() > deadline:
                sys.exit("jobs left unharvested after 60 s")
            if mode == "harvest":
                received += [o.job.seq for o in run.harvest()]
                time.sleep(0.005)
            else:
                received += [o.job.seq for o in run.as_completed(timeout=60)]
    print(json.dumps(received), flush=True)
    """
)


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.04, temp_dir_root=tmp_path)


@pytest.mark.parametrize(
    ("mode", "finishing"),
    [("harvest", False), ("as_completed", False), ("harvest", True)],
    ids=["harvest", "as_completed", "harvest-while-jobs-finish"],
)
@pytest.mark.slow
def test_processes_harvesting_one_ledger_receive_each_outcome_once(
    local_server: LocalServer,
    tmp_path: Path,
    mode: str,
    finishing: bool,
    ledger_target: LedgerTarget,
) -> None:
    # Every job recorded finished before the processes start: their first harvests read the
    # same outcomes at once, and only an atomic claim gives each to one of them. Finishing:
    # half finish meanwhile, each seen by the poll of whichever process comes first.
    ledger, go = ledger_target, tmp_path / "go"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.05) as run:
        seqs = []
        for batch in range(2):
            seqs += [
                run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n}).seq
                for n in range(JOBS // 2)
            ]
            if batch == 0 or not finishing:
                assert not run.wait(timeout=60).pending
    harvesters = [
        subprocess.Popen(
            [sys.executable, "-c", _HARVESTER, local_server.url, str(ledger), mode, str(go), ROOT],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for harvester in harvesters:
            assert harvester.stdout is not None
            assert harvester.stdout.readline().strip() == "ready"
        go.touch()
        received: Counter[int] = Counter()
        for harvester in harvesters:
            out, err = harvester.communicate(timeout=120)
            assert harvester.returncode == 0, err
            received.update(json.loads(out.strip().splitlines()[-1]))
    finally:
        for harvester in harvesters:
            if harvester.poll() is None:
                harvester.kill()
                harvester.communicate()
    twice = {seq: count for seq, count in received.items() if count > 1}
    assert not twice, f"received more than once (seq: times): {twice}"
    assert sorted(received) == sorted(seqs)
