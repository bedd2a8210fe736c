"""``runs export LEDGER --to tensorboard|mlflow|wandb`` (issue 23): a run's metrics written
to a tracker after the fact, each job at its training step, read back with the tracker's
own reader (TensorBoard's EventAccumulator, MlflowClient, the W&B offline run file). A
writable ledger records what was written, so exporting again writes nothing twice; a
read-only one is only read. Before: exit 2, "No such option: --to".
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun, JobCompleted, MetricRow
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..results._untrusted import counting_listener
from ..runs.test_ledger import read_only_folder
from ..runs.test_sinks import scalars
from ..servers import refused_url
from ..trackers._mlflow import MlflowServer
from ..trackers._wandb_file import points
from .test_commands import invoke

TAG = "eval/mme/exact_match"


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)


@pytest.fixture
def finished_run(local_server: LocalServer, tmp_path: Path) -> tuple[Path, list[MetricRow]]:
    """A ledger of two completed jobs (steps 100 and 200, a checkpoint each), no sinks."""
    ledger = tmp_path / "evals.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        for step in (100, 200):
            args = {"pretrained": f"my-org/ckpt-{step}"}
            run.submit("qwen2_vl", ["mme"], args, labels={"step": step})
        outcomes = list(run.as_completed(timeout=60))
        assert all(isinstance(o, JobCompleted) for o in outcomes), outcomes
        rows = run.metrics()
    return ledger, rows


def expected(rows: list[MetricRow]) -> list[tuple[int, float]]:
    return [(int(r.labels["step"]), round(r.value, 6)) for r in rows if r.value is not None]


def export(ledger: Path, *args: str) -> dict[str, object]:
    done = invoke(["runs", "export", str(ledger), "--json", *args], None)  # no server needed
    assert done.exit_code == 0, done.output
    report: dict[str, object] = json.loads(done.stdout)
    return report


def test_tensorboard_gets_each_job_once_at_its_step(
    finished_run: tuple[Path, list[MetricRow]], tmp_path: Path
) -> None:
    ledger, rows = finished_run
    tb = tmp_path / "tb"
    first = export(ledger, "--to", "tensorboard", "--log-dir", str(tb))
    assert (first["written"], first["skipped"], first["recorded"]) == ([1, 2], [], True)
    assert first["sink"] == f"tensorboard:{tb.resolve()}"
    again = invoke(["runs", "export", str(ledger), "--to", "tensorboard", "--log-dir", str(tb)])
    assert again.exit_code == 0, again.output
    assert "wrote 0 job(s) [], recorded in the ledger" in again.stdout
    assert "2 job(s) already there: [1, 2]" in again.stdout
    assert scalars(tb, TAG) == expected(rows)  # each once

    # A ledger that cannot be written is read: every job written, nothing recorded.
    with read_only_folder(tmp_path / "ro", lambda folder: shutil.copy(ledger, folder)) as folder:
        copy = folder / ledger.name
        other = tmp_path / "tb-ro"
        for _ in range(2):
            report = export(copy, "--to", "tensorboard", "--log-dir", str(other))
            assert (report["written"], report["recorded"]) == ([1, 2], False)
        assert sorted(p.name for p in folder.iterdir()) == [ledger.name]  # nothing written
    assert scalars(other, TAG) == expected(rows) * 2
    no_record = export(ledger, "--to", "tensorboard", "--log-dir", str(tb), "--no-record")
    assert (no_record["written"], no_record["recorded"]) == ([1, 2], False)


def test_a_wrong_step_label_is_a_usage_error_before_the_tracker_is_reached(
    finished_run: tuple[Path, list[MetricRow]], mlflow_env: None
) -> None:
    # Before: the MLflow sink found or created its experiment and run first (a run left
    # behind, and with the tracker down a connection error instead of the usage error).
    ledger, _ = finished_run
    with counting_listener() as (port, arrivals):
        target = ["--to", "mlflow", "--tracking-uri", f"http://127.0.0.1:{port}"]
        target += ["--experiment", "evals", "--step-label", "epoch"]
        wrong = invoke(["runs", "export", str(ledger), *target], None)
        came = arrivals.before_now(port)
    assert wrong.exit_code == 2 and "Job 1 has no label 'epoch'" in wrong.stderr, wrong.output
    assert came == []


def test_a_run_without_step_labels_is_written_at_its_seqs(
    finished_run: tuple[Path, list[MetricRow]], tmp_path: Path
) -> None:
    # Before: a run whose jobs carry no step (or one beyond 64 bits) could not be
    # exported at all: the hint named step_label=None, which no option could say.
    ledger, _ = finished_run
    tb = tmp_path / "tb"
    wrong = invoke(["runs", "export", str(ledger), "--to", "tensorboard", "--log-dir", str(tb),
                    "--step-label", "epoch"])  # fmt: skip
    assert wrong.exit_code == 2 and "--step-label ''" in wrong.stderr, wrong.output
    done = export(ledger, "--to", "tensorboard", "--log-dir", str(tb), "--step-label", "")
    assert done["written"] == [1, 2]
    assert [step for step, _ in scalars(tb, TAG)] == [1, 2]


def test_mlflow_run_is_continued_by_name_without_repeats(
    finished_run: tuple[Path, list[MetricRow]],
    mlflow_server: MlflowServer,
    mlflow_env: None,
) -> None:
    ledger, rows = finished_run
    target = ["--to", "mlflow", "--tracking-uri", mlflow_server.url]
    target += ["--experiment", "evals", "--run-name", "backfill"]
    # A step label of another name: no job has it, nothing written, the error says so.
    wrong = invoke(["runs", "export", str(ledger), *target, "--step-label", "epoch"])
    assert wrong.exit_code == 2 and "Job 1 has no label 'epoch'" in wrong.stderr, wrong.output
    first = export(ledger, *target)
    assert first["written"] == [1, 2]
    second = export(ledger, *target)
    assert (second["written"], second["skipped"]) == ([], [1, 2])
    run_id = str(first["sink"]).rsplit(":", 1)[1]
    # ~4 s to import: only on the worker that runs this test, not at every collection
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_server.url)
    history = [(m.step, round(m.value, 6)) for m in client.get_metric_history(run_id, TAG)]
    print(f"mlflow read-back {TAG}: {history}")
    assert history == expected(rows)


@pytest.mark.slow
def test_wandb_offline_project(
    finished_run: tuple[Path, list[MetricRow]], wandb_offline: Path
) -> None:
    import wandb

    ledger, rows = finished_run
    report = export(ledger, "--to", "wandb", "--project", "sft", "--run-id", "evals-1")
    assert (report["written"], report["sink"]) == ([1, 2], "wandb:/sft/evals-1")
    wandb.teardown()  # its service process has written and closed the run file
    found = [(s, round(v, 6)) for s, v in points(wandb_offline, TAG, "eval/step")]
    assert found == expected(rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--to", "mlflow", "--experiment", "e"], "--to mlflow needs --tracking-uri"),
        (
            ["--to", "mlflow", "--tracking-uri", "http://127.0.0.1:9"],
            "--experiment E or --run-id R",
        ),
        (["--to", "tensorboard"], "--to tensorboard needs --log-dir"),
        (["--to", "wandb"], "--to wandb needs --project"),
        (["--to", "tensorboard", "--log-dir", "x", "--task", "mme"], "not with --csv, --task"),
        # an adversarial try: "" was the working folder ("$UNSET" wrote event files there)
        (["--to", "tensorboard", "--log-dir", ""], "log_dir"),
        # the adversarial try of the sinks: another tracker's options were ignored
        (["--to", "wandb", "--project", "p", "--run-name", "r"], "does not take --run-name"),
        (
            ["--to", "tensorboard", "--log-dir", "x", "--project", "p", "--experiment", "e"],
            "does not take --experiment or --project",
        ),
        (
            ["--to", "mlflow", "--tracking-uri", "http://h", "--run-id", "a", "--run-name", "r"],
            "with run_id= it would be ignored",
        ),
        (
            ["--to", "mlflow", "--tracking-uri", "http://u:s3cret@[::1", "--experiment", "e"],
            "not a URL",
        ),
    ],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    ledger = tmp_path / "evals.sqlite"
    with EvalClient("http://127.0.0.1:9") as client, EvalRun(client, ledger):
        pass  # (an empty ledger)
    done = invoke(["runs", "export", str(ledger), *args])
    assert done.exit_code == 2 and message in done.stderr, done.output


def test_a_tracker_down_is_one_line_without_the_password(
    finished_run: tuple[Path, list[MetricRow]], mlflow_env: None
) -> None:
    # Before: MLflow's own exception escaped as a traceback quoting the tracking URI's
    # user:password.
    ledger, _ = finished_run
    with refused_url() as url:
        uri = url.replace("http://", "http://alice:S3CRETPW@")
        target = ["--to", "mlflow", "--tracking-uri", uri, "--experiment", "evals"]
        down = invoke(["runs", "export", str(ledger), *target], None)
    assert down.exit_code == 1, down.output
    assert "S3CRETPW" not in down.output and "alice" not in down.output
    assert "Traceback" not in down.output
    (line,) = down.stderr.strip().splitlines()
    assert "could not be reached" in line, line


@pytest.mark.slow
@pytest.mark.timeout(120)  # before: MLflow's 7 tries over about 4 minutes, silently
def test_a_tracker_down_is_said_within_seconds_unless_mlflow_is_told_otherwise(
    finished_run: tuple[Path, list[MetricRow]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An adversarial try: a mistyped --tracking-uri held the command for 248 s.
    for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)  # (and restored, whatever the CLI sets)
    ledger, _ = finished_run
    with refused_url() as url:
        target = ["--to", "mlflow", "--tracking-uri", url, "--experiment", "evals"]
        down = invoke(["runs", "export", str(ledger), *target], None)
    assert down.exit_code == 1 and "could not be reached" in down.stderr, down.output
