"""Job ids a server answers with that no request can name (empty, a dot segment, not text,
too long for a URL): a submission so answered is an APIResponseValidationError (its job could
never be asked about, waited for or cancelled, and an evaluation run records no such id); a
queue listing one is shown as said, and a reconciliation counts it as a job it cannot read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from lmms_eval_client import (
    APIResponseValidationError,
    EvalClient,
    EvalRun,
    SubmissionUnresolvedError,
)

from ..support import BASE, MINIMAL_REQUESTS, QUEUE_JSON, SUBMIT_JSON, Caller

pytestmark = MINIMAL_REQUESTS

UNUSABLE = ["", ".", "..", "\ud800", "x" * 60_001]
IDS = ["empty", "dot", "dot-dot", "lone-surrogate", "too-long"]


def answer(body: dict[str, Any]) -> httpx.Response:
    """JSON as a server may send it: a lone surrogate escaped (httpx's json= refuses it)."""
    return httpx.Response(200, content=json.dumps(body).encode("ascii"))


@pytest.mark.parametrize("job_id", UNUSABLE, ids=IDS)
async def test_a_submission_answered_with_an_unusable_job_id(
    caller: Caller, mock: respx.MockRouter, job_id: str
) -> None:
    mock.post("/evaluate").mock(return_value=answer({**SUBMIT_JSON, "job_id": job_id}))
    with pytest.raises(APIResponseValidationError) as caught:
        await caller.evaluate("qwen2_vl", ["mme"])
    message = str(caught.value)
    assert "which no request can name" in message
    assert "may have reached the server" in message  # the job may exist: check the queue
    assert len(message) < 1000


@pytest.mark.parametrize("job_id", UNUSABLE, ids=IDS)
@pytest.mark.parametrize("where", ["running_job", "queued_jobs"])
async def test_a_queue_naming_an_unusable_job_id_is_shown_as_the_server_said(
    caller: Caller, mock: respx.MockRouter, job_id: str, where: str
) -> None:
    """None of ours has such an id: a run's poll ignores it, get_job() refuses it."""
    listed: Any = job_id if where == "running_job" else ["b", job_id]
    mock.get("/queue").mock(return_value=answer({**QUEUE_JSON, where: listed}))
    queue = await caller.get_queue_status()
    assert (queue.running_job if where == "running_job" else queue.queued_jobs) == listed


@pytest.mark.parametrize("job_id", UNUSABLE, ids=IDS)
@pytest.mark.parametrize(
    ("before", "after", "says"),
    [(False, True, "could not be read"), (True, False, "has no readable id")],
    ids=["listed-after-the-post", "listed-before-it"],
)
async def test_a_reconciliation_that_meets_an_unusable_job_id_sends_nothing_more(
    caller: Caller,
    mock: respx.MockRouter,
    job_id: str,
    before: bool,
    after: bool,
    says: str,
) -> None:
    """Before: the id was read with get_job(), whose InvalidArgumentError (a caller's
    mistake, said of an id the caller never gave) ended the submission."""
    queues = iter([[job_id] if listed else [] for listed in (before, after)])

    def queue(request: httpx.Request) -> httpx.Response:
        ids = next(queues)
        return answer(
            {**QUEUE_JSON, "running_job": None, "queued_jobs": ids, "queue_size": len(ids)}
        )

    mock.get("/queue").mock(side_effect=queue)
    post = mock.post("/evaluate").mock(side_effect=httpx.ReadTimeout("the answer was lost"))
    with pytest.raises(SubmissionUnresolvedError, match=says):
        await caller.evaluate("qwen2_vl", ["mme"], reconcile=True)
    assert post.call_count == 1


@pytest.mark.parametrize("running", [None, ""], ids=["queue-empty", "running-under-the-empty-id"])
def test_a_submission_answered_with_an_unusable_id_is_sent_once(
    tmp_path: Path, running: str | None
) -> None:
    """The empty id was recorded as the job's, and every later poll of the run failed on it
    (`runs watch` among them). Then, refused, it was reconciled as a lost answer and, the
    job not found by its id, sent twice more: a success said the job was created."""
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        post = mock.post("/evaluate").respond(200, json={**SUBMIT_JSON, "job_id": ""})
        queue = {**QUEUE_JSON, "running_job": running, "queued_jobs": [], "queue_size": 0}
        mock.get("/queue").respond(200, json=queue)
        with EvalClient(BASE, max_retries=0) as client:
            with pytest.raises(SubmissionUnresolvedError, match="answered that it took the job"):
                client.evaluate("qwen2_vl", ["mme"], reconcile=True)
            assert post.call_count == 1
            with EvalRun(client, tmp_path / "l.db") as run:
                with pytest.raises(SubmissionUnresolvedError):
                    run.submit("qwen2_vl", ["mme"])
                jobs = run.jobs()
        assert post.call_count == 2  # once each
    assert [(job.job_id, job.state) for job in jobs] == [(None, "lost")]
