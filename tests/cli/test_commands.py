"""The command line in process (typer's CliRunner): usage errors, help texts, exit codes,
the connection, the human output, and the ``runs`` plug-in point."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from lmms_eval_client import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    EvalClient,
    EvalPool,
    InvalidArgumentError,
    JobCancelledError,
    JobFailedError,
    JobInfo,
    JobNotFoundError,
    LedgerConnectionError,
    LedgerError,
    LedgerNotFoundError,
    LmmsEvalError,
    ResultsFormatError,
    ResultsNotReachableError,
    ResultsUnavailableError,
    WaitTimeoutError,
)
from lmms_eval_client.cli.app import app
from lmms_eval_client.cli.connection import Settings, connect
from lmms_eval_client.cli.exit_codes import ExitCode, exit_code_for, one_line, worst
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..results.test_non_finite import write_non_finite
from ..servers import free_port
from .conftest import QWEN_ARGS

COMMANDS = ("health", "models", "tasks", "queue", "submit", "status", "wait", "cancel")
COMMANDS += ("results", "logs")


def env_for(url: str | None, **extra: str | None) -> dict[str, str | None]:
    """CliRunner's environment: no LMMS_EVAL_* setting of the caller's leaks in."""
    names = ("BASE_URL", "BASE_URLS", "API_KEY", "OUTPUT_ROOT", "PATH_MAP")
    env: dict[str, str | None] = {f"LMMS_EVAL_{name}": None for name in names}
    env["LMMS_EVAL_BASE_URL"] = url
    env.update(extra)
    return env


def invoke(args: list[str], url: str | None = None, **env: str | None) -> Result:
    return CliRunner().invoke(app, args, env=env_for(url, **env))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    root = tmp_path_factory.mktemp("server")
    with LocalServer(LocalServerConfig(job_duration=0.05, temp_dir_root=root)) as running:
        yield running


# -- usage errors: exit 2, one line, nothing sent ------------------------------------------

NOWHERE = f"http://127.0.0.1:{free_port()}"  # a request sent there would exit 5, not 2


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["submit", "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained"], "is not key=value"),
        (["submit", "-m", "qwen2_vl", "-t", "mme", "-a", "a=1,a=2"], "given twice"),
        (["submit", "-m", "qwen2_vl", "-t", "mme", "--limit", "all"], "--limit must be"),
        (["submit", "-m", "qwen2_vl", "-t", "mme", "--limit", "-5"], "limit"),
        (["submit", "-m", "qwen2_vl", "-t", ","], "at least one task"),
        (["submit", "-m", "qwen2_vl", "-t", "mme", "--extra-body", "[1]"], "JSON object"),
        (["submit", "-m", "qwen2_vl", "-t", "mme", "--label", "epoch"], "--label"),
        (["-s", NOWHERE, "-s", NOWHERE, "health"], "a server is given twice"),
        (["--timeout", "-1", "health"], "timeout"),
        (["results", "x", "--json", "--csv"], "--json or --csv, not both"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], says: str) -> None:
    result = invoke(args, NOWHERE)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ") and says in line
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ["no-such-command"],
        ["status"],  # a job id is required
        ["submit", "-m", "qwen2_vl"],  # --tasks is required
        ["health", "--no-such-option"],
        ["--timeout", "soon", "health"],
    ],
)
def test_command_line_errors_of_typer_exit_2(args: list[str]) -> None:
    result = invoke(args, NOWHERE)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.stderr


# -- help ----------------------------------------------------------------------------------


def test_the_main_help_lists_every_command_and_the_exit_codes() -> None:
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout
    text = " ".join(result.stdout.split())
    assert "3 cancelled, 4 timeout, 5 server unreachable" in text
    assert "LMMS_EVAL_BASE_URL" in text and "Examples:" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    result = invoke([command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Examples:" in result.stdout
    assert f"lmms-eval-client {command}" in result.stdout
    assert "--json" in result.stdout


def test_no_arguments_shows_the_help() -> None:
    result = invoke([])
    assert "Usage:" in result.output and "submit" in result.output


def test_shell_completion_is_offered() -> None:
    result = invoke(["--help"])
    assert "--install-completion" in result.stdout and "--show-completion" in result.stdout


# -- exit codes ------------------------------------------------------------------------------


def test_exit_codes_are_stable() -> None:
    # Scripts depend on these numbers: change none, only ever add.
    assert {code.name: int(code) for code in ExitCode} == {
        "OK": 0,
        "FAILED": 1,
        "USAGE": 2,
        "CANCELLED": 3,
        "TIMEOUT": 4,
        "UNREACHABLE": 5,
        "RESULTS_NOT_REACHABLE": 6,
        "NOT_FOUND": 7,
        "LOST": 8,
        "INTERRUPTED": 130,
    }


def _job(status: str, error: str | None = None) -> JobInfo:
    return JobInfo.model_validate(
        {
            "job_id": "j1",
            "status": status,
            "created_at": "2026-12-02T05:00:00",
            "request": {"model": "qwen2_vl", "tasks": ["mme"]},
            "error": error,
        }
    )


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidArgumentError("x"), ExitCode.USAGE),
        (JobFailedError("Job failed", job=_job("failed", "boom")), ExitCode.FAILED),
        (JobCancelledError("c", job=_job("cancelled")), ExitCode.CANCELLED),
        (WaitTimeoutError("t", job=None, job_id="j1"), ExitCode.TIMEOUT),
        (APIConnectionError("refused"), ExitCode.UNREACHABLE),
        (APITimeoutError("slow"), ExitCode.UNREACHABLE),
        # (before: 1, a failed job's code; an adversarial try of a PostgreSQL ledger)
        (LedgerConnectionError("down", path="postgresql://h/db"), ExitCode.UNREACHABLE),
        # (before: 1; a missing SQLite file was already 2, the CLI looking for it first)
        (LedgerNotFoundError("none", path="postgresql://h/db?schema=x"), ExitCode.USAGE),
        (LedgerError("other", path="postgresql://h/db?schema=x"), ExitCode.FAILED),
        (ResultsNotReachableError("far"), ExitCode.RESULTS_NOT_REACHABLE),
        (ResultsFormatError("bad"), ExitCode.FAILED),
        (ResultsUnavailableError("none"), ExitCode.FAILED),
        (LmmsEvalError("other"), ExitCode.FAILED),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
)
def test_each_error_has_its_exit_code(error: BaseException, code: ExitCode) -> None:
    assert exit_code_for(error) is code


def test_status_errors_have_theirs() -> None:
    request = httpx.Request("GET", "http://h/jobs/j1")
    missing = JobNotFoundError(
        "Job j1 not found",
        response=httpx.Response(404, request=request),
        detail="Job j1 not found",
        body=None,
        job_id="j1",
    )
    refused = BadRequestError(
        "Cannot cancel",
        response=httpx.Response(400, request=request),
        detail="Cannot cancel a running job",
        body=None,
    )
    assert exit_code_for(missing) is ExitCode.NOT_FOUND
    assert exit_code_for(refused) is ExitCode.FAILED


def test_several_outcomes_give_the_most_severe() -> None:
    assert worst([]) is ExitCode.OK
    assert worst([ExitCode.OK, ExitCode.OK]) is ExitCode.OK
    assert worst([ExitCode.TIMEOUT, ExitCode.CANCELLED]) is ExitCode.CANCELLED
    assert worst([ExitCode.CANCELLED, ExitCode.FAILED, ExitCode.OK]) is ExitCode.FAILED
    assert worst([ExitCode.FAILED, ExitCode.NOT_FOUND]) is ExitCode.NOT_FOUND


def test_a_failed_job_is_one_line_with_its_reason() -> None:
    tail = "Traceback (most recent call last):\n  File x\nRuntimeError: CUDA out of memory\n"
    error = JobFailedError("Job failed: ...\nmany lines", job=_job("failed", tail))
    assert one_line(error) == "job j1 failed: RuntimeError: CUDA out of memory"
    assert one_line(LmmsEvalError("a\n  b\tc")) == "a b c"


# -- the connection ---------------------------------------------------------------------------


def test_connect_one_server_the_environment_or_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LMMS_EVAL_BASE_URL", raising=False)
    with connect(Settings(servers=("http://gpu-box:8000/",))) as client:
        assert isinstance(client, EvalClient) and client.base_url == "http://gpu-box:8000"
    with connect(Settings()) as client:
        assert client.base_url == "http://localhost:8000"
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", "http://from-env:9000")
    with connect(Settings()) as client:
        assert client.base_url == "http://from-env:9000"


def test_without_server_the_pools_variable_makes_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the command line read only $LMMS_EVAL_BASE_URL, so a user whose scripts use
    # EvalPool() with $LMMS_EVAL_BASE_URLS got localhost:8000 from the command line.
    monkeypatch.setenv("LMMS_EVAL_BASE_URL", "http://single:9000")
    monkeypatch.setenv("LMMS_EVAL_BASE_URLS", " http://gpu-1:8000, http://gpu-2:8000 ")
    with connect(Settings()) as pool:
        assert isinstance(pool, EvalPool)
        assert pool.servers == ("http://gpu-1:8000", "http://gpu-2:8000")
    monkeypatch.setenv("LMMS_EVAL_BASE_URLS", "http://gpu-1:8000")  # one: a client
    with connect(Settings()) as client:
        assert isinstance(client, EvalClient) and client.base_url == "http://gpu-1:8000"
    with connect(Settings(servers=("http://flag:8000",))) as client:  # --server wins
        assert isinstance(client, EvalClient) and client.base_url == "http://flag:8000"
    monkeypatch.setenv("LMMS_EVAL_BASE_URLS", "http://gpu-1:8000,not a url")
    with pytest.raises(InvalidArgumentError) as raised:
        connect(Settings())
    assert str(raised.value).startswith("$LMMS_EVAL_BASE_URLS: base_url 'not a url' must be")
    # (the second review) the help it points at is the application's, which names it
    said = invoke(["health"], None, LMMS_EVAL_BASE_URLS="ftp://a")
    assert said.exit_code == 2 and "(see 'lmms-eval-client -h')" in said.output, said.output


@pytest.mark.slow
def test_several_servers_make_a_pool(server: LocalServer, tmp_path: Path) -> None:
    config = LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)
    with LocalServer(config) as other:
        with connect(Settings(servers=(server.url, other.url))) as pool:
            assert isinstance(pool, EvalPool) and pool.servers == (server.url, other.url)
        args = ["-s", server.url, "-s", other.url]
        submitted = invoke([*args, "submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS,
                            "--wait", "--json", "--poll-interval", "0.02"])  # fmt: skip
        assert submitted.exit_code == 0, submitted.stderr
        job = json.loads(submitted.stdout)
        assert job["server"] in (server.url, other.url)
        status = invoke([*args, "status", job["job_id"], "--json"])  # found on its server
        assert status.exit_code == 0 and json.loads(status.stdout)[0]["status"] == "completed"
        queue = invoke([*args, "queue", "--json"])
        assert queue.exit_code == 0 and json.loads(queue.stdout)["completed_jobs"] >= 1


def test_the_api_key_is_never_shown(server: LocalServer) -> None:
    settings = Settings(servers=(server.url,), api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(settings)
    result = invoke(["--api-key", "sk-very-secret", "--debug", "status", "nope"], server.url)
    assert result.exit_code == 7
    assert "sk-very-secret" not in result.output and "sk-very-secret" not in result.stderr


def test_debug_logging_is_undone_after_the_command(server: LocalServer) -> None:
    import logging

    logger = logging.getLogger("lmms_eval_client")
    handlers, level = list(logger.handlers), logger.level
    result = invoke(["--debug", "health"], server.url)
    assert result.exit_code == 0
    assert "lmms_eval_client DEBUG GET" in result.stderr
    assert logger.handlers == handlers and logger.level == level


# -- the runs plug-in point -----------------------------------------------------------------


# -- human output against a local server ----------------------------------------------------


def test_status_shows_the_fields_a_person_needs(server: LocalServer, tmp_path: Path) -> None:
    root = str(tmp_path)
    submitted = invoke(
        ["submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS, "--wait", "--json",
         "--poll-interval", "0.02", "--output-root", root],
        server.url,
    )  # fmt: skip
    assert submitted.exit_code == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job_id"]
    shown = invoke(["status", job_id], server.url)
    fields = dict(line.split(": ", 1) for line in shown.stdout.splitlines())
    assert fields["job"].strip() == job_id and fields["status"].strip() == "completed"
    assert fields["tasks"].strip() == "mme"
    assert fields["results"].strip().startswith(root)
    assert fields["duration"].strip().endswith("s")


def test_a_model_args_without_a_model_name_warns_on_one_line(server: LocalServer) -> None:
    result = invoke(["submit", "-m", "qwen2_vl", "-t", "mme", "-a", "dtype=fp16"], server.url)
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "pretrained" in warnings[0]


def test_queue_shows_counts(server: LocalServer) -> None:
    result = invoke(["queue"], server.url)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].split() == ["server:", server.url]
    assert any(line.startswith("running:") for line in result.stdout.splitlines())


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def test_results_shows_nan_and_infinity(tmp_path: Path) -> None:
    path = str(write_non_finite(tmp_path))  # issue 20, item 8: it crashed with a traceback
    table = invoke(["results", path])
    assert table.exit_code == 0, table.output
    acc = next(line for line in table.stdout.splitlines() if " acc " in line)
    assert acc.split()[-3:] == ["nan", "±", "inf"]
    as_json = invoke(["results", path, "--json"])
    assert as_json.exit_code == 0, as_json.output
    (shown,) = json.loads(as_json.stdout, parse_constant=_no_constant)  # strict JSON
    assert {m["metric"]: m["value"] for m in shown["metrics"]}["f1"] == "-Infinity"
    as_csv = invoke(["results", path, "--csv"])
    assert as_csv.exit_code == 0 and ",NaN,Infinity," in as_csv.stdout


def test_health_wait_gives_each_try_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: each try had the client's 60 s and the last one its retries too, so against
    # a server that accepts and never answers `health --wait 3` ran for four minutes.
    from lmms_eval_client import APITimeoutError, EvalClient

    budgets: list[object] = []

    def is_healthy(self: EvalClient, *, timeout: object = None) -> bool:
        budgets.append(timeout)
        return False

    def health(self: EvalClient, *, timeout: object = None) -> object:
        budgets.append(timeout)
        raise APITimeoutError("GET /health timed out")

    monkeypatch.setattr(EvalClient, "is_healthy", is_healthy)
    monkeypatch.setattr(EvalClient, "health", health)
    done = invoke(["health", "--wait", "0.3"], "http://127.0.0.1:9")
    assert done.exit_code == 5, done.output
    assert budgets and all(isinstance(b, float) and 1.0 <= b <= 1.0 + 1e-6 for b in budgets)


def test_status_json_of_an_answer_nested_too_deep_is_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Before: pydantic's "Maximum serialization depth exceeded" escaped as a traceback.
    from lmms_eval_api.models import JobInfo
    from lmms_eval_client import EvalClient

    from ..support import job_json

    deep: dict[str, object] = {}
    for _ in range(300):
        deep = {"a": deep}
    answer = job_json("running")
    answer["request"] = {**answer["request"], "model_args": deep}
    job = JobInfo.model_validate(answer)
    monkeypatch.setattr(EvalClient, "get_job", lambda self, job_id, **kw: job)
    done = invoke(["status", "job-1", "--json"], "http://127.0.0.1:9")
    assert done.exit_code == 1, done.output
    assert "nests too deeply" in done.output and "Traceback" not in done.output


def test_an_errors_terminal_codes_are_shown_escaped() -> None:
    # Before: a server's detail with ESC ]0;...BEL ESC [2J retitled the window and cleared
    # the screen of whoever ran the command.
    from lmms_eval_client import LmmsEvalError
    from lmms_eval_client.cli.exit_codes import one_line

    line = one_line(LmmsEvalError("refused: \x1b]0;pwned\x07\x1b[2J done"))
    assert "\x1b" not in line and "\x07" not in line
    assert line == "refused: \\x1b]0;pwned\\x07\\x1b[2J done"


def test_health_wait_gives_a_server_that_is_up_the_clients_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The review of fd66128: a server up at the probe got 1 s for its answer and a slow
    # /health made a healthy server "unreachable".
    from lmms_eval_client import EvalClient

    budgets: list[object] = []

    def is_healthy(self: EvalClient, *, timeout: object = None) -> bool:
        return True

    def health(self: EvalClient, **kwargs: object) -> object:
        budgets.append(kwargs.get("timeout", "the client's"))
        raise LmmsEvalError("stop here")

    monkeypatch.setattr(EvalClient, "is_healthy", is_healthy)
    monkeypatch.setattr(EvalClient, "health", health)
    invoke(["health", "--wait", "5"], "http://127.0.0.1:9")
    assert budgets == ["the client's"]
