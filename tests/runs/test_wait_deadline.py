"""A run's wait(timeout=...) ends near its timeout whatever the poll it serves sends: a
retry by policy (its echo read, its POST) and the settling of an orphan go out with the
wait's deadline, as the reads of queues and jobs did. A review found a retry's POST to a
server that stopped answering held wait(timeout=3) for the client's whole timeout (30 s)."""

from __future__ import annotations

import time

import pytest

from lmms_eval_client import EvalClient, EvalRun, RetryOnFailure
from lmms_eval_client.testing import LocalServer

from ..faults import Script, Stall, on, proxy
from ..servers import poll_until
from ._support import LedgerTarget

OOM = "RuntimeError: CUDA out of memory"


@pytest.mark.slow
async def test_a_retry_whose_post_hangs_ends_the_wait_near_its_timeout(
    local_server: LocalServer, ledger_target: LedgerTarget
) -> None:
    retry = RetryOnFailure("out of memory", max_attempts=2)
    with (
        proxy(local_server.url) as hung,
        EvalClient(hung.url, timeout=30) as client,
        EvalRun(client, ledger_target, retry=retry, poll_interval=0.05) as run,
    ):
        job = run.submit("qwen2_vl", ["mme"], {"pretrained": "a/b", "sim_error": OOM})
        await poll_until(lambda: client.get_job(str(job.job_id)).status, lambda s: s == "failed")
        hung.rule = Script(then=Stall(), match=on("POST", "/evaluate"))
        started = time.monotonic()
        result = run.wait(timeout=3)
        took = time.monotonic() - started
    assert took < 8, took  # 3 s and a second's margin per call (before: 30 s and more)
    # Not handed out as failed: its retry is due (the POST never reached the server: the
    # retry was proven unsent) or under way.
    assert not result.done and len(result.pending) == 1
