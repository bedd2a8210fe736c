"""Every command that takes a run ledger takes a PostgreSQL URL as well as a SQLite file
(issue 26), and ``$LMMS_EVAL_LEDGER`` as its default; no output ever shows the URL's
password.

Before: each of them exited 2 with "there is no run ledger at 'postgresql:/lmms:PASSWORD@
127.0.0.1:PORT/postgres?schema=...'": the LEDGER argument was a ``Path``, which collapsed
``postgresql://`` to ``postgresql:/`` (a file that does not exist), and the error printed the
password.

The read-only commands run over one finished run in a PostgreSQL schema (made by EvalRun on
a local server) and its copy in a SQLite file: they must print the same. The commands that
write (submit, watch, ls --refresh, export --to) get a fresh schema each.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import Result

from lmms_eval_client import EvalClient, EvalRun, JobCompleted, LedgerNotFoundError
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.ledger_copy import copy_ledger
from lmms_eval_client._runs.postgres.url import parse_url
from lmms_eval_client.testing import LocalServer, LocalServerConfig

from ..postgres import PostgresServer, dump_schema
from ..runs.test_sinks import scalars
from ..watch.conftest import write_checkpoint
from ..watch.test_cli_watch import MAIN, interrupt, read_until
from .test_commands import invoke

POLL = ["--poll-interval", "0.02"]


@dataclass
class Run:
    """One finished run, in a PostgreSQL schema (``url``) and copied into a file."""

    url: str
    file: Path
    server: str
    password: str

    @property
    def shown(self) -> str:
        return parse_url(self.url).shown


def ok(done: Result, password: str) -> Result:
    """The command succeeded, and said nothing of the password."""
    assert done.exit_code == 0, done.output
    assert password not in done.stdout and password not in done.stderr
    return done


@pytest.fixture
def server_config(tmp_path: Path) -> LocalServerConfig:
    """``local_server``'s jobs take 0.1 s, not 5: these tests wait for them to end."""
    return LocalServerConfig(job_duration=0.1, temp_dir_root=tmp_path)


@pytest.fixture(scope="module")
def run(postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """Steps 1 and 2 completed (keys step-1, step-2, samples logged) on a local server."""
    root = tmp_path_factory.mktemp("pgrun")
    url = f"{postgres_server.url}?schema=t_cli_{secrets.token_hex(6)}"
    with LocalServer(LocalServerConfig(job_duration=0.02, temp_dir_root=root)) as server:
        with EvalClient(server.url) as client, EvalRun(client, url, poll_interval=0.02) as made:
            for step in (1, 2):
                made.submit(
                    "qwen2_vl", ["mme"], {"pretrained": f"org/ckpt-{step}"}, limit=10,
                    labels={"step": step}, key=f"step-{step}",
                )  # fmt: skip
            assert all(isinstance(o, JobCompleted) for o in made.as_completed(timeout=60))
        file = root / "copy.sqlite"
        copy_ledger(url, str(file))
        yield Run(url=url, file=file, server=server.url, password=postgres_server.password)


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "ls", "{}"],
        ["runs", "ls", "{}", "--json"],
        ["runs", "show", "{}", "2"],
        ["runs", "show", "{}", "1", "--json"],
        ["runs", "export", "{}"],
        ["runs", "export", "{}", "--csv"],
        ["runs", "export", "{}", "--json", "--metric", "exact_match"],
        ["compare", "--ledger", "{}", "step-1", "2", "--json"],
    ],
)
def test_a_url_reads_as_its_file_copy(run: Run, args: list[str]) -> None:
    """Before: exit 2, "there is no run ledger at 'postgresql:/lmms:PASSWORD@..."."""
    over_url = ok(invoke([a.replace("{}", run.url) for a in args], None), run.password)
    over_file = ok(invoke([a.replace("{}", str(run.file)) for a in args], None), run.password)
    assert over_url.stdout == over_file.stdout and over_url.stdout.strip()


