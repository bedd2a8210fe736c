"""The secrets a submission's body carries (model_args, extra_body fields named like a
secret) never travel with an error: not in its message, its ``body``, its request, nor
its pickle (an adversarial try of the pool found a gateway's echo of the body in each)."""

from __future__ import annotations

import pickle

import httpx
import pytest
import respx

from lmms_eval_client import EvalClient, LmmsEvalError

BASE = "http://h.test:8000"
QUEUE = {"queue_size": 0, "queued_jobs": [], "completed_jobs": 0, "failed_jobs": 0}
KEY, TOKEN = "sk-model-arg-0123456789", "hf-extra-body-0123456789"
ECHO = {  # FastAPI's 422 quotes the body it refused as "input"; a gateway may do as much
    "detail": [{"type": "x", "loc": ["body"], "msg": f"refused {KEY}",
                "input": {"model_args": {"api_key": KEY}, "hf_token": TOKEN}}]
}  # fmt: skip


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(422, json=ECHO), httpx.Response(500, json=ECHO), httpx.ConnectError("no")],
    ids=["422-echo", "500-echo", "connection-refused"],
)
def test_a_failed_submission_carries_no_secret_of_its_body(
    answer: httpx.Response | Exception,
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{BASE}/queue").respond(200, json=QUEUE)
        mock.post(f"{BASE}/evaluate").mock(side_effect=[answer])
        with EvalClient(BASE, max_retries=0) as client, pytest.raises(LmmsEvalError) as info:
            client.evaluate(
                "qwen2_vl", ["mme"], {"pretrained": "org/m", "api_key": KEY},
                extra_body={"hf_token": TOKEN},
            )  # fmt: skip
    error = info.value
    carried = [str(error), repr(error), repr(getattr(error, "body", None))]
    carried.append(pickle.dumps(error).decode("latin-1"))
    request = getattr(error, "request", None)
    if request is not None:
        carried.append(request.content.decode())
    for text in carried:
        assert KEY not in text and TOKEN not in text
