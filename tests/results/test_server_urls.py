"""Issue 20, item 5: a URL in the server's answer is not followed.

A server that reported ``ftp://127.0.0.1:PORT/...`` as a result path made the client
connect there through fsspec (in load_results, samples, eval_log, and by itself in a run's
summary). A server's path is a path on its disk: a URL scheme is followed only where the
user configured one (a path_map target, ``filesystem=``, a URL the user passes).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import fsspec
import pytest

from lmms_eval_client import (
    EvalResults,
    JobInfo,
    ResultsNotReachableError,
    eval_log_tail,
    load_job_results,
    results_of_job,
)
from lmms_eval_client._results.files import results_summary

from ._untrusted import Arrivals, counting_listener
from .conftest import DATA, MODEL, job_info

RESULTS = "evals/a/stub-model/20261202_055237_results.json"


@dataclass(frozen=True)
class Ftp:
    """``ftp://127.0.0.1:<port>``, a listener that counts who connects to it."""

    url: str
    port: int
    arrivals: Arrivals

    def nobody_came(self) -> bool:
        return self.arrivals.before_now(self.port) == []


@pytest.fixture
def ftp() -> Iterator[Ftp]:
    with counting_listener() as (port, arrivals):
        yield Ftp(f"ftp://127.0.0.1:{port}", port, arrivals)


def job_at(results: str, samples: list[str] | None = None, **fields: Any) -> JobInfo:
    return job_info(result={MODEL: {"results": results, "samples": samples or []}}, **fields)


def test_a_url_as_results_path_is_not_followed(ftp: Ftp) -> None:
    url = ftp.url
    job = job_at(f"{url}/{RESULTS}")
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(job)
    with pytest.raises(ResultsNotReachableError):
        results_of_job(job)
    assert results_summary(job) is None  # what a run records, by itself
    assert ftp.nobody_came()
    err = caught.value
    assert err.server_path == f"{url}/{RESULTS}"
    message = str(err)
    assert "not followed" in message
    assert "path_map" in message and "filesystem=" in message


def test_a_url_as_samples_path_is_not_followed(ftp: Ftp, path_map: dict[str, str]) -> None:
    url = ftp.url
    samples = f"{url}/evals/a/stub-model/20261202_055237_samples_e2e_arith.jsonl"
    job = job_at(f"/srv/{RESULTS}", [samples])
    with pytest.raises(ResultsNotReachableError, match="not followed"):
        load_job_results(job, path_map=path_map)
    assert ftp.nobody_came()


def test_a_url_as_log_or_output_dir_is_not_followed(ftp: Ftp) -> None:
    url = ftp.url
    failed = job_info("failed", error=f"Last lines of {url}/out/eval-20261201-215203.log:\nx")
    with pytest.raises(ResultsNotReachableError, match="not followed"):
        eval_log_tail(failed)
    request = {"model": "openai", "tasks": ["t"], "output_dir": f"{url}/out"}
    running = job_info("running", request=request)
    with pytest.raises(ResultsNotReachableError, match="not followed"):
        eval_log_tail(running)
    assert ftp.nobody_came()


# -- what the user configured is followed ---------------------------------------------------


@pytest.fixture
def memory_root() -> Iterator[str]:
    fs = fsspec.filesystem("memory")
    root = f"/mem-{uuid.uuid4().hex}"
    fs.pipe(f"{root}/{RESULTS}", (DATA / "single" / "20261202_055237_results.json").read_bytes())
    yield root
    fs.rm(root, recursive=True)


def test_a_path_map_target_url_is_followed(memory_root: str) -> None:
    results = load_job_results(
        job_at(f"/srv/{RESULTS}"), path_map={"/srv": f"memory://{memory_root}"}
    )
    assert results.path == f"memory://{memory_root}/{RESULTS}"


def test_a_server_url_the_user_mapped_is_followed(memory_root: str) -> None:
    job = job_at(f"ftp://gpu-box/srv/{RESULTS}")
    results = load_job_results(job, path_map={"ftp://gpu-box/srv": f"memory://{memory_root}"})
    assert results.tasks == ["e2e_arith"]


def test_a_server_path_on_the_users_filesystem(memory_root: str) -> None:
    fs = fsspec.filesystem("memory")
    assert load_job_results(job_at(f"{memory_root}/{RESULTS}"), filesystem=fs).tasks
    assert EvalResults.load(f"memory://{memory_root}/{RESULTS}").tasks  # the user's URL


def test_the_servers_part_is_a_path_on_the_users_url(ftp: Ftp, memory_root: str) -> None:
    # Only the user's target is parsed as a URL: what the server adds is a path on it,
    # not fsspec syntax (a "::" chain, a second URL).
    url = ftp.url
    server = f"/srv/evals/x::{url}/y_results.json"
    with pytest.raises(ResultsNotReachableError) as caught:
        load_job_results(job_at(server), path_map={"/srv": f"memory://{memory_root}"})
    assert caught.value.client_path == f"memory://{memory_root}/evals/x::{url}/y_results.json"
    assert ftp.nobody_came()


def test_a_log_url_the_user_gives_is_followed(memory_root: str) -> None:
    fs = fsspec.filesystem("memory")
    fs.pipe(f"{memory_root}/out/eval-20261201-215203.log", b"one\ntwo\n")
    assert eval_log_tail(f"memory://{memory_root}/out/eval-20261201-215203.log") == "one\ntwo"
