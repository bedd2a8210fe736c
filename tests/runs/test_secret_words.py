"""Credentials under names other than the secret words (an adversarial try of a ledger):
``db_passwd``, ``auth`` (``"Bearer ..."``), ``credentials`` were stored in the ledger as
they were and shown by ``runs show --json`` and a failed job's error, where ``api_key``,
``hf_token`` and a URL's password were masked.

Now a name of a password (``passwd``, ``pwd``), of an authorization (``auth``, not an
author's), of a credential or a cookie is secret whatever the words in force, and so is a
value that is an Authorization header's (``Bearer ...``, ``Basic ...``) whatever its name,
the credential after its scheme masked wherever a text repeats it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobInfo
from lmms_eval_client._results.redaction import redacted_error
from lmms_eval_client._secret_args import (
    holds_secret,
    is_secret_arg,
    masked_for_display,
    secret_arg_words,
)

from ..support import MINIMAL_REQUESTS, job_json
from ._fake import BASE, FakeServer
from ._support import LedgerTarget
from .conftest import MakeRunner
from .test_secret_args import on_disk

pytestmark = MINIMAL_REQUESTS

# The names and values of the adversarial try, and one under a name of no secret's.
SECRETS = {
    "db_passwd": "LEAKPASSWD333",
    "auth": "Bearer LEAKAUTH444",
    "credentials": "LEAKCRED666",
    "header": "Basic TEVBS0JBU0lDNzc3",
}
SHOWN_NEVER = ("LEAKPASSWD333", "LEAKAUTH444", "LEAKCRED666", "TEVBS0JBU0lDNzc3")
ARGS = {"pretrained": "org/m", "author": "Ada Lovelace", **SECRETS}
TOLD = "rejected: pw LEAKPASSWD333 auth LEAKAUTH444 cred LEAKCRED666 basic TEVBS0JBU0lDNzc3"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def test_names_of_credentials_are_secret_whatever_the_words() -> None:
    secret = (
        "db_passwd", "DB_PWD", "auth", "http_auth", "Authorization", "proxy-authorization",
        "oauth", "authentication", "credentials", "gcp_credential_file", "session_cookie",
    )  # fmt: skip
    for words in (secret_arg_words(), ("dsn",)):  # (secret_args= replaces the words)
        for name in secret:
            assert is_secret_arg(name, words), (name, words)
    # as the project reads names: an author's, an authority's are no secret
    for name in ("author", "Authors", "co_author", "authored_by", "authority", "pretrained",
                 "num_frames", "max_pixels", "model_version", "dtype"):  # fmt: skip
        assert not is_secret_arg(name, secret_arg_words()), name


@pytest.mark.parametrize(
    "value",
    ["Bearer LEAKAUTH444", "bearer  sk-abcdef", "Basic Ym9iOnNlY3JldA==", " BASIC YWxhZGRpbg== "],
)
def test_an_authorization_value_is_secret_whatever_its_name(value: str) -> None:
    assert holds_secret(value, ())
    request = {"model": "m", "tasks": ["mme"], "model_args": {"header": value, "n": "Bearer"}}
    shown = masked_for_display(request)
    assert shown["model_args"] == {"header": "***", "n": "Bearer"}
    for ordinary in ("Bearer", "basic", "Bearer of bad news", "a Bearer token"):
        assert not holds_secret(ordinary, ()), ordinary


def test_a_failed_jobs_error_masks_a_credential_told_alone() -> None:
    # What JobFailedError and `wait` say of a job the server reports failed.
    request = {"model": "m", "tasks": ["mme"], "model_args": ARGS}
    job = JobInfo.model_validate(job_json("failed", request=request, error=TOLD))
    shown = redacted_error(job)
    assert shown is not None and shown.startswith("rejected: pw")
    assert not any(secret in shown for secret in SHOWN_NEVER), shown


def test_the_ledger_and_the_command_line_keep_no_credential(
    server: FakeServer, tmp_path: Path
) -> None:
    from ..cli.test_commands import invoke

    path = tmp_path / "run.sqlite"
    with EvalClient(BASE) as client, EvalRun(client, path) as run:
        job = run.submit("openai_compatible", ["mme"], model_args=ARGS)
        assert job.job_id is not None
        server.finish(job.job_id, "failed", TOLD)
        run.harvest()
    data = on_disk(path)
    for secret in SHOWN_NEVER:
        assert secret.encode() not in data, secret
    for args in (["runs", "show", str(path), "1", "--json"], ["runs", "ls", str(path), "--json"]):
        shown = invoke(args)
        assert shown.exit_code == 0, shown.output
        assert '"Ada Lovelace"' in shown.stdout  # an author is no secret
        for secret in SHOWN_NEVER:
            assert secret not in shown.stdout, (args, secret)
    said = invoke(["runs", "show", str(path), "1"])
    assert "rejected: pw" in said.stdout
    assert not any(secret in said.stdout for secret in SHOWN_NEVER), said.stdout


async def test_a_retry_sends_the_credentials_as_they_were(
    server: FakeServer, make_runner: MakeRunner, ledger_target: LedgerTarget
) -> None:
    from lmms_eval_client import RetryOnFailure

    runner = make_runner(BASE, retry=RetryOnFailure("CUDA", max_attempts=2), summarize=None)
    first = await runner.submit("openai_compatible", ["mme"], model_args=ARGS)
    server.finish(str(first.job_id), "failed", "CUDA out of memory")
    assert await runner.harvest() == []
    second = next(j for j in server.jobs.values() if j["job_id"] != first.job_id)
    assert second["request"]["model_args"] == ARGS
    stored = (await runner.jobs())[0].request.model_args
    assert stored is not None and stored["author"] == "Ada Lovelace"
    assert all(stored[key].startswith("***hmac-sha256:") for key in SECRETS)
    for secret in SHOWN_NEVER:
        assert secret.encode() not in on_disk(ledger_target), secret
