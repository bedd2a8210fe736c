"""Issue 21, "delivery you choose": ``receive`` / ``ack`` / ``release`` / ``harvesting`` hand
an outcome out again until it is acknowledged (at-least-once), and never to two live
processes at once; a process killed between receiving and acknowledging loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmms_eval_client import AsyncEvalRun, EvalClient, EvalRun, InvalidArgumentError
from lmms_eval_client.testing import LocalServer

from ._support import QWEN, LedgerTarget, Runner
from .conftest import MakeRunner

ROOT = str(Path(__file__).resolve().parents[2])
_PATHS = 'sys.path[:0] = [os.path.join(sys.argv[3], "src"), os.path.join(sys.argv[3], "generated")]'

# argv: server URL, ledger, repository root. Receives, says what, and dies before acking.
_DIES_BEFORE_ACK = textwrap.dedent(
    f"""
    import json, os, signal, sys
    {_PATHS}
    from lmms_eval_client import EvalClient, EvalRun

    url, ledger = sys.argv[1:3]
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        received = [o.job.seq for o in run.receive()]
        print(json.dumps(received), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)  # between handing out and processing
    """
)

# argv: server URL, ledger, repository root, go-file. Receives and acks until all are taken.
_RECEIVER = textwrap.dedent(
    f"""
    import json, os, sys, time
    {_PATHS}
    from lmms_eval_client import EvalClient, EvalRun

    url, ledger, _, go = sys.argv[1:5]
    received = []
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.01) as run:
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.001)
        deadline = time.monotonic() + 60
        while not all(job.harvested for job in run.jobs()):
            if time.monotonic() > deadline:
                sys.exit("jobs left unacknowledged after 60 s")
            for outcome in run.receive():
                received.append(outcome.job.seq)
                run.ack(outcome)
            time.sleep(0.002)
    print(json.dumps(received), flush=True)
    """
)


def _finished_jobs(url: str, ledger: Path, count: int) -> list[int]:
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        seqs = [
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, labels={"n": n}).seq
            for n in range(count)
        ]
        assert not run.wait(timeout=60).pending
    return seqs


@pytest.mark.slow
def test_an_outcome_received_by_a_process_killed_before_ack_is_received_again(
    local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    ledger = ledger_target
    seqs = _finished_jobs(local_server.url, ledger, 3)
    # subprocess.run reaps the child: its pid is dead, not a zombie, when the parent looks.
    child = subprocess.run(
        [sys.executable, "-c", _DIES_BEFORE_ACK, local_server.url, str(ledger), ROOT],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -9, child.stderr
    assert json.loads(child.stdout) == seqs
    with EvalClient(local_server.url) as client, EvalRun(client, ledger) as run:
        again = run.receive()
        assert [o.job.seq for o in again] == seqs
        assert run.ack(*again) == 3
        assert run.receive() == [] and all(job.harvested for job in run.jobs())
        events = [o.event for o in run.history(seqs[0])]
    assert events.count("claimed") == 2 and events[-1] == "acknowledged"


@pytest.mark.slow
def test_processes_receiving_one_ledger_together_get_each_outcome_once(
    local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    ledger, go = ledger_target, tmp_path / "go"
    seqs = _finished_jobs(local_server.url, ledger, 30)
    receivers = [
        subprocess.Popen(
            [sys.executable, "-c", _RECEIVER, local_server.url, str(ledger), ROOT, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    try:
        for receiver in receivers:
            assert receiver.stdout is not None
            assert receiver.stdout.readline().strip() == "ready"
        go.touch()  # every outcome is there: their first receives race for the same ones
        received: Counter[int] = Counter()
        for receiver in receivers:
            out, err = receiver.communicate(timeout=120)
            assert receiver.returncode == 0, err
            received.update(json.loads(out.strip().splitlines()[-1]))
    finally:
        for receiver in receivers:
            if receiver.poll() is None:
                receiver.kill()
                receiver.communicate()
    twice = {seq: count for seq, count in received.items() if count > 1}
    assert not twice, f"received by more than one process (seq: times): {twice}"
    assert sorted(received) == sorted(seqs)


async def _harvest_block(runner: Runner, fail: bool) -> list[int]:
    """The seqs a ``harvesting()`` block got; with ``fail``, the block raises."""
    got: list[int] = []
    run = runner.run
    with pytest.raises(KeyError) if fail else _nothing():
        if isinstance(run, AsyncEvalRun):
            async with run.harvesting() as outcomes:
                got = [o.job.seq for o in outcomes]
                if fail:
                    raise KeyError("processing failed")
        else:
            with run.harvesting() as outcomes:
                got = [o.job.seq for o in outcomes]
                if fail:
                    raise KeyError("processing failed")
    return got


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def test_harvesting_acknowledges_on_success_and_releases_on_an_exception(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path
) -> None:
    runner = make_runner(local_server.url)
    other = make_runner(local_server.url)  # another run object: another claimer
    jobs = [await runner.submit("qwen2_vl", ["mme"], model_args=QWEN) for _ in range(2)]
    assert not (await runner.wait(timeout=30)).pending
    seqs = [job.seq for job in jobs]
    assert await _harvest_block(runner, fail=True) == seqs
    # Released: handed out again at once, here to another run object.
    received = await other.receive()
    assert [o.job.seq for o in received] == seqs
    assert await runner.receive() == []  # claimed by `other`: not handed out twice
    assert await other.release(*received) == 2
    assert await _harvest_block(runner, fail=False) == seqs
    assert all(job.harvested for job in await runner.jobs())
    assert await other.receive() == [] and await runner.harvest() == []
    assert (await runner.history(seqs[0]))[-1].event == "acknowledged"


async def test_ack_is_idempotent_and_takes_jobs_seqs_or_outcomes(
    make_runner: MakeRunner, local_server: LocalServer
) -> None:
    runner = make_runner(local_server.url)
    done = await runner.submit("qwen2_vl", ["mme"], model_args=QWEN)
    assert not (await runner.wait(timeout=30)).pending
    (outcome,) = await runner.receive()
    assert await runner.receive() == []  # its own claim holds too, until acked or released
    assert await runner.ack(outcome) == 1
    assert await runner.ack(outcome, done, done.seq) == 0  # harmless
    pending = await runner.submit("qwen2_vl", ["mme"], model_args={**QWEN, "sim_duration": 600})
    with pytest.raises(InvalidArgumentError, match="only a finished job"):
        await runner.ack(pending)
    with pytest.raises(InvalidArgumentError, match="expected an outcome"):
        await runner.ack("1")  # type: ignore[arg-type]


async def test_a_claim_older_than_claim_timeout_is_handed_out_again(
    make_runner: MakeRunner, local_server: LocalServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = make_runner(local_server.url, claim_timeout=30)
    await runner.submit("qwen2_vl", ["mme"], model_args=QWEN)
    assert not (await runner.wait(timeout=30)).pending
    from lmms_eval_client._runs import ledger_claims

    now = [time.time()]  # the claims' clock, moved by the test
    monkeypatch.setattr(ledger_claims, "time", SimpleNamespace(time=lambda: now[0]))
    (first,) = await runner.receive()
    other = make_runner(local_server.url, claim_timeout=30)
    now[0] += 29
    assert await other.receive() == []  # the claim holds (its process is alive)
    now[0] += 2  # older than the receiver's claim_timeout: it lapses
    (again,) = await other.receive()
    assert again.job.seq == first.job.seq
    assert await runner.ack(first) == 1  # the slow first receiver's ack still counts
    assert await other.ack(again) == 0


def test_claim_timeout_is_checked(tmp_path: Path) -> None:
    with EvalClient("http://127.0.0.1:9") as client, pytest.raises(InvalidArgumentError):
        EvalRun(client, tmp_path / "run.sqlite", claim_timeout=-1)
