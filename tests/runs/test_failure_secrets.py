"""A failed job's error text keeps no secret of its request: not in its outcome, not in the
ledger (the server's error often quotes the evaluation log, which quotes model_args)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import JobFailed, JobFailedError

from ._fake import BASE, FakeServer
from .conftest import MakeRunner

SECRET = "sk-live-0123456789abcdef"
CRED = "hunter2-corp-vault"
ERROR = (
    "Traceback (most recent call last):\n"
    f"openai.AuthenticationError: Incorrect API key provided: {SECRET}\n"
    f'config {{"model_args": {json.dumps({"api_key": SECRET})}}} cred {CRED}\n'
    f"ValueError: could not log in with {SECRET} and {CRED}"
)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


async def test_a_failed_jobs_outcome_and_ledger_keep_no_secret_of_its_request(
    server: FakeServer,
    make_runner: MakeRunner,
    ledger_store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: the error text was kept as the server gave it, in the outcome, its message and
    # the ledger; only model_args themselves were masked ($LMMS_EVAL_SECRET_ARGS words too).
    monkeypatch.setenv("LMMS_EVAL_SECRET_ARGS", "key,cred")
    runner = make_runner(BASE)
    args = {"pretrained": "org/m", "api_key": SECRET, "vault_cred": CRED}
    job = await runner.submit("openai", ["mme"], model_args=args)
    assert job.job_id is not None
    server.finish(job.job_id, "failed", ERROR)
    (outcome,) = await runner.harvest()
    assert isinstance(outcome, JobFailed)
    with pytest.raises(JobFailedError) as failed:
        outcome.raise_for_outcome()
    shown = [outcome.error, outcome.reason, str(failed.value), failed.value.reason]
    shown += [str(failed.value.error), outcome.model_dump_json(exclude={"info"})]
    for text in shown:
        assert SECRET not in text and CRED not in text, text
    assert "Incorrect API key provided: [REDACTED]" in outcome.error
    assert outcome.reason == "ValueError: could not log in with [REDACTED] and [REDACTED]"
    assert outcome.info.error == outcome.error  # as the ledger stores it
    await runner.close()
    if ledger_store == "sqlite":
        stored = b"".join(path.read_bytes() for path in tmp_path.glob("run.sqlite*"))
        assert b"Incorrect API key provided" in stored
        assert SECRET.encode() not in stored and CRED.encode() not in stored
