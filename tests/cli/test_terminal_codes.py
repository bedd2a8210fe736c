"""A server's text never reaches the terminal as codes: a job id, a status, an error or a
log line holding ``ESC ]0;...BEL`` (retitles the window), ``ESC [2J`` (clears the screen)
or U+202E (reverses what follows) is printed escaped, by every human output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import respx
from rich.console import Console
from typer.testing import CliRunner

from lmms_eval_client import (
    EvalClient,
    EvalRun,
    EvaluateRequest,
    JobInfo,
    JobSubmitResponse,
    TrackedJob,
)
from lmms_eval_client.cli.app import app
from lmms_eval_client.cli.live import LineView, LiveView
from lmms_eval_client.cli.run_view import Lines, LiveTable
from lmms_eval_client.cli.terminal import for_terminal
from lmms_eval_client.cli.watch import Tracked

from ..runs._fake import FakeServer
from ..support import BASE, job_json
from .test_commands import env_for

CODES = "\x1b]0;pwned\x07\x1b[2J\u202e\x9b"
ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J\\u202e\\x9b"


def _raw_codes_in(text: str) -> list[str]:
    return [code for code in ("\x1b]", "\x07", "\x1b[2J", "\u202e", "\x9b") if code in text]


def test_for_terminal_escapes_codes_and_keeps_layout() -> None:
    assert for_terminal(f"a{CODES}b") == f"a{ESCAPED}b"
    assert for_terminal("two\nlines\tand a tab") == "two\nlines\tand a tab"
    assert for_terminal("日本語 ok") == "日本語 ok"
    assert for_terminal("\r\x7f") == "\\r\\x7f"  # a carriage return overwrites the line


def _invoke(args: list[str]) -> str:
    done = CliRunner().invoke(app, args, env=env_for("http://127.0.0.1:9"))
    return done.output


def test_status_shows_a_servers_codes_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the job id and the error went to the terminal as they came.
    job = JobInfo.model_validate(
        job_json("failed", job_id=f"j{CODES}", error=f"RuntimeError: {CODES}")
    )
    monkeypatch.setattr(EvalClient, "get_job", lambda self, job_id, **kw: job)
    out = _invoke(["status", "j1"])
    assert not _raw_codes_in(out), out
    assert f"j{ESCAPED}" in out


@pytest.mark.parametrize("quiet", [True, False])
def test_submit_prints_a_servers_job_id_escaped(
    monkeypatch: pytest.MonkeyPatch, quiet: bool
) -> None:
    answer = JobSubmitResponse(
        job_id=f"j{CODES}", status="queued", position_in_queue=0, message="queued"
    )
    monkeypatch.setattr(EvalClient, "evaluate", lambda self, *a, **kw: answer)
    out = _invoke(["submit", "-m", "qwen2_vl", "-t", "mme", *(["--quiet"] if quiet else [])])
    assert not _raw_codes_in(out), out
    assert f"j{ESCAPED}" in out


def _tracked() -> Tracked:
    tracked = Tracked(f"j{CODES}", since=0.0)
    tracked.observe(
        JobInfo.model_validate(job_json("failed", job_id=f"j{CODES}", error=f"E: {CODES}"))
    )
    return tracked


def test_the_line_view_prints_codes_escaped() -> None:
    stream = io.StringIO()
    tracked = _tracked()
    LineView(stream, clock=lambda: 1.0).changed(tracked)
    assert not _raw_codes_in(stream.getvalue()), stream.getvalue()
    assert ESCAPED in stream.getvalue()


def test_the_live_table_renders_codes_escaped() -> None:
    out = io.StringIO()
    console = Console(file=out, width=400, force_terminal=True)
    view = LiveView([_tracked()], server="http://h:8000", console=console, clock=lambda: 1.0)
    console.print(view.render())
    assert not _raw_codes_in(out.getvalue()), repr(out.getvalue())


def _run_job() -> TrackedJob:
    return TrackedJob(
        seq=1, job_id=f"j{CODES}", state="failed", labels={"step": CODES},
        request=EvaluateRequest(model="qwen2_vl", tasks=["mme"]), server="http://h",
        token="t", attempt=1, first_seq=1, retry_of=None, retried_by=None,
        info=JobInfo.model_validate(job_json("failed", job_id=f"j{CODES}", error=f"E: {CODES}")),
        note=None, last_known_state=None, summary=None, harvested=False,
        created_at="2026-12-06T00:00:00Z", updated_at="2026-12-06T00:00:00Z",
    )  # fmt: skip


def test_the_runs_lines_and_table_show_codes_escaped() -> None:
    stream = io.StringIO()
    Lines(stream).state(_run_job())
    assert not _raw_codes_in(stream.getvalue()), stream.getvalue()
    out = io.StringIO()
    console = Console(file=out, width=400, force_terminal=True)
    table = LiveTable("run.sqlite", console)
    table.jobs([_run_job()], 0)
    console.print(table.render())
    assert not _raw_codes_in(out.getvalue()), repr(out.getvalue())


def test_spaces_joiners_and_marks_of_other_scripts_are_kept() -> None:
    # The review: isprintable() escaped a no-break space, an ideographic space, the joiner
    # of an emoji family and a right-to-left mark, none of which acts on a terminal.
    for text in ["10\u00a0000 samples", "模型\u3000评测", "👨\u200d👩\u200d👧", "שלום\u200f 3"]:
        assert for_terminal(text) == text


def test_debug_shows_the_traceback_and_the_log_escaped(
    monkeypatch: pytest.MonkeyPatch, mock: respx.MockRouter
) -> None:
    # Before: --debug printed the traceback (whose message quotes the server) and the SDK's
    # log lines (which quote a failed request's reason) as they came.
    mock.get("http://lmms.test/jobs/j1").respond(404, json={"detail": f"no job {CODES}"})
    done = CliRunner().invoke(app, ["--debug", "status", "j1"], env=env_for("http://lmms.test"))
    assert done.exit_code != 0
    assert "Traceback (most recent call last)" in done.output
    assert not _raw_codes_in(done.output), done.output
    assert f"no job {ESCAPED}" in done.output


def test_a_label_with_a_line_break_stays_on_its_jobs_line(tmp_path: Path) -> None:
    # The runs CLI's adversarial try: a label "a\nseq 9 completed ..." printed a row of a
    # job that does not exist, in runs ls, runs show, runs export and runs watch.
    forged = "a\n   9  -  completed  step=999"
    path = tmp_path / "run.sqlite"
    with FakeServer().mocked(), EvalClient(BASE) as client, EvalRun(client, path) as run:
        run.submit("qwen2_vl", ["mme"], {"pretrained": "a/b"}, labels={"note": forged})
    listed = _invoke(["runs", "ls", str(path)]).splitlines()
    assert len(listed) == 1 and "note=a\\n   9" in listed[0]  # one job, one line
    shown = _invoke(["runs", "show", str(path), "1"])
    assert "step=999" in shown and "\n   9" not in shown
