"""Where a report is written and what it reads: paths the report cannot check (a name too
long, a folder it may not enter, NUL) are one error line, never a raw OSError."""

from __future__ import annotations

import contextlib
import os
import resource
import select
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError, LedgerError, write_report
from lmms_eval_client.cli.app import app

from .conftest import MadeRun

TOO_LONG = "a" * 300 + ".html"  # beyond NAME_MAX (255): ENAMETOOLONG, as root too


def test_an_output_name_too_long_is_a_usage_error(made_run: MadeRun, tmp_path: Path) -> None:
    # Before: OSError: [Errno 36] File name too long (Path.is_dir raises all but ENOENT...),
    # a traceback and exit 1 from runs report.
    out = tmp_path / TOO_LONG
    with pytest.raises(InvalidArgumentError, match=r"Cannot write the report to .*too long"):
        write_report(made_run.ledger, out)
    done = CliRunner().invoke(app, ["runs", "report", str(made_run.ledger), "-o", str(out)])
    assert done.exit_code == 2, done.output
    assert done.output.startswith("error: Cannot write the report to "), done.output
    assert done.output.count("\n") == 1 and "Traceback" not in done.output, done.output


def test_a_page_named_from_a_folder_that_was_removed_is_a_usage_error(
    made_run: MadeRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The review: a shell whose working folder was removed (a job's scratch folder) and
    # `runs report L -o r.html`: FileNotFoundError from the look at whether r.html names a
    # device, a traceback and exit 1.
    gone = tmp_path / "scratch"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    with pytest.raises(InvalidArgumentError, match=r"Cannot write the report to 'r.html'"):
        write_report(made_run.ledger, "r.html")
    done = CliRunner().invoke(app, ["runs", "report", str(made_run.ledger), "-o", "r.html"])
    assert done.exit_code == 2 and done.output.startswith("error: Cannot write"), done.output
    # A ledger named from there (the second review): FileNotFoundError from its open.
    for args in (["runs", "report", "r.sqlite", "-o", str(tmp_path / "r.html")],
                 ["runs", "ls", "r.sqlite"]):  # fmt: skip
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 2, done.output
        assert "'r.sqlite' cannot be resolved" in done.output and "Traceback" not in done.output


@pytest.mark.parametrize("descriptor", [None, 1500])
def test_a_page_to_a_non_blocking_pipe_waits_for_its_reader(
    made_run: MadeRun, descriptor: int | None
) -> None:
    # The review: `-o /dev/stdout` into a pipe its reader made non-blocking (O_NONBLOCK is
    # shared with the writer) got EAGAIN once the pipe was full: "Cannot write the report
    # to '/dev/stdout': Resource temporarily unavailable", the page cut at 64 KB. The second
    # review: on a descriptor past select()'s 1024, ValueError "filedescriptor out of range".
    read_end, write_end = os.pipe()
    if descriptor is not None:
        if resource.getrlimit(resource.RLIMIT_NOFILE)[0] <= descriptor:
            pytest.skip(f"this process may not open descriptor {descriptor}")
        os.dup2(write_end, descriptor)
        os.close(write_end)
        write_end = descriptor
    os.set_blocking(write_end, False)
    filled = 0
    for chunk in (4096, 1):  # full to its last byte: the page's first write finds no room
        with contextlib.suppress(BlockingIOError):
            while True:
                filled += os.write(write_end, b"x" * chunk)
    failed: list[BaseException] = []

    def write() -> None:
        try:
            write_report(made_run.ledger, f"/dev/fd/{write_end}")
        except BaseException as exc:
            failed.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    # Read once the writer has met the full pipe: at once when its write fails (the bug),
    # else after this while it waits for room (a slow start could only hide the bug).
    writer.join(0.5)
    got = bytearray()
    try:
        while writer.is_alive() or select.select([read_end], [], [], 0)[0]:
            if select.select([read_end], [], [], 0.05)[0]:
                got += os.read(read_end, 1 << 16)
    finally:
        writer.join()
        os.close(write_end)
        os.close(read_end)
    assert failed == []
    assert got[:filled] == b"x" * filled and got.rstrip().endswith(b"</html>")


def test_a_ledger_path_the_report_cannot_check_is_the_ledgers_own_error(tmp_path: Path) -> None:
    # Before: OSError (a name too long) from the check that the page is not the ledger, and
    # ValueError: embedded null byte (NUL) from the ledger's open (EvalRun's too).
    out = tmp_path / "r.html"
    out.write_text("an earlier report")  # (a page that exists is checked against the ledger)
    with pytest.raises(LedgerError, match="cannot be read: File name too long"):
        write_report(tmp_path / ("b" * 300 + ".sqlite"), out)
    with pytest.raises(InvalidArgumentError, match="NUL"):
        write_report(str(tmp_path / "a\x00b.sqlite"), out)
    assert list(tmp_path.iterdir()) == [out] and out.read_text() == "an earlier report"


# Root ignores permission bits through these capabilities: without them, root is held to the
# bits as any user (setpriv drops them from the child's bounding set).
_AS_ANY_USER = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.mark.slow
def test_a_ledger_or_page_in_a_folder_that_cannot_be_entered_is_one_error_line(
    made_run: MadeRun, tmp_path: Path
) -> None:
    # Before: PermissionError tracebacks, exit 1 (runs ls said the ledger's one line).
    closed = tmp_path / "closed"
    closed.mkdir()
    ledger = Path(shutil.copy(made_run.ledger, closed))
    command = [sys.executable, "-c", "from lmms_eval_client.cli import main; main()"]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("root without setpriv: permission bits cannot be made to count")
        command = _AS_ANY_USER + command
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("LMMS_EVAL_URL", None)
    closed.chmod(0)
    try:
        runs = [
            subprocess.run(
                [*command, "runs", *arguments],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
                stdin=subprocess.DEVNULL,
            )
            for arguments in (
                ["ls", str(ledger)],
                ["report", str(ledger), "-o", str(tmp_path / "r.html")],
                ["report", str(made_run.ledger), "-o", str(closed / "r.html")],
            )
        ]
    finally:
        closed.chmod(0o755)
    listed, read, written = runs
    assert "Permission denied" in listed.stderr and listed.stderr.count("\n") == 1
    assert (read.returncode, read.stderr) == (listed.returncode, listed.stderr)
    assert written.returncode == 2, written.stderr
    assert written.stderr.startswith(
        f"error: Cannot write the report to {str(closed / 'r.html')!r}: Permission denied"
    )
    assert written.stderr.count("\n") == 1, written.stderr
    assert not (tmp_path / "r.html").exists() and sorted(closed.iterdir()) == [ledger]


@pytest.mark.parametrize("mode", ["ab", "wb"])  # the shell's >> and >
@pytest.mark.parametrize("via", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1", "a link"])
@pytest.mark.slow
def test_a_page_to_stdout_redirected_to_a_file_is_written_into_it(
    made_run: MadeRun, tmp_path: Path, mode: str, via: str
) -> None:
    # Before: { echo 1; runs report L -o /dev/stdout; echo 3; } >> job.log left job.log the
    # page alone: stat through the link saw a file, and the page was renamed over it (line
    # 1 gone, line 3 written to the unlinked file); "report written" went into the page.
    folder = tmp_path / "logs"  # (tmp_path holds the run's ledger and outputs)
    folder.mkdir()
    if via == "a link":
        via = str(folder / "out.html")
        os.symlink("/dev/stdout", via)
    log = folder / "job.log"
    command = [sys.executable, "-c", "from lmms_eval_client.cli import main; main()"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with log.open(mode) as stream:
        stream.write(b"line 1\n")
        stream.flush()
        done = subprocess.run(
            [*command, "runs", "report", str(made_run.ledger), "-o", via],
            stdout=stream,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=False,
            timeout=60,
            env=env,
        )
        stream.write(b"line 3\n")
    assert done.returncode == 0, done.stderr
    assert done.stderr.decode() == f"report written: {via}\n"
    text = log.read_text(encoding="utf-8")
    assert text.startswith("line 1\n<!DOCTYPE html>"), text[:100]
    assert text.endswith("</html>\nline 3\n"), text[-100:]
    assert "report written" not in text
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["job.log", *(["out.html"] if via.endswith("out.html") else [])]
    )


def test_run_report_reads_through_the_path_map_and_filesystem_it_is_given(
    made_run: MadeRun, tmp_path: Path
) -> None:
    # Before: run.report(path, path_map=...) (or filesystem=...), options the docstring says
    # are write_report's, raised TypeError: functools.partial() got multiple values for
    # keyword argument 'path_map' (the run passed its client's too).
    with EvalClient(made_run.base_url) as client, EvalRun(client, made_run.ledger) as run:
        info = run.job("step-400").info
        assert info is not None and info.result is not None
        (files,) = info.result.values()
        samples = Path(next(p for p in files.samples if p.endswith("_mme.jsonl")))
        served = samples.parent.parent  # the job's output_dir, as the server names it
        mounted = tmp_path / "mounted"
        shutil.copytree(served, mounted)
        copy = mounted / samples.relative_to(served)
        copy.write_text(copy.read_text(encoding="utf-8").replace("What is", "Mounted: what is"))
        out = tmp_path / "mapped.html"
        run.report(out, samples_job="step-400", path_map={str(served): str(mounted)})
        assert "Mounted: what is" in out.read_text(encoding="utf-8")
        run.report(out, samples_job="step-400", filesystem=None)
        assert "Mounted: what is" not in out.read_text(encoding="utf-8")


def test_a_page_to_another_processs_open_file_is_added_to_it(
    made_run: MadeRun, tmp_path: Path
) -> None:
    # -o /proc/PID/fd/1 of another process (its log): written in place after what the log
    # holds, never renamed over it (which the page's whole-or-nothing write did to a file).
    log = tmp_path / "other.log"
    with log.open("ab") as stream:
        stream.write(b"line 1\n")
        stream.flush()
        other = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=stream)
    inode = log.stat().st_ino
    try:
        write_report(made_run.ledger, f"/proc/{other.pid}/fd/1")
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=60)
    text = log.read_text(encoding="utf-8")
    assert text.startswith("line 1\n<!DOCTYPE html>") and text.endswith("</html>\n"), text[:80]
    assert log.stat().st_ino == inode
