"""A failed job's error text, as the client raises it and the command line prints it, keeps
no secret of the job's request (the server's error often quotes the evaluation log)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import respx

from lmms_eval_client import EvalClient, EvalRun, JobFailedError, JobInfo, WaitTimeoutError
from lmms_eval_client._text import failure_reason

from ..results.conftest import DATA
from ..runs._fake import FakeServer
from ..support import BASE, JOB_ID, job_json
from .test_commands import invoke

SECRET = "live-0123456789abcdef-zq"  # no known shape: masked as the job's own value
ERROR = (
    "Traceback (most recent call last):\n"
    f'config {{"model_args": {json.dumps({"api_key": SECRET})}}}\n'
    f"openai.AuthenticationError: Incorrect API key provided: {SECRET}"
)
FAILED = job_json(
    "failed",
    request={"model": "openai", "tasks": ["mme"], "model_args": {"api_key": SECRET}},
    error=ERROR,
)


@pytest.fixture
def failed(mock: respx.MockRouter) -> respx.MockRouter:
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=FAILED)
    return mock


def test_wait_for_job_raises_without_the_secret(failed: respx.MockRouter) -> None:
    # Before: the message, .error and .reason quoted the server's text as it was.
    with EvalClient(BASE) as client, pytest.raises(JobFailedError) as raised:
        client.wait_for_job(JOB_ID, poll_interval=0.01, timeout=5, verbose=False)
    error, pickled = raised.value, pickle.dumps(raised.value)
    copy = pickle.loads(pickled)
    for text in (str(error), error.reason, str(error.error), str(copy), copy.reason):
        assert SECRET not in text, text
    # A pickle leaves the process: its job is as the command line shows it (the review:
    # the raw JobInfo went along, secret model_args and error included).
    assert SECRET.encode() not in pickled
    assert copy.job.request.model_args == {"api_key": "***"}
    assert error.job.request.model_args == {"api_key": SECRET}  # here, the job as it is
    assert error.reason == "openai.AuthenticationError: Incorrect API key provided: [REDACTED]"


@pytest.mark.parametrize(
    "args", [["status", JOB_ID], ["status", JOB_ID, "--json"], ["wait", JOB_ID, "--quiet"]]
)
def test_the_command_line_prints_a_failed_job_without_the_secret(
    failed: respx.MockRouter, args: list[str]
) -> None:
    result = invoke(args, BASE)
    assert result.exit_code in (0, 1), result.output
    assert "Incorrect API key provided" in result.output
    assert SECRET not in result.output


@pytest.mark.parametrize("error", [ERROR, "   "])
def test_runs_show_and_ls_give_a_failed_jobs_error_without_the_secret(
    tmp_path: Path, error: str
) -> None:
    # Before: `runs show` printed the error's last line as it was, and a blank error
    # crashed it (IndexError).
    path = tmp_path / "run.sqlite"
    args = {"model": "gpt-4o", "api_key": SECRET}
    with FakeServer().mocked() as server, EvalClient(BASE) as client, EvalRun(client, path) as run:
        job = run.submit("openai", ["mme"], model_args=args)
        assert job.job_id is not None
        server.finish(job.job_id, "failed", error)
        run.harvest()
    for args in (["runs", "show", str(path), "1"], ["runs", "ls", str(path)]):
        result = invoke(args)
        assert result.exit_code == 0, result.output
        assert SECRET not in result.output and "failed" in result.output


def test_runs_show_says_why_the_real_servers_failed_job_failed(tmp_path: Path) -> None:
    # The runs CLI's adversarial try: `runs show` printed the error's last line, the real
    # 0.7.3 server's "ERROR ... Please set --verbosity=DEBUG" boilerplate with escaped
    # colour codes, where `status` and `runs watch` say the exception.
    error = (DATA / "failed" / "failed_error.txt").read_text()
    path = tmp_path / "run.sqlite"
    with FakeServer().mocked() as server, EvalClient(BASE) as client, EvalRun(client, path) as run:
        job = run.submit("qwen2_vl", ["no_such_task"], model_args={"pretrained": "a/b"})
        assert job.job_id is not None
        server.finish(job.job_id, "failed", error)
        run.harvest()
    result = invoke(["runs", "show", str(path), "1"])
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("error:")]
    assert line.split(":", 1)[1].strip() == failure_reason(error)
    assert "Tasks not found" in line and "\\x1b" not in line


def test_a_tokenizers_settings_are_not_taken_for_secrets(mock: respx.MockRouter) -> None:
    # The review of the first version: every value of a name holding "token" was masked, a
    # tokenizer's model name and max_num_batched_tokens' number included.
    model_args = {
        "model": "m",
        "tokenizer": "Qwen/Qwen2-VL-7B-Instruct",
        "max_num_batched_tokens": "8192",
        "use_auth_token": "true",
    }
    error = "OSError: Qwen/Qwen2-VL-7B-Instruct is not a folder; max_model_len 8192; ok true"
    request = {"model": "vllm", "tasks": ["mme"], "model_args": model_args}
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", request=request, error=error))
    with EvalClient(BASE) as client, pytest.raises(JobFailedError) as raised:
        client.wait_for_job(JOB_ID, poll_interval=0.01, timeout=5, verbose=False)
    assert raised.value.error == error


def test_a_secret_of_digits_is_masked_too(mock: respx.MockRouter) -> None:
    # The command line reads api_key=12345678901234 as a number: the review found it shown.
    request = {"model": "openai", "tasks": ["mme"], "model_args": {"api_key": 12345678901234}}
    error = "ValueError: bad credential 12345678901234"
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", request=request, error=error))
    with EvalClient(BASE) as client, pytest.raises(JobFailedError) as raised:
        client.wait_for_job(JOB_ID, poll_interval=0.01, timeout=5, verbose=False)
    assert raised.value.reason == "ValueError: bad credential [REDACTED]"


def test_a_wait_timeouts_pickle_carries_no_secret_of_the_job() -> None:
    job = JobInfo.model_validate(FAILED | {"status": "running", "error": None})
    pickled = pickle.dumps(WaitTimeoutError("still running", job=job, job_id=JOB_ID))
    assert SECRET.encode() not in pickled
    assert pickle.loads(pickled).job.request.model_args == {"api_key": "***"}


@pytest.mark.parametrize(
    "name", ["openai_key", "key", "api_key_2", "auth_token_v2", "hf_token", "api_tokens"]
)
def test_every_name_the_request_masks_is_masked_in_the_error_too(
    mock: respx.MockRouter, name: str
) -> None:
    # An adversarial try: the request showed these as ***, and the error (the log's tail,
    # `results`, `logs`) showed their values, since only names ending in a secret's word
    # counted there.
    request = {"model": "openai", "tasks": ["mme"], "model_args": {"model": "m", name: SECRET}}
    error = f"lmms-eval: model_args model=m,{name}={SECRET}\nValueError: rejected {SECRET}"
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("failed", request=request, error=error))
    with EvalClient(BASE) as client, pytest.raises(JobFailedError) as raised:
        client.wait_for_job(JOB_ID, poll_interval=0.01, timeout=5, verbose=False)
    assert SECRET not in str(raised.value) and SECRET not in str(raised.value.error)
    assert raised.value.reason == "ValueError: rejected [REDACTED]"
    result = invoke(["status", JOB_ID, "--json"], BASE)
    assert SECRET not in result.output and f'"{name}": "***"' in result.output


def test_status_json_masks_secrets_held_in_values(mock: respx.MockRouter) -> None:
    # The runs CLI's adversarial try: base_url=https://alice:PW@host/v1 was printed.
    args = {"base_url": "https://alice:URLPASS-5ecret@llm.internal/v1", "auth": {"token": "n5"}}
    request = {"model": "openai_compatible", "tasks": ["mme"], "model_args": args}
    mock.get(f"/jobs/{JOB_ID}").respond(200, json=job_json("queued", request=request))
    shown = invoke(["status", JOB_ID, "--json"], BASE)
    assert shown.exit_code == 0, shown.output
    assert "URLPASS" not in shown.stdout and '"n5"' not in shown.stdout
    (job,) = json.loads(shown.stdout)
    assert job["request"]["model_args"] == {"base_url": "***", "auth": "***"}
