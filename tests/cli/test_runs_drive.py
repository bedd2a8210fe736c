"""The command line drives a run ledger (issue 21): ``runs submit`` records labels and keys,
``runs ls --refresh`` polls once, ``runs watch`` polls and harvests until nothing is pending
(exit code from the run's states), ``runs export`` prints the metrics table read-only.

In process (typer's CliRunner) against a local server per test; the ledger is checked with
EvalRun itself.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from lmms_eval_client import EvalClient, EvalRun
from lmms_eval_client.testing import JobGate, LocalServer, LocalServerConfig

from ..faults import Script, on, proxy, respond
from ..runs.test_ledger import read_only_folder
from ..servers import refused_url
from .test_commands import invoke

POLL = ["--poll-interval", "0.02"]


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    return LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    return tmp_path / "evals.sqlite"


def submit(ledger: Path, url: str | None, *extra: str) -> dict[str, object]:
    """``runs submit LEDGER ... --json``; the tracked job it printed."""
    model_args = [] if "-a" in extra else ["-a", "pretrained=org/model"]
    args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "--json", *model_args]
    args += extra
    done = invoke(args, url)
    assert done.exit_code == 0, done.output
    record: dict[str, object] = json.loads(done.stdout)
    return record


def track(ledger: Path, url: str, **labels: object) -> str:
    """Submit one job into the ledger with EvalRun itself (not the command under test)."""
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        job = run.submit("qwen2_vl", ["mme"], {"pretrained": "org/model"}, labels=labels)
    return str(job.job_id)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_runs_submit_records_the_labels_in_the_ledger(
    local_server: LocalServer, ledger: Path
) -> None:
    """Before: exit 2, "No such command 'submit'" (``submit --label`` only echoed them)."""
    url = local_server.url
    first = submit(ledger, url, "-a", "pretrained=ckpt/step-100", "--label", "step=100,lane=a")
    assert first["seq"] == 1 and first["submitted"] is True
    human = invoke(
        ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "-l", "step=2"], None
    )
    assert human.exit_code == 0, human.output  # no --server: the ledger's server
    assert human.stdout.startswith("submitted seq 2: job ") and "labels step=2" in human.stdout
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        jobs = run.jobs()
    assert [job.labels for job in jobs] == [{"step": "100", "lane": "a"}, {"step": "2"}]
    assert jobs[0].request.model_args == {"pretrained": "ckpt/step-100"}
    assert jobs[0].job_id == first["job_id"] and jobs[0].server == url


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--key", ""], "key must be"),
        (["--key", "a\nb"], "key must be"),
        (["--num-fewshot", "-5"], "num_fewshot must be"),
        (["--limit", "nan"], "limit must be"),
        (["-m", ""], "model must be"),
        (["-a", '{"temperature": NaN}'], "model_args must be JSON-serialisable"),
        (["-l", "step=\x00"], "NUL character"),
    ],
)
def test_runs_submit_refuses_bad_input_before_the_ledger_is_created(
    local_server: LocalServer, ledger: Path, extra: list[str], says: str
) -> None:
    # Before: exit 2 after the ledger was created (an adversarial try).
    args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=x"]
    done = invoke([*args, *extra], local_server.url)
    assert done.exit_code == 2 and says in done.output, done.output
    assert not ledger.exists()


def test_runs_submit_with_a_key_twice_sends_once(local_server: LocalServer, ledger: Path) -> None:
    """Needs ``EvalRun.submit(..., key=)`` (issue 21's keys): until then, a TypeError."""
    url = local_server.url
    first = submit(ledger, url, "--key", "step-100", "-l", "step=100")
    args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=o/m"]
    again = invoke([*args, "--key", "step-100", "-l", "step=100"], url)
    assert again.exit_code == 0, again.output
    assert "already submitted under key step-100: seq 1" in again.stdout
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        jobs = run.jobs()
    assert [(job.seq, job.key, job.job_id) for job in jobs] == [(1, "step-100", first["job_id"])]
    with EvalClient(url) as client:
        queue = client.get_queue_status()
    held = queue.queue_size + (queue.running_job is not None)
    assert held + queue.completed_jobs + queue.failed_jobs == 1  # the server got one job


def test_ls_refresh_polls_once_and_records_what_changed(
    local_server: LocalServer, ledger: Path
) -> None:
    """Before: exit 2, "No such option: --refresh" (and ``runs ls`` showed queued for jobs
    long done)."""
    url = local_server.url
    job_id = track(ledger, url, step=1)
    with EvalClient(url) as client:
        client.wait_for_job(job_id, poll_interval=0.02, timeout=60)
    stale = invoke(["runs", "ls", str(ledger), "--json"], url)
    assert [j["state"] for j in json.loads(stale.stdout)] == ["queued"]  # read-only: as it was
    fresh = invoke(["runs", "ls", str(ledger), "--refresh", "--json"], url)
    assert fresh.exit_code == 0, fresh.output
    assert [j["state"] for j in json.loads(fresh.stdout)] == ["completed"]
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        assert [outcome.kind for outcome in run.harvest()] == ["completed"]  # left to harvest


def test_watch_harvests_until_nothing_is_pending_and_exits_with_the_runs_state(
    local_server: LocalServer, ledger: Path
) -> None:
    """Before: exit 2, "No such command 'watch'"."""
    url = local_server.url
    submit(ledger, url, "-a", "pretrained=org/a,sim_duration=0.3", "-l", "step=1")
    submit(ledger, url, "-a", "pretrained=org/b,sim_outcome=fail", "-l", "step=2")
    done = invoke(["runs", "watch", str(ledger), "--json", *POLL], url)
    assert done.exit_code == 1, done.output  # one job failed
    lines = json_lines(done.stdout)
    outcomes = {line["seq"]: line for line in lines if line["event"] == "outcome"}
    assert {seq: line["kind"] for seq, line in outcomes.items()} == {1: "completed", 2: "failed"}
    assert outcomes[1]["labels"] == {"step": "1"} and outcomes[1]["summary"]
    assert "Simulated evaluation failure" in str(outcomes[2]["detail"])
    assert lines[-1] == {"event": "end", "exit_code": 1, "pending": 0}
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        assert all(job.harvested for job in run.jobs()) and run.harvest() == []
    again = invoke(["runs", "watch", str(ledger), *POLL], url)  # nothing new: the same state
    assert again.exit_code == 1 and "completed" not in again.stdout, again.output


def test_watch_exits_0_when_every_job_completed_and_finds_the_servers_in_the_ledger(
    local_server: LocalServer, ledger: Path
) -> None:
    track(ledger, local_server.url, step="1")
    done = invoke(["runs", "watch", str(ledger), "--no-harvest", *POLL], None)  # no --server
    assert done.exit_code == 0, done.output
    assert "seq 1 [step=1] completed: mme exact_match,none=" in done.stdout
    with EvalClient(local_server.url) as client, EvalRun(client, ledger) as run:
        assert [outcome.kind for outcome in run.harvest()] == ["completed"]  # --no-harvest


def test_watch_in_a_terminal_draws_the_runs_table(local_server: LocalServer, ledger: Path) -> None:
    track(ledger, local_server.url, step="1")
    env = {"TTY_COMPATIBLE": "1", "COLUMNS": "160"}  # rich: a terminal
    done = invoke(["runs", "watch", str(ledger), *POLL], local_server.url, **env)
    assert done.exit_code == 0, done.output
    assert "nothing pending (1 completed)" in done.stdout
    last = done.stdout.split("SEQ")[-1]  # the last frame stays on the screen
    assert "step=1" in last and "completed" in last and "exact_match,none=" in last


def test_watch_exits_8_when_a_job_was_lost(tmp_path: Path, ledger: Path) -> None:
    config = LocalServerConfig(job_duration=0.02, temp_dir_root=tmp_path, max_completed_jobs=1)
    with LocalServer(config) as server:
        first = submit(ledger, server.url, "-l", "step=1")
        second = submit(ledger, server.url, "-l", "step=2")
        assert first["seq"] == 1
        with EvalClient(server.url) as client:  # the second's end evicts the first
            client.wait_for_job(str(second["job_id"]), poll_interval=0.02, timeout=60)
        done = invoke(["runs", "watch", str(ledger), "--json", *POLL], server.url)
    assert done.exit_code == 8, done.output
    kinds = {line["seq"]: line["kind"] for line in json_lines(done.stdout) if "kind" in line}
    assert kinds[1] == "lost" and kinds[2] == "completed"


def test_watch_timeout_exits_4_and_the_jobs_go_on(
    gated_server: LocalServer, gate: JobGate, ledger: Path
) -> None:
    submit(ledger, gated_server.url, "-l", "step=1")
    done = invoke(["runs", "watch", str(ledger), "--json", "--timeout", "0.2", *POLL],
                  gated_server.url)  # fmt: skip
    assert done.exit_code == 4, done.output
    lines = json_lines(done.stdout)
    assert lines[-1] == {"event": "end", "exit_code": 4, "pending": 1}
    (state,) = [line for line in lines if line["event"] == "state"]
    assert state["seq"] == 1 and state["state"] in ("queued", "running")
    assert state["labels"] == {"step": "1"} and state["key"] is None
    gate.release()
    finished = invoke(["runs", "watch", str(ledger), *POLL], gated_server.url)
    assert finished.exit_code == 0, finished.output


def test_watch_says_which_pending_jobs_no_server_given_can_poll(
    local_server: LocalServer, ledger: Path
) -> None:
    submit(ledger, local_server.url, "-a", "pretrained=org/a,sim_duration=30", "-l", "step=1")
    with refused_url() as elsewhere:
        done = invoke(["--server", elsewhere, "runs", "watch", str(ledger), "--json", *POLL], None)
    assert done.exit_code == 4, done.output  # not watched: still pending
    assert f"1 pending job(s) (seq 1) are on {local_server.url}" in done.stderr
    assert json_lines(done.stdout)[-1]["pending"] == 1


def test_the_driving_commands_need_an_existing_ledger_but_submit(tmp_path: Path) -> None:
    missing = tmp_path / "nope.sqlite"
    for command in (["watch"], ["ls", "--refresh"], ["export", "--csv"]):
        done = invoke(["runs", command[0], str(missing), *command[1:]], "http://127.0.0.1:9")
        assert done.exit_code == 2 and "no run ledger" in done.stderr, command
    assert not missing.exists()


def test_export_prints_the_metrics_table_with_labels_as_columns(
    local_server: LocalServer, ledger: Path, tmp_path: Path
) -> None:
    """Before: exit 2, "No such command 'export'"."""
    url = local_server.url
    for step in (100, 200):
        submit(ledger, url, "-a", f"pretrained=ckpt/step-{step}", "-l", f"step={step},lane=a")
    submit(ledger, url, "-a", "pretrained=ckpt/bad,sim_outcome=fail", "-l", "step=300")
    assert invoke(["runs", "watch", str(ledger), "--json", *POLL], url).exit_code == 1
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        run.record_summary(
            2, {"ckpt__step-200": {"mme": {"acc,none": 0.5, "acc_stderr,none": 0.1}}}
        )
    with read_only_folder(tmp_path / "ro", lambda folder: shutil.copy(ledger, folder)) as folder:
        copy = str(folder / ledger.name)
        as_csv = invoke(["runs", "export", copy, "--csv"], "http://127.0.0.1:9")  # no server
        as_json = invoke(["runs", "export", copy, "--json", "--metric", "acc"], None)
        only = invoke(["runs", "export", copy, "--csv", "--task", "nope"], None)
        assert sorted(p.name for p in folder.iterdir()) == [ledger.name]  # nothing written
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == ["seq", "key", "step", "lane", "model", "task", "metric", "filter",
                             "value", "stderr", "higher_is_better"]  # fmt: skip
    assert [(r["seq"], r["step"], r["model"], r["metric"]) for r in rows] == [
        ("1", "100", "ckpt__step-100", "exact_match"),
        ("2", "200", "ckpt__step-200", "acc"),
    ]
    assert rows[1]["value"] == "0.5" and rows[1]["stderr"] == "0.1"
    assert float(rows[0]["stderr"]) > 0 and rows[0]["higher_is_better"] == "True"  # the results'

    (record,) = json.loads(as_json.stdout)
    assert record["labels"] == {"step": "200", "lane": "a"} and record["task"] == "mme"
    assert {"seq", "key", "job_id", "server", "value", "stderr", "higher_is_better"} <= set(record)
    assert only.exit_code == 0 and only.stdout.count("\n") == 1  # the header alone


def test_a_key_another_process_took_in_between_is_not_said_submitted(
    local_server: LocalServer, ledger: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the command read the ledger for the key, then submitted: another process
    # submitting under the same key in between sent the job, and both said "submitted"
    # (8 processes at once: 2 said so; an adversarial try).
    url = local_server.url
    real_submit = EvalRun.submit
    racing: list[EvalRun] = []

    def another_process_first(self: EvalRun, *args: object, **kwargs: object) -> object:
        if not racing:  # a run of another process submits under the key first
            with EvalClient(url) as client, EvalRun(client, ledger) as other:
                racing.append(other)
                real_submit(other, "qwen2_vl", ["mme"], {"pretrained": "o/m"}, key="k")
        return real_submit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(EvalRun, "submit", another_process_first)
    args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=o/m"]
    done = invoke([*args, "--key", "k", "--json"], url)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["submitted"] is False
    with EvalClient(url) as client, EvalRun(client, ledger) as run:
        assert len(run.jobs()) == 1


@pytest.mark.parametrize("cause", ["database restarting", "disk full"])
def test_a_job_the_ledger_could_not_record_yet_is_recorded_when_it_can(
    local_server: LocalServer, ledger: Path, monkeypatch: pytest.MonkeyPatch, cause: str
) -> None:
    # Before: the database down between the send and the answer, the command exited 1
    # with the job id and closed; a run reopened later could not tell a finished job as
    # its own and marked it lost (an adversarial try). Now it waits for the ledger. (A
    # full disk, freed meanwhile, was not waited for: a later adversarial try.)
    from lmms_eval_client import LedgerConnectionError, LedgerFullError
    from lmms_eval_client._runs.ledger import Ledger
    from lmms_eval_client.cli import run_commands

    real_record = Ledger.record_answer
    down = [True]
    error = LedgerConnectionError if cause == "database restarting" else LedgerFullError

    def record_answer(self: Ledger, *args: object, **kwargs: object) -> object:
        if down[0]:
            raise error(f"the {cause}", path=str(ledger))
        return real_record(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "record_answer", record_answer)
    monkeypatch.setattr(run_commands, "_sleep", lambda seconds: down.clear() or down.append(False))
    args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=o/m"]
    done = invoke([*args, "--key", "k", "--json"], local_server.url)
    assert done.exit_code == 0, done.output
    said = json.loads(done.stdout)
    assert said["submitted"] is True and said["job_id"] and said["state"] != "submitting"
    assert "its ledger cannot record it yet" in done.stderr


def test_a_key_sent_again_after_a_refusal_leaves_the_run_complete(
    local_server: LocalServer, ledger: Path
) -> None:
    # Before: the first attempt stayed "unsent" (its key passed to the second), and every
    # runs watch of the ledger exited 1 although each submission had completed.
    refuse_once = Script(respond(422, b'{"detail": "bad"}', content_type="application/json"),
                         match=on("POST"))  # fmt: skip
    with proxy(local_server.url, refuse_once) as p:  # type: ignore[arg-type]
        args = ["runs", "submit", str(ledger), "-m", "qwen2_vl", "-t", "mme"]
        args += ["-a", "pretrained=o/m", "--key", "step-1", "-l", "step=1"]
        assert invoke(args, p.url).exit_code == 1
        assert invoke(args, p.url).exit_code == 0
        done = invoke(["runs", "watch", str(ledger), "--json", *POLL], p.url)
    assert done.exit_code == 0, done.output
    assert json_lines(done.stdout)[-1] == {"event": "end", "exit_code": 0, "pending": 0}


@pytest.mark.parametrize(
    "command", [["runs", "watch", "--timeout", "0.2", *POLL], ["runs", "ls", "--refresh"]]
)
@pytest.mark.slow
def test_a_server_that_cannot_be_reached_is_said_so(ledger: Path, command: list[str]) -> None:
    # Before: only under --debug; runs watch went on polling silently, exit 4 at its
    # timeout, and runs ls --refresh showed the last known states, exit 0.
    with LocalServer(LocalServerConfig(job_duration=600)) as gone:
        url = gone.url
        track(ledger, url)
    done = invoke([*command[:2], str(ledger), *command[2:]], url)
    said = f"WARNING: Evaluation run {str(ledger)!r}: reading the queue of {url} failed"
    assert done.stderr.count(said) == 1  # (runs watch: once, not at each poll)
    assert "Connection refused" in done.stderr


def test_rehome_moves_the_jobs_of_a_server_that_moved_and_watch_polls_them_there(
    local_server: LocalServer, ledger: Path
) -> None:
    # Before: exit 2, "No such command 'rehome'": from the command line, the jobs of a
    # server now at another address could not be followed (EvalRun.rehome only).
    with proxy(local_server.url) as old:  # the address the jobs were sent to
        submit(ledger, old.url, "-l", "step=1")
        submit(ledger, old.url, "-l", "step=2")
    new = local_server.url
    unwatched = invoke(["--server", new, "runs", "watch", str(ledger), "--timeout", "0"], None)
    assert unwatched.exit_code == 4, unwatched.output
    assert f"runs rehome {ledger} OLD NEW" in unwatched.stderr
    done = invoke(["runs", "rehome", str(ledger), old.url, new, "--json"], None)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"moved": [1, 2], "old": old.url, "new": new,
                                       "ledger": str(ledger)}  # fmt: skip
    watched = invoke(["--server", new, "runs", "watch", str(ledger), "--json", *POLL], None)
    assert watched.exit_code == 0, watched.output
    again = invoke(["runs", "rehome", str(ledger), old.url, new], None)
    assert again.exit_code == 0, again.output
    assert again.stdout == f"no job of {ledger} is recorded on {old.url}: nothing moved\n"
    # The runs CLI's adversarial try: OLD the jobs' own server (as spelt, or as localhost)
    # said "no job ... is recorded on OLD", every job being recorded there.
    port = new.rsplit(":", 1)[1]
    for spelt in (new, f"http://localhost:{port}"):
        same = invoke(["runs", "rehome", str(ledger), spelt, new], None)
        assert same.exit_code == 0, same.output
        assert same.stdout == f"{spelt} and {new} name one server: nothing moved\n"


def test_rehome_refuses_bad_input_before_writing(local_server: LocalServer, ledger: Path) -> None:
    with proxy(local_server.url) as old:
        submit(ledger, old.url)
    missing = ledger.with_name("nope.sqlite")
    done = invoke(["runs", "rehome", str(missing), old.url, local_server.url], None)
    assert done.exit_code == 2 and "no run ledger" in done.stderr, done.output
    assert not missing.exists()
    for args in (["not a url", local_server.url], [old.url, "ftp://elsewhere"]):
        bad = invoke(["runs", "rehome", str(ledger), *args], None)
        assert bad.exit_code == 2, bad.output
    listed = invoke(["runs", "ls", str(ledger), "--json"], None)
    assert [job["server"] for job in json.loads(listed.stdout)] == [old.url]
    with_password = "http://me:hunter2hunter2@127.0.0.1:9"
    for args in ([with_password, local_server.url], [old.url, with_password]):
        said = invoke(["runs", "rehome", str(ledger), *args], None)
        assert "hunter2" not in said.output, said.output