def test_the_ledger_env_var_may_be_a_url(run: Run) -> None:
    env = {"LMMS_EVAL_LEDGER": run.url}
    for given, default in [
        (["runs", "ls", run.url, "--json"], ["runs", "ls", "--json"]),
        (["runs", "show", run.url, "2"], ["runs", "show", "2"]),
        (["runs", "export", run.url, "--csv"], ["runs", "export", "--csv"]),
    ]:
        expected = ok(invoke(given, None), run.password).stdout
        assert ok(invoke(default, None, **env), run.password).stdout == expected, default
    shown = ok(invoke(["runs", "show", run.url, "2"], None), run.password).stdout
    file = ok(invoke(["runs", "show", str(run.file), "2"], None, **env), run.password)
    assert file.stdout == shown  # an argument given wins over the variable
    none = invoke(["runs", "show"], None, **env)
    assert none.exit_code == 2 and "give the job's seq" in none.stderr


def test_report_of_a_url_shows_it_without_its_password(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["runs", "report", run.url, str(run.file), "-o", str(out), "--samples", "step-2"]
    ok(invoke([*args, "--compare", "step-1", "step-2"], None), run.password)
    page = out.read_text(encoding="utf-8")
    assert "Samples of step-2" in page and "Compare: a = step-1" in page  # read from the URL
    assert run.shown in page and run.password not in page
    assert parse_url(run.url).schema in page  # the run is named by its schema
    env = {"LMMS_EVAL_LEDGER": run.url}
    ok(invoke(["runs", "report", "-o", str(tmp_path / "env.html")], None, **env), run.password)
    assert run.shown in (tmp_path / "env.html").read_text(encoding="utf-8")


def test_a_missing_schema_is_said_and_not_created(
    postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Before: exit 1 (a plain LedgerError), where a missing SQLite file is a usage error (2).
    password = postgres_server.password
    for args in (
        ["runs", "ls"],
        ["runs", "show", "{}", "1"],
        ["runs", "watch"],
        ["runs", "export"],
        ["runs", "report", "{}", "-o", str(tmp_path / "report.html")],
        ["runs", "rehome", "{}", "http://127.0.0.1:9", "http://127.0.0.1:8"],  # (the review)
    ):
        argv = [a.replace("{}", postgres_url) for a in args]
        done = invoke(argv if "{}" in args else [*argv, postgres_url], "http://127.0.0.1:9")
        assert done.exit_code == 2, (args, done.output)
        assert f"There is no run ledger at {parse_url(postgres_url).shown!r}" in done.stderr
        assert f"(see 'lmms-eval-client {' '.join(args[:2])} -h')" in done.stderr
        assert password not in done.stderr
    assert not (tmp_path / "report.html").exists()
    with pytest.raises(LedgerNotFoundError, match="There is no run ledger"):
        Ledger(postgres_url, read_only=True)  # nothing created


def test_a_bad_url_is_a_usage_error_without_its_password() -> None:
    done = invoke(["runs", "ls", "postgresql://evals:hunter2-secret@/db?schema=x"], None)
    assert done.exit_code == 2 and "names no host" in done.stderr
    assert "hunter2-secret" not in done.output and "evals:***@" in done.stderr


def test_submit_watch_and_refresh_drive_a_url(
    local_server: LocalServer, postgres_url: str, postgres_server: PostgresServer
) -> None:
    password, url = postgres_server.password, local_server.url
    submit = ["runs", "submit", postgres_url, "-m", "qwen2_vl", "-t", "mme", "-a", "pretrained=o/m"]
    first = ok(invoke([*submit, "--key", "step-1", "-l", "step=1"], url), password)
    assert first.stdout.startswith("submitted seq 1: job ")  # the schema was created
    again = ok(invoke([*submit, "--key", "step-1"], url), password)
    assert "already submitted under key step-1: seq 1" in again.stdout
    env = {"LMMS_EVAL_LEDGER": postgres_url}
    second = ok(invoke(submit[:2] + submit[3:] + ["-l", "step=2"], None, **env), password)
    assert second.stdout.startswith("submitted seq 2: job ")  # the ledger's server
    watched = ok(invoke(["runs", "watch", postgres_url, "--json", *POLL], None), password)
    assert json.loads(watched.stdout.splitlines()[-1])["exit_code"] == 0
    listed = ok(invoke(["runs", "ls", postgres_url, "--refresh", "--json"], None), password)
    assert [job["state"] for job in json.loads(listed.stdout)] == ["completed", "completed"]
    ok(invoke(["runs", "watch", postgres_url, *POLL], None), password)  # nothing pending


def test_export_to_a_tracker_records_in_a_url(run: Run, postgres_url: str, tmp_path: Path) -> None:
    copy_ledger(run.file, postgres_url)  # a writable ledger of its own
    log_dir = str(tmp_path / "tb")
    args = ["runs", "export", postgres_url, "--to", "tensorboard", "--log-dir", log_dir, "--json"]
    first = json.loads(ok(invoke(args, None), run.password).stdout)
    assert first["written"] == [1, 2] and first["recorded"] is True
    again = json.loads(ok(invoke(args, None), run.password).stdout)
    assert again["written"] == [] and again["skipped"] == [1, 2]  # recorded in the schema
    assert [step for step, _ in scalars(Path(log_dir), "eval/mme/exact_match")] == [1, 2]
    assert "tensorboard" in dump_schema(postgres_url)


@pytest.mark.slow
def test_watch_a_folder_into_a_url_and_stop_it(
    local_server: LocalServer, postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """``watch DIR --ledger URL`` (and $LMMS_EVAL_LEDGER): Ctrl+C's note names the ledger
    without its password."""
    out = tmp_path / "out"
    write_checkpoint(out, 1)
    command = [
        sys.executable, "-c", MAIN, "--server", local_server.url, "watch", str(out), "-m",
        "qwen2_vl", "-t", "mme", "-a", "pretrained={checkpoint}", "--poll-interval", "0.05",
        "--json",
    ]  # fmt: skip
    env = {**os.environ, "LMMS_EVAL_LEDGER": postgres_url}
    watching = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    lines = read_until(watching, 1, "outcome")
    code, err = interrupt(watching)
    assert code == 130, err
    assert [line["key"] for line in lines if line["event"] == "submitted"] == ["checkpoint-1"]
    assert parse_url(postgres_url).shown in err and postgres_server.password not in err
    with closing(Ledger(postgres_url, read_only=True)) as ledger:
        assert [job.key for job in ledger.jobs()] == ["checkpoint-1"]


def test_a_user_who_may_only_read_exports_unrecorded(
    run: Run, postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    # Before: the ledger was opened to record the writes (a URL was "tried"), the tracker
    # got the jobs, then recording them failed: exit 1, and a second export wrote them
    # again (an adversarial try). A read-only SQLite file was already exported unrecorded.
    import psycopg

    copy_ledger(run.file, postgres_url)
    schema, role = postgres_url.rsplit("schema=", 1)[1], f"sel_{secrets.token_hex(4)}"
    with psycopg.connect(parse_url(postgres_url).conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'sel-password-1234'")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    url = postgres_url.replace(f"lmms:{postgres_server.password}", f"{role}:sel-password-1234")
    log_dir = str(tmp_path / "tb")
    args = ["runs", "export", url, "--to", "tensorboard", "--log-dir", log_dir, "--json"]
    done = json.loads(ok(invoke(args, None), "sel-password-1234").stdout)
    assert done["written"] == [1, 2] and done["recorded"] is False
    assert [step for step, _ in scalars(Path(log_dir), "eval/mme/exact_match")] == [1, 2]
