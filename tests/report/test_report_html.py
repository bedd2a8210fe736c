"""The report as HTML (issue 25): every job and metric there, nothing external, untrusted
text escaped, samples capped; written by write_report, run.report and ``runs report``."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmms_eval_client import (
    AsyncEvalClient,
    AsyncEvalRun,
    Comparison,
    CorruptLedgerError,
    EvalClient,
    EvalRun,
    InvalidArgumentError,
    LedgerNotFoundError,
    MetricRow,
    TrackedJob,
    UnknownJobError,
    write_report,
)
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._runs.table import TABLE_PARAMS, TABLE_QUERY, table_rows
from lmms_eval_client.cli.app import app
from lmms_eval_client.testing import LocalServer

from ._html import parse
from .conftest import FAILING, LEAKED, STEPS, TASKS, XSS, MadeRun

URL = re.compile(r"https?://", re.IGNORECASE)


def _ledger_facts(ledger: Path) -> tuple[list[TrackedJob], list[MetricRow]]:
    read = Ledger(ledger, read_only=True)
    try:
        return read.jobs(), table_rows(read.rows(TABLE_QUERY, TABLE_PARAMS), read.path)
    finally:
        read.close()


def test_every_job_and_metric_is_in_the_page_and_nothing_is_external(
    made_run: MadeRun, tmp_path: Path
) -> None:
    out = write_report(
        made_run.ledger,
        tmp_path / "report.html",
        samples_job="step-400",
        compare_jobs=("step-100", "step-400"),
    )
    text = out.read_text(encoding="utf-8")
    page = parse(text)
    jobs, rows = _ledger_facts(made_run.ledger)
    assert len(jobs) == len(STEPS)
    shown = {
        int(e.attrs["data-seq"] or 0): e.text for e in page.find("tr") if "data-seq" in e.attrs
    }
    for job in jobs:
        assert job.job_id and job.job_id in shown[job.seq] and job.state in shown[job.seq]
    failed = next(j for j in jobs if j.labels["step"] == FAILING)
    assert "CUDA out of memory" in shown[failed.seq]  # the reason of the failed job
    assert "[REDACTED]" in shown[failed.seq] and LEAKED not in text
    cards = {
        (e.attrs["data-task"], e.attrs["data-metric"]) for e in page.find("div", class_="card")
    }
    assert cards == {(r.task, r.metric) for r in rows}
    assert {t for t, _ in cards} == set(TASKS)
    for card in page.find("div", class_="card"):
        assert "best in run.sqlite: step" in card.text  # exact_match: higher is better
    assert len(page.find("svg", class_="chart")) == len(cards)
    # nothing fetched: no URL in any src, href or style url(), no external element at all
    for element in page.elements:
        for name in ("src", "href", "xlink:href", "action", "data"):
            assert not URL.search(element.attrs.get(name) or ""), element
    for style in page.find("style"):
        for found in re.findall(r"url\(([^)]*)\)", style.text):
            assert not URL.search(found)
    assert not page.find("link") and not page.find("img") and not page.find("iframe")
    # the sample's script is text: escaped in the source, no element of it
    assert XSS not in text and "&lt;script&gt;window.__xss" in text
    assert len(page.find("script")) == 1 and "__xss" not in page.find("script")[0].text
    assert "&lt;b&gt;bold&lt;/b&gt;" in text and not page.find("b")  # labels too
    samples = page.find("table", id="samples")[0]
    assert XSS in samples.text  # shown as the text it is
    assert "samples flipped" in text and "paired_ttest" in text


def test_samples_are_capped_and_the_page_says_so(made_run: MadeRun, tmp_path: Path) -> None:
    out = write_report(
        [made_run.ledger], tmp_path / "r.html", samples_job="step-200", max_samples=5
    )
    page = parse(out.read_text(encoding="utf-8"))
    rows = [e for e in page.elements if e.tag == "tr" and "data-task" in e.attrs]
    assert sorted(e.attrs["data-task"] or "" for e in rows) == sorted(TASKS * 5)
    assert "At most 5 samples a task" in page.find("body")[0].text
    assert "Capped: mme, pope have more samples than shown" in page.find("body")[0].text


def test_several_runs_are_overlaid(made_run: MadeRun, tmp_path: Path) -> None:
    other = tmp_path / "other" / "run.sqlite"
    other.parent.mkdir()
    other.write_bytes(made_run.ledger.read_bytes())
    out = write_report([made_run.ledger, other], tmp_path / "two.html")
    page = parse(out.read_text(encoding="utf-8"))
    for svg in page.find("svg", class_="chart"):
        lines = [e for e in page.elements if e.tag == "path" and e.attrs.get("class") == "line"]
        assert len(lines) == 2 * len(page.find("svg", class_="chart")), svg
    # Two ledgers of one file name (a folder per training): their legends told them apart
    # by nothing; each is named by as much of its path as tells it apart.
    swatches = [i for i, e in enumerate(page.elements) if e.attrs.get("class") == "swatch"]
    legend = [page.elements[i - 1].text for i in swatches[:2]]  # (each in its span)
    assert legend == [f"{tmp_path.name}/run.sqlite", "other/run.sqlite"], legend


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_run_report_and_compare(made_run: MadeRun, tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"{kind}.html"
    if kind == "sync":
        with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
            written = run.report(out, samples_job="step-100")
            comparison = run.compare("step-100", 4)
    else:

        async def main() -> tuple[Path, Comparison]:
            async with (
                AsyncEvalClient(made_run.base_url) as client,
                AsyncEvalRun(client, made_run.ledger) as run,
            ):
                return await run.report(out, samples_job=1), await run.compare("step-100", 4)

        written, comparison = asyncio.run(main())
    assert written == out and "Samples of step-100" in out.read_text(encoding="utf-8")
    assert [m.task for m in comparison.metrics] == TASKS


def test_cli_runs_report_and_compare(made_run: MadeRun, tmp_path: Path) -> None:
    out = tmp_path / "cli.html"
    done = CliRunner().invoke(
        app, ["runs", "report", str(made_run.ledger), "-o", str(out), "--samples", "step-200"]
    )
    assert done.exit_code == 0, done.output
    assert f"report written: {out}" in done.output
    assert "Samples of step-200" in out.read_text(encoding="utf-8")
    done = CliRunner().invoke(
        app, ["runs", "report", str(made_run.ledger), "-o", str(out), "--compare", "step-100", "2"]
    )
    assert done.exit_code == 0, done.output
    assert "Compare: a = step-100" in out.read_text(encoding="utf-8")
    done = CliRunner().invoke(
        app, ["compare", "--ledger", str(made_run.ledger), "step-100", "2", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert '"flips"' in done.output
    jobs, _ = _ledger_facts(made_run.ledger)
    ids = [j.job_id or "" for j in jobs if j.state == "completed"]
    done = CliRunner().invoke(app, ["--server", made_run.base_url, "compare", ids[0], ids[1]])
    assert done.exit_code == 0, done.output
    assert "samples flipped" in done.output and "mme" in done.output


def test_a_job_that_did_not_complete_has_no_samples(made_run: MadeRun, tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app, ["runs", "report", str(made_run.ledger), "-o", str(tmp_path / "x.html"),
              "--samples", f"step-{FAILING}"],
    )  # fmt: skip
    assert done.exit_code == 2, done.output
    assert "only a completed job has samples" in done.output


def test_a_report_path_that_cannot_be_written_is_a_usage_error(
    made_run: MadeRun, tmp_path: Path
) -> None:
    # Before: raw IsADirectoryError / FileNotFoundError tracebacks, and -o LEDGER replaced
    # the ledger with the page ("report written", exit 0: the run was gone).
    before = made_run.ledger.read_bytes()
    for out, says in [
        (tmp_path, "is a folder"),
        (tmp_path / "missing" / "r.html", "No such file or directory"),
        ("", "a file name"),
        (made_run.ledger, "is the run's ledger"),
    ]:
        with pytest.raises(InvalidArgumentError, match=says):
            write_report(made_run.ledger, out)
    assert made_run.ledger.read_bytes() == before
    done = CliRunner().invoke(
        app, ["runs", "report", str(made_run.ledger), "-o", str(made_run.ledger)]
    )
    assert done.exit_code == 2 and "is the run's ledger" in done.output, done.output
    assert made_run.ledger.read_bytes() == before


def test_a_report_over_a_live_ledgers_wal_is_refused(made_run: MadeRun) -> None:
    # The runs CLI's adversarial try: -o LEDGER-wal (a live run's writes not yet in the file)
    # was written over, exit 0; the trainer's jobs were then gone from the ledger.
    with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
        run.jobs()
        for end in ("-wal", "-shm"):
            part = Path(f"{made_run.ledger}{end}")
            assert part.exists()
            before = part.read_bytes()
            with pytest.raises(InvalidArgumentError, match=f"a file of it .{part.name}"):
                write_report(made_run.ledger, part)
            assert part.read_bytes() == before


def test_a_lone_surrogate_in_a_sample_is_written_escaped_and_a_failed_write_keeps_the_old(
    made_run: MadeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: UnicodeEncodeError (a traceback), and the earlier report at -o left empty.
    with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
        info = run.job("step-200").info
    assert info is not None and info.result is not None
    (files,) = info.result.values()
    path = Path(next(p for p in files.samples if p.endswith("_mme.jsonl")))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[0] = lines[0].replace('"target": "', '"target": "\\udc00lone ', 1)
    path.write_text("".join(lines), encoding="utf-8")
    out = tmp_path / "r.html"
    out.write_text("the earlier report")
    write_report(made_run.ledger, out, samples_job="step-200")
    assert "\\udc00lone" in out.read_text(encoding="utf-8")
    before = out.read_bytes()

    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(InvalidArgumentError, match="No space left"):
        write_report(made_run.ledger, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_a_link_a_device_and_a_pages_mode_are_kept(made_run: MadeRun, tmp_path: Path) -> None:
    # The review of the whole-or-nothing write: it replaced a symbolic link (not its
    # target), a device (-o /dev/null, as root), and an earlier page's mode.
    page = tmp_path / "page.html"
    page.write_text("old")
    page.chmod(0o640)
    link = tmp_path / "link.html"
    link.symlink_to(page)
    write_report(made_run.ledger, link)
    assert link.is_symlink() and "<html" in page.read_text(encoding="utf-8")
    assert page.stat().st_mode & 0o777 == 0o640
    write_report(made_run.ledger, "/dev/null")
    assert Path("/dev/null").is_char_device()


@pytest.mark.parametrize(
    ("argument", "says"),
    [
        ({"step_label": None}, "step_label must be"),
        ({"step_label": ""}, "step_label must be"),
        ({"title": 5}, "title must be"),
        ({"samples_job": [1]}, "seq \\(an int\\) or its key"),
        ({"samples_job": True}, "seq \\(an int\\) or its key"),
        ({"compare_jobs": (1,)}, "compare_jobs must be two jobs"),
        ({"compare_jobs": "ab"}, "compare_jobs must be two jobs"),
        ({"path_map": "x"}, "path_map: 'x' is not server=client"),
    ],
)
def test_a_bad_argument_is_refused_before_anything_is_written(
    made_run: MadeRun, tmp_path: Path, argument: dict[str, object], says: str
) -> None:
    # Before: AttributeError (step_label None), TypeError (one job to compare), a
    # LedgerError "failed while reading" (a list as a job), a page of seq 1 for True, and
    # 'ab' compared the keys 'a' and 'b'.
    out = tmp_path / "r.html"
    with pytest.raises(InvalidArgumentError, match=says):
        write_report(made_run.ledger, out, **argument)  # type: ignore[arg-type]
    assert not out.exists()


@pytest.mark.slow
def test_a_log_of_long_lines_keeps_the_page_small(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: each log tail was capped at 20 lines, but not its lines: 20 failed jobs with
    # lines of 300,000 characters made a 12 MB page.
    ledger = tmp_path / "long.sqlite"
    url = local_server.url
    with EvalClient(url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        args = {"pretrained": "org/ckpt", "sim_error": "x" * 300_000}
        run.submit("qwen2_vl", TASKS, model_args=args, labels={"step": 1})
        assert len(list(run.as_completed(timeout=60))) == 1
    page = write_report(ledger, tmp_path / "long.html").read_text(encoding="utf-8")
    assert len(page) < 100_000, len(page)


def test_a_key_of_digits_is_found_first_then_a_seq(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # An adversarial try of the report: --samples 1 showed seq 1 (key "3"), and a key of
    # digits (--key $step) could never be named on the command line.
    ledger = tmp_path / "keys.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        for key in ("3", "2", "1", None):
            args = {"pretrained": f"org/m{key}", "sim_duration": 0.05}
            run.submit("qwen2_vl", TASKS, model_args=args, key=key)
        assert len(list(run.as_completed(timeout=60))) == 4
        assert run.job("1").seq == 3 and run.job(1).key == "3"
        assert run.job("4").seq == 4  # no job under the key "4": its seq
        with pytest.raises(UnknownJobError):
            run.job("\u00b2")  # digits of another script: a key, and none has it
    out = tmp_path / "r.html"
    done = CliRunner().invoke(
        app, ["runs", "report", str(ledger), "-o", str(out), "--samples", "1"]
    )
    assert done.exit_code == 0, done.output
    assert "Samples of 1 " in out.read_text(encoding="utf-8")  # the key's job, seq 3


JWT = "eyJ" + "a1B2c3D4" * 50  # 403 characters: a secret longer than a line is cut at


@pytest.mark.parametrize(
    ("secret", "before"),
    [
        ("plainsecretvalue77", ""),
        (918273645501, ""),
        ("abcd:efgh1234", "tok="),  # (the review) a secret with a colon, after a name
        ("sk-abcdefgh1234", "GET /v1/"),  # (the review) in a path
        (JWT, "x" * 1800 + " "),  # (the review) crossing the cut of a long line
    ],
    ids=["word", "digits", "after-name", "in-path", "across-the-cut"],
)
def test_a_failed_jobs_log_tail_masks_its_secret_model_args_told_bare(
    local_server: LocalServer, tmp_path: Path, secret: object, before: str
) -> None:
    # Before: the page showed the tail of the job's log, which quoted the secrets bare: the
    # ledger keeps their fingerprints, not the values, so the tail was masked by name only
    # (an adversarial try). Each word of the tail whose fingerprint is a secret's is masked.
    ledger = tmp_path / "secret.sqlite"
    said = f"login refused for Tr0ub4dorXYZ: key {before}{secret}/models."
    args = {"pretrained": "org/m", "db_password": "Tr0ub4dorXYZ", "api_key": secret}
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", TASKS, model_args={**args, "sim_error": said}, labels={"step": 1})
        assert len(list(run.as_completed(timeout=60))) == 1
    page = write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "login refused for" in page  # the tail is there
    assert "Tr0ub4dorXYZ" not in page and str(secret)[:12] not in page


def test_a_step_past_floats_range_is_drawn_at_its_seq(
    local_server: LocalServer, tmp_path: Path
) -> None:
    # Before: submit took labels={"step": 10**400}, then the report ended in a raw
    # OverflowError (math.isfinite of the int; an adversarial try).
    ledger = tmp_path / "huge.sqlite"
    with EvalClient(local_server.url) as client, EvalRun(client, ledger, poll_interval=0.02) as run:
        run.submit("qwen2_vl", TASKS, model_args={"pretrained": "org/m"}, labels={"step": 10**400})
        assert len(list(run.as_completed(timeout=60))) == 1
    page = write_report(ledger, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<svg" in page


@pytest.mark.parametrize(
    ("runs", "path", "says"),
    [
        (None, "r.html", "runs must be a run ledger"),
        (5, "r.html", "runs must be a run ledger"),
        (b"run.sqlite", "r.html", "runs must be a run ledger"),
        (["run.sqlite", 5], "r.html", "runs must be a run ledger"),
        ("run.sqlite", None, "path must be a non-empty path"),
        ("run.sqlite", b"r.html", "path must be a non-empty path"),
        ("run.sqlite", "r\x00.html", "path must be a non-empty path"),
    ],
)
def test_what_names_no_ledger_or_no_page_is_refused(
    made_run: MadeRun, tmp_path: Path, runs: object, path: object, says: str
) -> None:
    # Before: AttributeError (bytes, 5 in a list), TypeError (None, 5, a None or bytes
    # path), ValueError (a NUL in the path): raw errors (an adversarial try).
    runs = [made_run.ledger, 5] if isinstance(runs, list) else runs
    runs = made_run.ledger if runs == "run.sqlite" else runs
    with pytest.raises(InvalidArgumentError, match=says):
        write_report(
            runs, tmp_path / path if isinstance(path, str) and "\x00" not in path else path
        )  # type: ignore[arg-type]


def test_a_missing_ledger_is_ledger_not_found_as_when_a_ledger_is_opened_to_read(
    made_run: MadeRun, tmp_path: Path
) -> None:
    # Before: InvalidArgumentError "there is no run ledger at ..." for a missing file (and
    # for a folder), while Ledger(read_only=True) and a PostgreSQL schema raised
    # LedgerNotFoundError: two types for one thing (a review).
    out = tmp_path / "r.html"
    missing = tmp_path / "missing.sqlite"
    no_folder = tmp_path / "no-folder" / "missing.sqlite"
    for runs in ([missing], [made_run.ledger, no_folder], str(missing)):
        with pytest.raises(LedgerNotFoundError, match=r"^There is no run ledger at ") as info:
            write_report(runs, out)  # type: ignore[arg-type]
        assert info.value.path in (str(missing), str(no_folder))
    (tmp_path / "folder").mkdir()
    with pytest.raises(CorruptLedgerError, match="it is a directory, not a file"):
        write_report([tmp_path / "folder"], out)
    # nothing created: neither the ledger nor its folder, nor a page
    assert not out.exists() and not missing.exists() and not no_folder.parent.exists()


@pytest.mark.parametrize("side", ["0b8c1f0e-job-id", None, 5])
def test_compare_takes_jobs_or_results_not_their_ids(side: object) -> None:
    # Before: AttributeError: 'str' object has no attribute 'status' (the command line's
    # compare takes job ids, and run.compare keys: an easy mistake).
    from lmms_eval_client import compare, load_job_results

    with pytest.raises(InvalidArgumentError, match="a must be a completed job"):
        compare(side, side)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="job must be a JobInfo"):
        load_job_results(side)  # type: ignore[arg-type]


def test_the_samples_viewer_holds_one_sample_at_a_time(made_run: MadeRun, tmp_path: Path) -> None:
    # Before: the head of each task (up to max_samples + 1 samples) was read whole, then
    # each field cut to 2,000 characters: 24 samples of 40 MiB took 1 GB (an adversarial
    # try). Now each sample is cut as it is read.
    import json
    import tracemalloc

    with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
        info = run.job("step-100").info
    assert info is not None and info.result is not None
    (files,) = info.result.values()
    path = Path(next(p for p in files.samples if p.endswith("_mme.jsonl")))
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    big = [json.dumps({**first, "doc_id": n, "input": "y" * 2_000_000}) for n in range(12)]
    path.write_text("\n".join(big) + "\n", encoding="utf-8")
    tracemalloc.start()
    try:
        write_report(made_run.ledger, tmp_path / "r.html", samples_job="step-100", max_samples=12)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16_000_000, peak  # 12 samples of 2 MB held at once: over 24 MB


def test_runs_may_be_any_iterable_of_ledgers(made_run: MadeRun, tmp_path: Path) -> None:
    # (the review) a first check took only a list or a tuple: a generator was refused
    out = write_report((ledger for ledger in [made_run.ledger]), tmp_path / "r.html")
    assert "step-100" in out.read_text(encoding="utf-8")
