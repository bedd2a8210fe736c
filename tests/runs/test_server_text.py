"""What a server says is stored in the ledger as it can be: a NUL character in a refusal's
detail (a path or a model name echoed from a corrupted file), which PostgreSQL's text
cannot hold (an adversarial try). Runs over both stores."""

from __future__ import annotations

import json

import pytest

from lmms_eval_client import EvalClient, EvalRun, UnprocessableEntityError
from lmms_eval_client.testing import LocalServer

from ..faults import Script, on, proxy, respond
from ._support import QWEN, LedgerTarget


def test_a_refusal_whose_detail_holds_a_nul_is_recorded_unsent(
    local_server: LocalServer, ledger_target: LedgerTarget
) -> None:
    # Before, on PostgreSQL: LedgerError "text fields cannot contain NUL", the caller's
    # except UnprocessableEntityError missed it, and the intent stayed "submitting".
    detail = json.dumps({"detail": "checkpoint header corrupt: b'\x00\x00\x89PNG'"}).encode()
    refuse = Script(respond(422, detail, content_type="application/json"), match=on("POST"))
    with (
        proxy(local_server.url, refuse) as p,  # type: ignore[arg-type]
        EvalClient(p.url, max_retries=0) as client,
        EvalRun(client, ledger_target) as run,
    ):
        with pytest.raises(UnprocessableEntityError):
            run.submit("qwen2_vl", ["mme"], model_args=QWEN, key="k")
        (job,) = run.jobs()
        assert job.state == "unsent"
        assert "checkpoint header corrupt" in (job.note or "")
        assert run.submit("qwen2_vl", ["mme"], model_args=QWEN, key="k").state == "queued"
