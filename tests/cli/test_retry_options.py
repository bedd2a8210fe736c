"""``--retry-lost``, ``--retry-failed REGEX`` and ``--max-attempts N`` of ``runs watch`` and
``watch``: the SDK's ``RetryOnFailure`` from a shell (the watch had no way to resubmit a
lost checkpoint: its warning named a Python argument). Bad values are usage errors before
anything is opened."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..faults import start_local_server
from ..watch.conftest import write_checkpoint
from ..watch.test_cli_watch import read_until, start_watch
from .test_commands import invoke

LONG_ARGS = {"pretrained": "org/model", "sim_duration": 600}  # runs until its server stops


def lost_job(url: str, ledger: Path) -> int:
    """Submit one long job into ``ledger`` with EvalRun and record it lost, as a restart of
    its server would; its seq."""
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        job = run.submit("qwen2_vl", ["mme"], LONG_ARGS, labels={"step": 1})
        run._ledger.record_end(job.seq, "lost", "the server restarted", "lost")
    return job.seq


def failed_job(url: str, ledger: Path, error: str) -> None:
    """Submit one job into ``ledger`` with EvalRun that fails with ``error``; wait for it."""
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        run.submit("qwen2_vl", ["mme"], {"pretrained": "org/model", "sim_error": error})
        assert run.wait(timeout=30).pending == []


def attempts(url: str, ledger: Path) -> list[tuple[int, int | None, str]]:
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        return [(job.attempt, job.retry_of, job.state) for job in run.jobs()]


def test_runs_watch_retry_lost_resubmits_a_lost_job(
    local_server: LocalServer, tmp_path: Path
) -> None:
    url, ledger = local_server.url, tmp_path / "evals.sqlite"
    seq = lost_job(url, ledger)
    plain = invoke(["runs", "watch", str(ledger), "--timeout", "0", "-q", "--no-harvest"], url)
    assert plain.exit_code == 8, plain.output  # lost, left (its outcome not taken)
    assert attempts(url, ledger) == [(1, None, "lost")]
    done = invoke(["runs", "watch", str(ledger), "--timeout", "0", "--json", "--retry-lost"], url)
    assert done.exit_code == 4, done.output  # the new attempt is pending: it goes on
    (first, second) = attempts(url, ledger)
    assert first == (1, None, "lost") and second[:2] == (2, seq)
    assert second[2] in {"queued", "running"}


@pytest.mark.slow
def test_runs_watch_retry_failed_resubmits_only_a_matching_error(
    local_server: LocalServer, tmp_path: Path
) -> None:
    url, ledger = local_server.url, tmp_path / "evals.sqlite"
    failed_job(url, ledger, "RuntimeError: CUDA out of memory")
    args = ["runs", "watch", str(ledger), "--timeout", "0", "--quiet", "--max-attempts", "2"]
    other = invoke([*args, "--no-harvest", "--retry-failed", "disk full"], url)
    assert other.exit_code == 1, other.output
    assert len(attempts(url, ledger)) == 1
    done = invoke([*args, "--retry-failed", "out of memory"], url)
    assert done.exit_code == 4, done.output
    assert [attempt for attempt, _, _ in attempts(url, ledger)] == [1, 2]


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--max-attempts", "2"], "--max-attempts counts the attempts of --retry-lost or"),
        (["--retry-failed", "("], "--retry-failed: pattern is not a regular expression"),
        (["--retry-lost", "--max-attempts", "1"], "1 is not in the range x>=2"),
        (["--retry-failed", ""], "--retry-failed is empty"),  # the review: matched every error
    ],
)
@pytest.mark.parametrize("command", ["watch", "runs watch"])
def test_bad_retry_options_are_usage_errors_before_the_ledger_is_made(
    tmp_path: Path, command: str, options: list[str], said: str
) -> None:
    ledger = tmp_path / "evals.sqlite"
    if command == "watch":
        args = ["watch", str(tmp_path), "--ledger", str(ledger), "-m", "qwen2_vl", "-t", "mme"]
    else:
        args = ["runs", "watch", str(ledger)]
    done = invoke([*args, *options], "http://127.0.0.1:9")
    assert done.exit_code == 2, done.output
    assert said in done.stderr
    assert not ledger.exists()


@pytest.mark.slow
def test_watch_retry_lost_resubmits_a_checkpoint_its_restarted_server_forgot(
    tmp_path: Path,
) -> None:
    config = LocalServerConfig(job_duration=0.05, temp_dir_root=tmp_path)
    server = start_local_server(config)
    out, ledger = tmp_path / "out", tmp_path / "evals.sqlite"
    write_checkpoint(out, 1)
    watch = start_watch(
        server.url, out, ledger, "-a", "sim_duration=600", "--retry-lost", "--max-attempts", "2"
    )
    try:
        (first,) = read_until(watch, 1, "submitted")
        assert first["attempt"] == 1 and first["retry_of"] is None
        server.stop()
        server = start_local_server(config, port=server.port)  # every job forgotten
        (second,) = read_until(watch, 1, "submitted")
        assert second["key"] == "checkpoint-1" and second["step"] == 1
        assert second["attempt"] == 2 and second["retry_of"] == first["seq"]
        assert second["job_id"] != first["job_id"] and second["server"] == first["server"]
    finally:
        watch.kill()
        watch.communicate()
        server.stop()
