"""The installed ``lmms-eval-client`` script, run as a subprocess against a local server.

Each test goes through a real process, a real socket and the documented exit codes.
"""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, JobStatus
from lmms_eval_client.testing import JobGate, LocalServer

from ..servers import refused_url
from .conftest import POLL, QWEN_ARGS, SCRIPT, Cli, read_until


def submit_json(cli: Cli, *extra: str) -> dict[str, object]:
    done = cli("submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS, "--json", *extra)
    assert done.returncode == 0, done.stderr
    record: dict[str, object] = json.loads(done.stdout)
    return record


def test_the_script_is_installed_from_pyproject() -> None:
    assert SCRIPT.exists(), "make install writes it (pyproject [project.scripts])"
    done = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.startswith("lmms-eval-client ")


@pytest.mark.slow
def test_submit_wait_results_exit_zero(cli: Cli) -> None:
    done = cli(
        "submit", "-m", "qwen2_vl", "-t", "mme,mmmu_val", "-a", QWEN_ARGS, "--limit", "8",
        "--label", "epoch=3", "--label", "lane=nightly", "--wait", "--poll-interval", POLL,
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["labels"] == {"epoch": "3", "lane": "nightly"}
    assert record["wait"]["outcome"] == "completed"
    assert record["wait"]["exit_code"] == 0
    job = record["wait"]["job"]
    assert job["status"] == "completed"
    assert job["request"]["limit"] == 8
    assert job["request"]["tasks"] == ["mme", "mmmu_val"]
    assert job["request"]["model_args"] == {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
    # the output root (from $LMMS_EVAL_OUTPUT_ROOT) gave the job a folder of its own
    assert job["request"]["output_dir"].startswith(str(cli.output_root))

    shown = cli("results", record["job_id"], "--json")
    assert shown.returncode == 0, shown.stderr
    (results,) = json.loads(shown.stdout)
    by_task = {m["task"]: m for m in results["metrics"]}
    assert set(by_task) == {"mme", "mmmu_val"}
    assert by_task["mme"]["metric"] == "exact_match"
    assert 0 <= by_task["mme"]["value"] <= 1

    table = cli("results", record["job_id"])
    assert table.returncode == 0
    assert "exact_match" in table.stdout and "mmmu_val" in table.stdout

    as_csv = cli("results", record["job_id"], "--csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert {row["task"] for row in rows} == {"mme", "mmmu_val"}
    assert float(rows[0]["value"]) == by_task[rows[0]["task"]]["value"]

    # the same file, read by path, and through its folder
    path = results["path"]
    by_path = cli("results", path, "--json")
    assert json.loads(by_path.stdout)[0]["metrics"] == results["metrics"]
    by_folder = cli("results", job["request"]["output_dir"], "--json")
    assert json.loads(by_folder.stdout)[0]["path"] == path


@pytest.mark.slow
def test_human_submit_prints_id_and_labels(cli: Cli) -> None:
    done = cli("submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS, "-l", "epoch=3")
    assert done.returncode == 0, done.stderr
    first, labels = done.stdout.splitlines()
    assert first.startswith("submitted ") and cli.url is not None and cli.url in first
    assert labels == "labels: epoch=3"
    quiet = cli("submit", "-m", "qwen2_vl", "-t", "mme", "-a", QWEN_ARGS, "-q")
    (job_id,) = quiet.stdout.split()
    assert len(job_id) == 36


@pytest.mark.slow
def test_model_args_in_json_and_lmms_eval_syntax_reach_the_server(cli: Cli) -> None:
    record = submit_json(cli, "-a", "dtype=bfloat16,max_pixels=1024,use_flash=true")
    status = cli("status", str(record["job_id"]), "--json")
    (job,) = json.loads(status.stdout)
    assert job["request"]["model_args"] == {
        "pretrained": "Qwen/Qwen2-VL-2B-Instruct",
        "dtype": "bfloat16",
        "max_pixels": 1024,
        "use_flash": True,
    }
    other = cli(
        "submit", "-m", "qwen2_vl", "-t", "mme", "--json",
        "-a", '{"pretrained": "org/x", "nested": {"a": [1, 2]}}',
    )  # fmt: skip
    job_id = json.loads(other.stdout)["job_id"]
    (job,) = json.loads(cli("status", job_id, "--json").stdout)
    assert job["request"]["model_args"] == {"pretrained": "org/x", "nested": {"a": [1, 2]}}


@pytest.mark.slow
def test_a_failed_job_exits_1_with_the_reason_on_one_line(cli: Cli) -> None:
    done = cli(
        "submit", "-m", "qwen2_vl", "-t", "mme", "-a", f"{QWEN_ARGS},sim_outcome=fail",
        "-a", "sim_error=CUDA out of memory", "--wait", "--poll-interval", POLL,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "failed" in done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1
    with_json = cli(
        "submit", "-m", "qwen2_vl", "-t", "mme", "-a", f"{QWEN_ARGS},sim_outcome=fail",
        "--wait", "--poll-interval", POLL, "--json",
    )  # fmt: skip
    assert with_json.returncode == 1
    wait = json.loads(with_json.stdout)["wait"]
    assert wait["outcome"] == "failed" and wait["exit_code"] == 1
    assert "\n" not in wait["error"] and wait["job"]["status"] == "failed"
    status = cli("status", wait["job_id"])
    assert "error:" in status.stdout


@pytest.mark.slow
def test_a_cancelled_job_exits_3_and_a_running_one_cannot_be_cancelled(
    gated_cli: Cli, gated_server: LocalServer, gate: JobGate
) -> None:
    running = submit_json(gated_cli)["job_id"]
    gate.wait_until_held()
    queued = submit_json(gated_cli)["job_id"]
    assert isinstance(running, str) and isinstance(queued, str)

    queue = json.loads(gated_cli("queue", "--json").stdout)
    assert queue["running_job"] == running and queue["queued_jobs"] == [queued]

    refused = gated_cli("cancel", running, "--json")
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == [
        {"job_id": running, "cancelled": False, "error": json.loads(refused.stdout)[0]["error"]}
    ]
    assert "running" in json.loads(refused.stdout)[0]["error"]

    cancelled = gated_cli("cancel", queued)
    assert cancelled.returncode == 0, cancelled.stderr
    assert cancelled.stdout.strip() == f"cancelled {queued}"

    waited = gated_cli("wait", queued, "--json", "--poll-interval", POLL)
    assert waited.returncode == 3
    (record,) = json.loads(waited.stdout)
    assert record["outcome"] == "cancelled" and record["exit_code"] == 3


@pytest.mark.slow
def test_a_wait_timeout_exits_4_and_the_job_goes_on(
    gated_cli: Cli, gated_server: LocalServer, gate: JobGate
) -> None:
    job_id = str(submit_json(gated_cli)["job_id"])
    gate.wait_until_held()
    done = gated_cli("wait", job_id, "--timeout", "0.3", "--poll-interval", POLL, "--json")
    assert done.returncode == 4, done.stderr
    (record,) = json.loads(done.stdout)
    assert record["outcome"] == "timeout"
    assert "did not finish within 0.3 s" in record["error"]
    with EvalClient(gated_server.url) as client:
        assert client.get_job(job_id).status == JobStatus.RUNNING
    # several jobs: the most severe outcome decides (timeout 4 over completed 0)
    gate.release()
    with EvalClient(gated_server.url) as client:
        client.wait_for_job(job_id, poll_interval=0.05, verbose=False)
    again = gated_cli("wait", job_id, "--quiet", "--poll-interval", POLL)
    assert again.returncode == 0
    assert "completed" in again.stdout


@pytest.mark.slow
def test_an_unreachable_server_exits_5(output_root: Path) -> None:
    with refused_url() as url:
        nobody = Cli(url, output_root)
        for args in (("health",), ("wait", "some-job"), ("queue", "--json")):
            done = nobody(*args)
            assert done.returncode == 5, (args, done.stderr)
            assert done.stdout == ""
            (line,) = done.stderr.splitlines()  # one readable line, no traceback
            assert line.startswith("error: ") and "Connection refused" in line


@pytest.mark.slow
def test_an_unknown_job_exits_7(cli: Cli) -> None:
    done = cli("status", "no-such-job")
    assert done.returncode == 7
    (line,) = done.stderr.splitlines()
    assert "not found" in line
    waited = cli("wait", "no-such-job", "--json")
    assert waited.returncode == 7
    assert json.loads(waited.stdout)[0]["outcome"] == "not_found"


@pytest.mark.slow
def test_debug_adds_the_traceback(cli: Cli) -> None:
    plain = cli("status", "no-such-job")
    assert "Traceback" not in plain.stderr
    debug = cli("--debug", "status", "no-such-job")
    assert debug.returncode == 7
    assert "Traceback (most recent call last)" in debug.stderr
    assert "JobNotFoundError" in debug.stderr


@pytest.mark.slow
def test_ctrl_c_stops_waiting_without_cancelling(
    gated_cli: Cli, gated_server: LocalServer, gate: JobGate
) -> None:
    job_id = str(submit_json(gated_cli)["job_id"])
    gate.wait_until_held()
    process = gated_cli.start("wait", job_id, "--quiet", "--poll-interval", POLL)
    try:
        assert process.stdout is not None and process.stderr is not None
        read_until(process.stdout, "running")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 130
    assert "Stopped waiting (Ctrl+C)" in stderr and "not cancelled" in stderr
    assert f"lmms-eval-client wait {job_id}" in stderr
    with EvalClient(gated_server.url) as client:
        assert client.get_job(job_id).status == JobStatus.RUNNING


@pytest.mark.slow
def test_health_models_tasks_queue_in_json(cli: Cli) -> None:
    health = json.loads(cli("health", "--json").stdout)
    assert health["status"] == "healthy" and health["server"] == cli.url
    models = json.loads(cli("models", "qwen2", "--json").stdout)
    assert "qwen2_vl" in models and all("qwen2" in m for m in models)
    tasks = json.loads(cli("tasks", "mmmu_val*", "--json").stdout)
    assert "mmmu_val" in tasks and all(t.startswith("mmmu_val") for t in tasks)
    lines = cli("tasks", "mmmu_val*").stdout.splitlines()
    assert lines == tasks
    queue = json.loads(cli("queue", "--json").stdout)
    assert queue["queue_size"] == 0 and queue["running_job"] is None


@pytest.mark.slow
def test_health_wait_rides_out_a_server_not_up_yet(output_root: Path) -> None:
    with refused_url() as url:
        done = Cli(url, output_root)("health", "--wait", "0.5")
    assert done.returncode == 5  # still not up after the wait: unreachable


@pytest.mark.slow
def test_logs_tail_and_follow(gated_cli: Cli, gate: JobGate) -> None:
    job_id = str(submit_json(gated_cli)["job_id"])
    gate.wait_until_held()
    process = gated_cli.start("logs", job_id, "--follow", "--poll-interval", POLL)
    try:
        gate.release()
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill() if process.poll() is None else None
    assert process.returncode == 0, stderr
    lines = stdout.splitlines()
    assert any("Saving results aggregated" in line for line in lines)
    assert len(lines) == len(set(lines)), "no line printed twice"
    tail = gated_cli("logs", job_id, "-n", "2", "--json")
    assert tail.returncode == 0, tail.stderr
    record = json.loads(tail.stdout)
    assert record["job_id"] == job_id and record["lines"] == lines[-2:]


@pytest.mark.slow
def test_logs_follow_json_is_one_object_per_line(cli: Cli) -> None:
    done = cli(
        "submit", "-m", "qwen2_vl", "-t", "mme", "-a", f"{QWEN_ARGS},sim_outcome=fail",
        "--wait", "--poll-interval", POLL, "--json",
    )  # fmt: skip
    job_id = json.loads(done.stdout)["job_id"]
    followed = cli("logs", job_id, "--follow", "--json", "-n", "3")
    assert followed.returncode == 1  # the job's outcome: failed
    records = [json.loads(line) for line in followed.stdout.splitlines()]
    assert [set(r) for r in records[:-1]] == [{"line"}] * 3
    assert records[-1] == {"job_id": job_id, "status": "failed"}


def test_results_of_a_file_that_does_not_exist_exits_6(cli: Cli, tmp_path: Path) -> None:
    done = cli("results", str(tmp_path / "nowhere" / "x_results.json"))
    assert done.returncode == 6, done.stderr
    (line,) = done.stderr.splitlines()
    assert "nowhere" in line


def test_the_sdk_never_imports_the_cli_libraries() -> None:
    # httpx itself imports rich and click when they are installed (for its own `httpx`
    # command), so the check is: nothing beyond what `import httpx` brings, and no typer.
    code = (
        "import sys\n"
        "import httpx, pydantic\n"
        "before = set(sys.modules)\n"
        "import lmms_eval_client as m\n"
        "for name in m.__all__: getattr(m, name)\n"
        "new = set(sys.modules) - before\n"
        "bad = sorted(n for n in new if n.split('.')[0] in {'typer', 'rich', 'click'}"
        " or n.startswith('lmms_eval_client.cli'))\n"
        "assert not bad, bad\n"
        "assert 'typer' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_clicks_usage_errors_are_one_error_line_exit_2() -> None:
    # Before: "Usage: ...", "Try ...", then the message in a framed box (five lines): every
    # other error of the command line is one line (an adversarial try).
    cli = Cli(url="http://127.0.0.1:9", output_root=None)  # nothing is sent
    for args, says in [
        (["logs", "j1", "-n", "-1"], "-1 is not in the range"),
        (["nosuchcmd"], "No such command 'nosuchcmd'"),
        (["submit", "-t", "mme"], "Missing option '--model'"),
        (["runs"], "Missing command"),
    ]:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
        assert says in done.stderr and "-h')" in done.stderr and done.stdout == ""
    bare = cli()  # no command: the help, as before
    assert bare.returncode == 2 and "Commands" in bare.stdout and bare.stderr == ""
