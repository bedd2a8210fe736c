"""A run's settings default to its client's: where jobs write (``output_root``) is resolved
once, by the client (its argument, else ``$LMMS_EVAL_OUTPUT_ROOT``), and the run asks it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lmms_eval_client import InvalidArgumentError, RetryOnFailure

from ._fake import BASE, FakeServer
from .conftest import MakeRunner


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer().mocked() as fake:
        yield fake


def sent_output_dir(server: FakeServer, job_id: str | None) -> object:
    assert job_id is not None
    return server.jobs[job_id]["request"]["output_dir"]


async def test_a_run_writes_under_its_clients_output_root(
    server: FakeServer, make_runner: MakeRunner, tmp_path: Path
) -> None:
    root = str(tmp_path / "out")
    runner = make_runner(BASE, client_options={"output_root": root})
    job = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    sent = sent_output_dir(server, job.job_id)
    assert isinstance(sent, str) and sent.startswith(root + "/")
    assert sent.endswith(job.token)  # the run's own folder: reconciliation finds it exactly
    assert job.output_dir == sent


async def test_the_clients_argument_wins_over_the_environment_for_the_run_too(
    server: FakeServer, make_runner: MakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMMS_EVAL_OUTPUT_ROOT", "/from/env")
    runner = make_runner(BASE, client_options={"output_root": "/from/client"})
    job = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    sent = sent_output_dir(server, job.job_id)
    assert isinstance(sent, str) and sent.startswith("/from/client/")


async def test_the_environment_reaches_the_run_through_the_client(
    server: FakeServer, make_runner: MakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMMS_EVAL_OUTPUT_ROOT", "/from/env")
    runner = make_runner(BASE)
    job = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    sent = sent_output_dir(server, job.job_id)
    assert isinstance(sent, str) and sent.startswith("/from/env/")


async def test_the_runs_own_output_root_wins_over_its_clients(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, client_options={"output_root": "/client"}, output_root="/run")
    job = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    sent = sent_output_dir(server, job.job_id)
    assert isinstance(sent, str) and sent.startswith("/run/")


async def test_an_explicit_output_dir_is_sent_as_given(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE, client_options={"output_root": "/client"})
    job = await runner.submit(
        "qwen2_vl", ["mme"], model_args={"pretrained": "org/m"}, output_dir="/mine"
    )
    assert sent_output_dir(server, job.job_id) == "/mine"


async def test_without_any_root_the_server_picks_the_folder(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    runner = make_runner(BASE)
    job = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    assert sent_output_dir(server, job.job_id) is None


async def test_a_retry_gets_a_fresh_folder_under_the_clients_output_root(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    retry = RetryOnFailure("CUDA out of memory", max_attempts=2)
    runner = make_runner(BASE, client_options={"output_root": "/client"}, retry=retry)
    first = await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    assert first.job_id is not None
    server.finish(first.job_id, "failed", "CUDA out of memory")
    await runner.ready()  # a poll: sends the second attempt
    (second,) = [job for job in await runner.jobs() if job.retry_of == first.seq]
    sent = sent_output_dir(server, second.job_id)
    assert isinstance(sent, str) and sent.startswith("/client/") and sent.endswith(second.token)
    assert sent != first.output_dir  # the failed attempt's folder keeps its logs


async def test_a_retry_keeps_an_output_dir_the_caller_chose(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    retry = RetryOnFailure("CUDA out of memory", max_attempts=2)
    runner = make_runner(BASE, client_options={"output_root": "/client"}, retry=retry)
    first = await runner.submit(
        "qwen2_vl", ["mme"], model_args={"pretrained": "org/m"}, output_dir="/mine"
    )
    assert first.job_id is not None
    server.finish(first.job_id, "failed", "CUDA out of memory")
    await runner.ready()
    (second,) = [job for job in await runner.jobs() if job.retry_of == first.seq]
    assert sent_output_dir(server, second.job_id) == "/mine"


@pytest.mark.parametrize("root", ["/out\x00put", "/out\udc80put"])
def test_an_output_root_that_cannot_be_sent_is_refused_by_the_client(
    server: FakeServer, make_runner: MakeRunner, root: str
) -> None:
    # Before: the client took it, and a run sent a NUL in each job's output_dir (which its
    # PostgreSQL ledger then could not store); evaluate() refused only at each call.
    with pytest.raises(InvalidArgumentError, match="output_root"):
        make_runner(BASE, client_options={"output_root": root})
    assert server.jobs == {}


def test_a_runs_own_output_root_that_cannot_be_sent_is_refused(
    server: FakeServer, make_runner: MakeRunner
) -> None:
    # The review of the first version: the client refused it, a run's own still sent it.
    with pytest.raises(InvalidArgumentError, match="output_root"):
        make_runner(BASE, output_root="/out\x00put")
    assert server.jobs == {}


async def test_an_environment_output_root_that_cannot_be_sent_fails_the_submission_only(
    server: FakeServer, make_runner: MakeRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A non-UTF-8 $LMMS_EVAL_OUTPUT_ROOT: a client that only reads (status, queue) works.
    monkeypatch.setenv("LMMS_EVAL_OUTPUT_ROOT", "/data/r\udce9sultats")
    runner = make_runner(BASE)
    with pytest.raises(InvalidArgumentError, match="output_root is not valid text"):
        await runner.submit("qwen2_vl", ["mme"], model_args={"pretrained": "org/m"})
    assert server.requests["POST /evaluate"] == 0
