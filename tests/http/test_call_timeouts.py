"""A call's own timeout= (issue 9, item 8), over real sockets.

Before: merge_checkpoint gave up after the client's 60 s although the server merges
synchronously (big checkpoints take minutes), its error advised checking the queue (a merge
never enters it), and no call could be given a budget of its own.
"""

from __future__ import annotations

import json

import httpx
import pytest

from lmms_eval_client import (
    APITimeoutError,
    InvalidArgumentError,
    JobSubmitResponse,
    MergeResponse,
)
from lmms_eval_client.testing import LocalServer

from ..faults import Drip, Script, Stall, http_response, on, proxy
from ..support import QWEN, MakeClient
from .test_time_budget import MARGIN, bounded, method

MERGED = json.dumps({"success": True, "message": "merged", "merged_path": "/ckpt"}).encode()


@pytest.mark.slow
async def test_a_call_timeout_is_shorter_than_the_clients(make_client: MakeClient) -> None:
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url, timeout=60, max_retries=0)
        outcome, elapsed = await bounded(method(caller, "get_queue_status"), 1 + MARGIN, timeout=1)
    assert isinstance(outcome, APITimeoutError), outcome
    assert "timeout= to this call" in str(outcome)
    assert elapsed >= 0.9


async def test_a_call_timeout_is_longer_than_the_clients(make_client: MakeClient) -> None:
    healthy = b'{"status": "healthy", "timestamp": "2026-12-02T05:00:00", "queue_size": 0}'
    head, body = http_response(200, healthy).split(b"\r\n\r\n", 1)
    slow = Drip(body, interval=0.05, size=4, prefix=head + b"\r\n\r\n")  # about 0.5 s
    with proxy(None, Script(slow)) as p:
        caller = make_client(p.url, timeout=0.2, max_retries=0)
        health, _ = await bounded(method(caller, "health"), 3 + MARGIN, timeout=3)
    assert getattr(health, "status", health) == "healthy"


async def test_a_merge_outlives_the_clients_timeout_by_default(make_client: MakeClient) -> None:
    head, body = http_response(200, MERGED).split(b"\r\n\r\n", 1)
    merging = Drip(body, interval=0.02, size=2, prefix=head + b"\r\n\r\n")  # about 0.7 s
    with proxy(None, Script(merging, match=on("POST", "/merge"))) as p:
        caller = make_client(p.url, timeout=0.2, max_retries=0)
        merged, _ = await bounded(method(caller, "merge_checkpoint"), 5 + MARGIN, "/ckpt/shards")
    assert isinstance(merged, MergeResponse), merged
    assert merged.merged_path == "/ckpt"


@pytest.mark.slow
async def test_a_merge_that_times_out_says_what_fits_a_merge(make_client: MakeClient) -> None:
    with proxy(None, Script(Stall(), match=on("POST", "/merge"))) as p:
        caller = make_client(p.url, max_retries=3)
        outcome, _ = await bounded(
            method(caller, "merge_checkpoint"), 1 + MARGIN, "/ckpt/shards", timeout=1
        )
        assert len(p.seen) == 1  # never sent twice
    assert isinstance(outcome, APITimeoutError), outcome
    message = str(outcome)
    assert "never enters the queue" in message and "output_path" in message
    assert "get_queue_status()" not in message


async def test_a_reconciled_submission_keeps_the_call_timeout(make_client: MakeClient) -> None:
    """Issue 19: evaluate(reconcile=True) read the queue with the client's timeout, not the
    call's: against a server that does not answer it waited for the client's 60 s."""
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url, timeout=60, max_retries=0)
        outcome, elapsed = await bounded(
            method(caller, "evaluate"), 0.5 + MARGIN, "qwen2_vl", ["mme"],
            model_args=QWEN, reconcile=True, timeout=0.5,
        )  # fmt: skip
        assert [seen.method for seen in p.seen] == ["GET"]  # the queue, before sending
    assert isinstance(outcome, APITimeoutError), outcome
    assert elapsed >= 0.4


async def test_a_lost_answer_is_reconciled_within_the_call_timeout(
    make_client: MakeClient, local_server: LocalServer
) -> None:
    """The submission that does not answer is given up after the call's 0.5 s (not the
    client's 60 s), then reconciled: no job was created, so it is sent again, once."""
    with proxy(local_server.url, Script(Stall(), match=on("POST", "/evaluate"))) as p:
        caller = make_client(p.url, timeout=60, max_retries=0)
        outcome, _ = await bounded(
            method(caller, "evaluate"), 0.5 + MARGIN, "qwen2_vl", ["mme"],
            model_args=QWEN, reconcile=True, timeout=0.5,
        )  # fmt: skip
        posts = [seen.action for seen in p.seen if seen.method == "POST"]
    assert isinstance(outcome, JobSubmitResponse), outcome
    assert posts == ["stall", "forward"]


@pytest.mark.parametrize("bad", [0, -1, float("nan"), 1e300, "5", httpx.Timeout(-1)])
async def test_a_bad_call_timeout_is_refused_before_sending(
    make_client: MakeClient, bad: object
) -> None:
    with proxy(None, Script(then=Stall())) as p:
        caller = make_client(p.url)
        with pytest.raises(InvalidArgumentError, match="timeout"):
            await caller.get_job("job-1", timeout=bad)
        assert p.seen == []
