"""``logs --follow`` (``result_commands.follow``): every line the log gains is printed once,
however repetitive the log and however much it grows between two reads. Driven by a
scripted client over a log file on disk, the log written between polls: no server, no
sleeping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from lmms_eval_client import EvalClient, JobInfo, eval_log_tail
from lmms_eval_client.cli.result_commands import follow

from ..support import job_json

LOG_NAME = "eval-20261202-050001.log"


def job(status: str, folder: Path) -> JobInfo:
    request = {"model": "qwen2_vl", "tasks": ["mme"], "output_dir": str(folder)}
    return JobInfo.model_validate(
        job_json(status, started_at="2026-12-02T05:00:00", request=request)
    )


class LogScript:
    """A client whose job runs for ``len(writes)`` polls and then completes; between two
    polls (in its ``sleep``) the next of ``writes`` is appended to the job's log."""

    def __init__(self, folder: Path, first: str, writes: list[str]) -> None:
        self.path_map: dict[str, str] = {}
        self.filesystem = None
        self.folder = folder
        self.log = folder / LOG_NAME
        self.log.write_text(first, encoding="utf-8")
        self.writes: Iterator[str] = iter(writes)
        self.polls_left = len(writes)
        self.sleeps = 0

    def get_job(self, job_id: str) -> JobInfo:
        return job("running" if self.polls_left > 0 else "completed", self.folder)

    def eval_log(self, job: JobInfo, lines: int) -> str:
        return eval_log_tail(job, lines=lines)

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.polls_left -= 1
        with self.log.open("a", encoding="utf-8") as log:
            log.write(next(self.writes))


def followed(capsys: pytest.CaptureFixture[str], script: LogScript, lines: int = 0) -> list[str]:
    done = follow(
        cast(EvalClient, script), "a", lines=lines, poll_interval=1.0, json_out=False,
        sleep=script.sleep,
    )  # fmt: skip
    assert done.status == "completed"
    return capsys.readouterr().out.splitlines()


def test_a_repeated_line_is_printed_each_time_it_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # more repeats than any window of lines: which repeat is new cannot be told by content
    script = LogScript(tmp_path, "start\n" + "same\n" * 2100, ["same\n" * 5 + "end\n", ""])
    assert followed(capsys, script) == ["same"] * 5 + ["end"]


def test_everything_written_between_two_reads_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    burst = "".join(f"line {n:06d} {'x' * 40}\n" for n in range(30_000))  # 1.5 MB
    script = LogScript(tmp_path, "start\n", [burst, "end\n"])
    out = followed(capsys, script)
    assert out == [f"line {n:06d} {'x' * 40}" for n in range(30_000)] + ["end"]


def test_the_tail_first_then_only_new_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = LogScript(tmp_path, "a\nb\nc\n", ["d\n", "e\n"])
    assert followed(capsys, script, lines=2) == ["b", "c", "d", "e"]


def test_a_line_is_printed_once_it_ends_as_its_last_redraw(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a progress bar redraws its line (\r) and ends it (\n) when done
    script = LogScript(tmp_path, "start\n", ["10%\r", "50%\r", "100%\nnext"])
    assert followed(capsys, script) == ["100%", "next"]  # the last line: at the job's end


def test_a_log_written_anew_is_read_from_its_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = LogScript(tmp_path, "start\n" + "old line\n" * 10, ["", ""])
    writes = iter(["short\n", "more\n"])

    def rewrite(seconds: float) -> None:  # the first write truncates the log
        script.polls_left -= 1
        text = next(writes)
        if script.polls_left == 1:
            script.log.write_text(text, encoding="utf-8")
        else:
            with script.log.open("a", encoding="utf-8") as log:
                log.write(text)

    script.sleep = rewrite  # type: ignore[method-assign]
    assert followed(capsys, script) == ["short", "more"]


def test_a_secret_in_a_new_line_is_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = LogScript(tmp_path, "start\n", ["model_args: api_key=sk-abcdef123456\n"])
    (line,) = followed(capsys, script)
    assert "sk-abcdef123456" not in line and "api_key=" in line


def test_a_last_line_longer_than_a_read_is_not_taken_for_a_new_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The review: a progress bar redrawn with \r only, past 1 MiB, left no line break in
    # the tail's read: its offset went past the log's end, so the next read took the log
    # for a new one and printed it again from its start.
    bar = "".join(f"\r{n:07d}" for n in range(150_000))  # 1.2 MB, no line break
    script = LogScript(tmp_path, "start\nsecond\n" + bar, ["", "\ndone\n"])
    out = followed(capsys, script)  # no tail asked for: only what the log gains
    assert "start" not in out and "second" not in out
    assert out[-1] == "done"


def test_a_new_log_of_the_job_is_read_from_its_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The review: a log replaced by another file, longer, was read on from the old offset
    # (its start cut off).
    script = LogScript(tmp_path, "old line\n", ["", ""])
    steps = iter(["new", ""])

    def another_log(seconds: float) -> None:
        script.polls_left -= 1
        if next(steps) == "new":  # the job's output folder gets a later log, longer
            script.log.rename(tmp_path / "eval-20261202-040000.log")  # (an earlier one)
            (tmp_path / "eval-20261202-050002.log").write_text(
                "the first line of the new log\nand its second\n", encoding="utf-8"
            )

    script.sleep = another_log  # type: ignore[method-assign]
    assert followed(capsys, script) == ["the first line of the new log", "and its second"]
