"""Submission keys: ``submit(..., key=...)`` is idempotent. A rerun training loop submits
nothing twice, a crash between intent and answer settles to one job, two submitters of one
key get one job, and ``run.job(key)`` finds it."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    RetryOnFailure,
    UnknownJobError,
)
from lmms_eval_client._client.arguments import build_evaluate_request
from lmms_eval_client._client.reconcile import QueueSnapshot
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_keys import KeyTaken
from lmms_eval_client._runs.options import new_owner
from lmms_eval_client.testing import LocalServer

from ..faults import FORWARD, ForwardThenDrop, Seen, Stall, proxy
from ..support import MINIMAL_REQUESTS
from ._fake import BASE, FakeServer
from ._support import QWEN, LedgerTarget, server_jobs
from .conftest import MakeRunner

LONG = {**QWEN, "sim_duration": 600}  # stays queued (or running) for the whole test
OOM = "torch.OutOfMemoryError: CUDA out of memory"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def intent(path: Path, key: str, *, owner: str, n: int = 0, server_url: str = BASE) -> Ledger:
    """What a process killed right after recording its intent under ``key`` left behind."""
    ledger = Ledger(path)
    ledger.record_intent(
        token=f"t{n}", labels={"n": n}, request=body(n), server=server_url, owner=owner,
        snapshot=QueueSnapshot((), 0, 0).to_json(), key=key,
    )  # fmt: skip
    return ledger


def body(n: int):  # type: ignore[no-untyped-def]
    return build_evaluate_request(
        "qwen2_vl", ["mme"], {"n": n}, None, None, None, None, None, True, False, 1, None
    )


async def submit(runner, n: int, key: str | None, **options):  # type: ignore[no-untyped-def]
    return await runner.submit(
        "qwen2_vl", ["mme"], model_args={"n": n}, labels={"n": n}, key=key, **options
    )


# -- the training loop of the README and the runs guide, run twice ---------------------------


@pytest.mark.slow
async def test_the_training_loop_run_twice_submits_each_epoch_once(
    make_runner: MakeRunner, local_server: LocalServer, tmp_path: Path
) -> None:
    path = tmp_path / "evals.sqlite"

    async def training_loop() -> list[int]:
        runner = make_runner(local_server.url, ledger=path)
        seqs = []
        for epoch in range(3):
            job = await runner.submit(
                "qwen2_vl", ["mme"], model_args={**LONG, "epoch": epoch},
                labels={"epoch": epoch}, key=f"epoch-{epoch}",
            )  # fmt: skip
            seqs.append(job.seq)
            await runner.harvest()
        assert len(await runner.jobs()) == 3  # 3 epochs, 3 jobs
        await runner.close()
        return seqs

    first = await training_loop()
    again = await training_loop()  # the script run again: nothing new is sent
    assert again == first
    assert len(server_jobs(local_server.url)) == 3
    reopened = make_runner(local_server.url, ledger=path)
    assert [job.key for job in await reopened.jobs()] == ["epoch-0", "epoch-1", "epoch-2"]
    assert (await reopened.job("epoch-1")).labels == {"epoch": 1}


async def test_a_key_returns_the_tracked_job_in_any_state_and_sends_nothing(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    job = await submit(runner, 0, "step-100")
    server.run_all("failed")
    assert [o.kind for o in await runner.harvest()] == ["failed"]
    again = await submit(runner, 1, "step-100")  # other arguments: the key decides
    assert again.seq == job.seq and again.state == "failed"
    assert server.requests["POST /evaluate"] == 1
    other = await submit(runner, 0, "step-200")
    assert other.seq != job.seq and server.requests["POST /evaluate"] == 2
    assert [o.event for o in await runner.history(job)] == [
        "intent",
        "answer",
        "status",
        "harvested",
    ]
    (intent_seen,) = [o for o in await runner.history(other) if o.event == "intent"]
    assert intent_seen.data is not None and intent_seen.data["key"] == "step-200"


# -- a crash between intent and answer ---------------------------------------------------------


@pytest.mark.parametrize("reached_the_server", [True, False])
async def test_a_crash_between_intent_and_answer_settles_to_one_job(
    server: FakeServer,
    make_runner: MakeRunner,
    tmp_path: Path,
    reached_the_server: bool,
    ledger_target: LedgerTarget,
) -> None:
    path = ledger_target
    intent(path, "epoch-0", owner="a-host-that-is-gone:1:x").close()
    if reached_the_server:
        server.create(body(0).to_dict())
    runner = make_runner(BASE, ledger=path, orphan_after=0)
    job = await submit(runner, 0, "epoch-0")  # the rerun of the killed script
    jobs = await runner.jobs()
    assert len(server.jobs) == 1 and job.job_id in server.jobs and job.state == "queued"
    if reached_the_server:  # adopted: nothing sent
        assert server.requests["POST /evaluate"] == 0
        assert [j.seq for j in jobs] == [job.seq] and job.key == "epoch-0"
    else:  # proven never sent (unsent): sent now, and the key passes to the new job
        assert server.requests["POST /evaluate"] == 1
        unsent, sent = jobs
        assert unsent.state == "unsent" and unsent.key is None
        assert sent.seq == job.seq and sent.key == "epoch-0"
        assert (await runner.history(unsent))[-1].data == {"key": "epoch-0", "to": sent.seq}
    assert (await submit(runner, 0, "epoch-0")).seq == job.seq  # and from now on, that job
    assert len(server.jobs) == 1


async def test_a_key_being_submitted_by_a_live_process_is_not_sent_again(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    intent(path, "epoch-0", owner=new_owner()).close()  # alive: this very process
    runner = make_runner(BASE, ledger=path)
    job = await submit(runner, 0, "epoch-0")
    assert job.state == "submitting" and server.requests["POST /evaluate"] == 0


# -- two submitters of one key ---------------------------------------------------------------------


def test_the_unique_key_lets_one_intent_in_of_two_ledger_connections(
    tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    first = intent(path, "k", owner=new_owner())
    second = Ledger(path)
    with pytest.raises(KeyTaken) as taken:
        second.record_intent(
            token="t1", labels={}, request=body(1), server=BASE, owner=new_owner(),
            snapshot=QueueSnapshot((), 0, 0).to_json(), key="k",
        )  # fmt: skip
    assert taken.value.seq == 1
    assert [job.seq for job in second.jobs()] == [1]  # nothing of the loser was written
    first.close()
    second.close()


def test_two_threads_submitting_one_key_make_one_job(
    local_server: LocalServer, tmp_path: Path, ledger_target: LedgerTarget
) -> None:
    path = ledger_target
    start = threading.Barrier(4)
    seqs: list[int] = []

    def submitter() -> None:
        with EvalClient(local_server.url) as client, EvalRun(client, path) as run:
            start.wait(timeout=10)
            job = run.submit("qwen2_vl", ["mme"], model_args=LONG, key="step-100")
            seqs.append(job.seq)

    threads = [threading.Thread(target=submitter) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert seqs == [1, 1, 1, 1]
    assert len(server_jobs(local_server.url)) == 1


# -- retries, validation, lookups ------------------------------------------------------------------


async def test_retries_by_policy_report_their_first_attempts_key(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, retry=RetryOnFailure("CUDA out of memory", max_attempts=2))
    first = await submit(runner, 0, "epoch-0")
    server.finish(str(first.job_id), "failed", OOM)
    assert await runner.harvest() == []  # retried
    attempts = await runner.jobs()
    assert [(j.attempt, j.key) for j in attempts] == [(1, "epoch-0"), (2, "epoch-0")]
    latest = await submit(runner, 0, "epoch-0")  # the last attempt, nothing sent
    assert latest.seq == attempts[1].seq and server.requests["POST /evaluate"] == 2
    assert (await runner.job("epoch-0")).seq == attempts[1].seq


@pytest.mark.parametrize("key", ["", "x" * 257, "a\nb", 3, b"k"])
async def test_an_invalid_key_is_refused_before_anything_is_recorded_or_sent(
    server: FakeServer, make_runner: MakeRunner, key: object
) -> None:
    runner = make_runner(BASE)
    with pytest.raises(InvalidArgumentError, match="key must be"):
        await submit(runner, 0, key)  # type: ignore[arg-type]
    assert await runner.jobs() == [] and server.requests["POST /evaluate"] == 0


async def test_job_by_an_unknown_key_is_a_typed_error(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    await submit(runner, 0, "known")
    with pytest.raises(UnknownJobError, match="no job under the key 'step-9'") as info:
        await runner.job("step-9")
    assert info.value.key == "step-9" and info.value.seq is None
    with pytest.raises(UnknownJobError) as by_seq:
        await runner.job(7)
    assert by_seq.value.seq == 7
    copy = pickle.loads(pickle.dumps(info.value))
    assert (
        isinstance(copy, UnknownJobError) and copy.key == "step-9" and str(copy) == str(info.value)
    )


async def test_a_seq_beyond_int64_is_no_job(server: FakeServer, make_runner: MakeRunner) -> None:
    # Before: "OverflowError: Python int too large to convert to SQLite INTEGER".
    runner = make_runner(BASE)
    with pytest.raises(UnknownJobError) as info:
        await runner.job(2**64)
    assert info.value.seq == 2**64


@pytest.mark.parametrize("which", [True, [1], 1.0, None])
async def test_job_of_neither_a_seq_nor_a_key_is_refused(
    server: FakeServer, make_runner: MakeRunner, which: object
) -> None:
    # Before: True read as seq 1, a list surfaced as a LedgerError "failed while reading".
    runner = make_runner(BASE)
    await submit(runner, 0, "known")
    with pytest.raises(InvalidArgumentError, match="its seq \\(an int\\) or its key"):
        await runner.job(which)  # type: ignore[arg-type]


pytestmark = MINIMAL_REQUESTS


# -- kill -9 between intent and answer (a real process) ---------------------------------------

_SUBMITTER = """
import sys
from lmms_eval_client import EvalClient, EvalRun
with EvalClient(sys.argv[1], max_retries=0, timeout=600) as client:
    run = EvalRun(client, sys.argv[2])
    run.submit("qwen2_vl", ["mme"], model_args={"pretrained": "Qwen/Qwen2-VL-2B-Instruct",
               "sim_duration": 600}, key="epoch-0")
"""


class StallAtCue:
    """A proxy rule: forwards until ``stall`` names a step, then never answers that one:
    "post" (the server never gets the submission), "queue-after-post" (it gets it, the
    answer is dropped, and the reconciliation's read of /queue hangs)."""

    def __init__(self, stall: str) -> None:
        self.stall = stall
        self.posted = False

    def __call__(self, seen: Seen) -> object:
        if self.stall == "post" and seen.method == "POST":
            return Stall()
        if self.stall == "queue-after-post":
            if seen.method == "POST":
                self.posted = True
                return ForwardThenDrop()
            if self.posted:
                return Stall()
        return FORWARD


@pytest.mark.parametrize("stall", ["post", "queue-after-post"])
@pytest.mark.slow
async def test_kill_9_between_intent_and_answer_then_rerun_gives_one_job(
    make_runner: MakeRunner,
    local_server: LocalServer,
    tmp_path: Path,
    stall: str,
    ledger_target: LedgerTarget,
) -> None:
    path = ledger_target
    rule = StallAtCue(stall)
    with proxy(local_server.url, rule) as p:  # type: ignore[arg-type]
        process = subprocess.Popen([sys.executable, "-c", _SUBMITTER, p.url, str(path)])
        try:
            stalled = 2 if stall == "post" else 3  # GET /queue, POST[, GET /queue]
            deadline = time.monotonic() + 60
            while len(p.seen) < stalled and time.monotonic() < deadline:
                time.sleep(0.01)  # a child process: no event to wait on
            assert len(p.seen) == stalled, p.seen
        finally:
            process.kill()  # SIGKILL: between the intent and its answer
            process.wait(timeout=30)
        rule.stall = ""
        with closing(Ledger(path, read_only=True)) as ledger:
            (left,) = ledger.jobs()
        assert left.state == "submitting" and left.key == "epoch-0"
        runner = make_runner(p.url, ledger=path)
        job = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="epoch-0")
        again = await runner.submit("qwen2_vl", ["mme"], model_args=LONG, key="epoch-0")
    states = [j.state for j in await runner.jobs()]
    assert states == (["unsent", job.state] if stall == "post" else [job.state])
    assert again.seq == job.seq and job.state in ("queued", "running") and job.key == "epoch-0"
    (on_server,) = server_jobs(local_server.url)  # one job
    assert on_server["job_id"] == job.job_id
    posts = sum(1 for seen in p.seen if seen.method == "POST")
    assert posts == 2 if stall == "post" else posts == 1  # sent again only if never received


async def test_settling_an_orphan_under_the_key_uses_the_submits_timeout(
    make_runner: MakeRunner, ledger_target: LedgerTarget
) -> None:
    # A reviewer's try: submit(key=..., timeout=0.5) over an orphan under that key read the
    # queue with the client's timeout (a server that never answers: 6.5 s, not ~1 s).
    read_timeouts: list[float] = []

    class Recording(FakeServer):
        def _queue(self, request: httpx.Request) -> httpx.Response:
            read_timeouts.append(request.extensions["timeout"]["read"])
            return super()._queue(request)

    with Recording().mocked():
        intent(ledger_target, "epoch-0", owner="a-host-that-is-gone:1:x").close()
        runner = make_runner(BASE, orphan_after=0)
        job = await submit(runner, 0, "epoch-0", timeout=0.25)
    assert job.job_id is not None and read_timeouts and set(read_timeouts) == {0.25}
