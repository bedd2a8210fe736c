"""Issue 20, items 4 and 9: a path the server reports is read within bounds, and never hangs.

Only regular files are opened (a FIFO blocks whoever opens it, ``/dev/zero`` never ends),
a results file is read up to ``max_bytes`` and a samples line up to ``max_line_bytes``,
in bounded chunks, and what is too big or too deep is a typed error naming the file.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import fsspec
import pytest

from lmms_eval_client import (
    EvalResults,
    InvalidArgumentError,
    JobInfo,
    ResultsError,
    ResultsFormatError,
    ResultsNotReachableError,
    ResultsTooLargeError,
    eval_log_tail,
    iter_samples,
    load_job_results,
    results_of_job,
)
from lmms_eval_client._results import bounded
from lmms_eval_client._results.files import results_summary

from ._untrusted import StreamFS, fifo_watchdog
from .conftest import MODEL, SINGLE, SINGLE_SAMPLES, job_info

MiB = 1024 * 1024


def job_at(results: str, samples: list[str] | None = None) -> JobInfo:
    """A completed job whose results file the server says is at ``results``."""
    return job_info(result={MODEL: {"results": results, "samples": samples or []}})


# -- only regular files are opened ----------------------------------------------------------


def test_a_fifo_as_a_results_file_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "20261202_055237_results.json"
    with fifo_watchdog(fifo) as fired:
        with pytest.raises(ResultsFormatError, match="not a regular file") as caught:
            load_job_results(job_at(str(fifo)))
        assert results_summary(job_at(str(fifo))) is None  # what a run records
    assert not fired, "opening the FIFO blocked until the watchdog wrote to it"
    assert caught.value.path == str(fifo)
    assert "a FIFO" in str(caught.value)


def test_a_fifo_as_a_samples_file_or_a_log_is_refused_without_hanging(tmp_path: Path) -> None:
    samples = tmp_path / "20261202_055237_samples_e2e_arith.jsonl"
    log = tmp_path / "eval-20261201-215203.log"
    with fifo_watchdog(samples) as fired, fifo_watchdog(log) as fired_too:
        with pytest.raises(ResultsFormatError, match="not a regular file"):
            list(iter_samples(samples))
        with pytest.raises(ResultsFormatError, match="not a regular file"):
            eval_log_tail(str(log))
    assert not fired and not fired_too


def test_a_fifo_swapped_in_after_the_check_is_not_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The path is checked before it is opened; the file opened is checked again, and is
    # opened without waiting for a writer, so a FIFO put there in between cannot block.
    fifo = tmp_path / "20261202_055237_results.json"
    real_stat = os.stat

    def stat_of_a_regular_file_at_first(path: object, *args: object, **kwargs: object) -> object:
        return real_stat(SINGLE) if str(path) == str(fifo) else real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "stat", stat_of_a_regular_file_at_first)
    with fifo_watchdog(fifo) as fired, pytest.raises(ResultsFormatError, match="regular file"):
        EvalResults.load(fifo)
    assert not fired


def test_a_fifo_through_fsspec_is_refused_without_hanging(tmp_path: Path) -> None:
    fifo = tmp_path / "20261202_055237_results.json"
    local = fsspec.filesystem("file")
    with fifo_watchdog(fifo) as fired:
        with pytest.raises(ResultsFormatError, match="not a regular file") as caught:
            load_job_results(job_at(str(fifo)), filesystem=local)
        with pytest.raises(ResultsFormatError, match="not a regular file"):
            EvalResults.load(fifo.as_uri())
    assert not fired
    assert "'other'" in str(caught.value)  # what fsspec's info() calls it


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_is_refused_before_anything_is_read() -> None:
    assert stat.S_ISCHR(os.stat("/dev/zero").st_mode)
    with pytest.raises(ResultsFormatError, match="not a regular file") as caught:
        load_job_results(job_at("/dev/zero"))
    assert "a character device" in str(caught.value)
    with pytest.raises(ResultsFormatError, match="not a regular file"):
        list(iter_samples("/dev/zero"))


def test_a_symlink_to_a_regular_file_is_read(tmp_path: Path) -> None:
    link = tmp_path / "20261202_055237_results.json"
    link.symlink_to(SINGLE)
    assert EvalResults.load(link).metric("e2e_arith", "exact_match").value == 0.8


# -- a results file is read up to max_bytes -------------------------------------------------


def test_a_results_file_beyond_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "20261202_055237_results.json"
    shutil.copyfile(SINGLE, path)
    size = path.stat().st_size
    assert EvalResults.load(path, max_bytes=size).tasks == ["e2e_arith"]  # up to it: fine
    with pytest.raises(ResultsTooLargeError) as caught:
        EvalResults.load(path, max_bytes=size - 1)
    err = caught.value
    assert isinstance(err, ResultsError)
    assert (err.path, err.limit) == (str(path), size - 1)
    assert "max_bytes" in str(err) and str(path) in str(err)


def test_a_jobs_results_file_beyond_max_bytes(tmp_path: Path) -> None:
    path = tmp_path / "20261202_055237_results.json"
    shutil.copyfile(SINGLE, path)
    with pytest.raises(ResultsTooLargeError) as caught:
        results_of_job(job_at(str(path)), max_bytes=100)
    assert caught.value.limit == 100
    with pytest.raises(ResultsTooLargeError):
        load_job_results(job_at(str(path)), max_bytes=100)


def test_an_endless_results_file_is_read_only_up_to_the_limit() -> None:
    fs = StreamFS(20 * MiB)
    with pytest.raises(ResultsTooLargeError) as caught:
        EvalResults.load("/srv/x_results.json", filesystem=fs, max_bytes=MiB)
    assert caught.value.limit == MiB
    assert fs.stream.read_so_far <= MiB + bounded.CHUNK_BYTES


def test_the_default_limits_are_generous_and_finite() -> None:
    limits = (bounded.DEFAULT_MAX_RESULTS_BYTES, bounded.DEFAULT_MAX_LINE_BYTES)
    assert limits == (256 * MiB, 64 * MiB)


@pytest.mark.parametrize("bad", [0, -1, True, 1.5, "1"])
def test_bad_limits(bad: object) -> None:
    with pytest.raises(InvalidArgumentError, match="max_bytes"):
        EvalResults.load(SINGLE, max_bytes=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="max_line_bytes"):
        iter_samples(SINGLE_SAMPLES, max_line_bytes=bad)  # type: ignore[arg-type]


# -- a samples line is read up to max_line_bytes (issue 20, item 9) -------------------------


def _samples_with_long_line(tmp_path: Path, size: int) -> Path:
    lines = SINGLE_SAMPLES.read_bytes().splitlines(keepends=True)
    long = b'{"doc_id": 99, "target": "' + b"x" * size + b'"}\n'
    lines.insert(2, long)
    path = tmp_path / "20261202_055237_samples_e2e_arith.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_a_samples_line_beyond_max_line_bytes(tmp_path: Path) -> None:
    path = _samples_with_long_line(tmp_path, 5000)
    rows = iter_samples(path, max_line_bytes=1000)
    assert [next(rows).doc_id, next(rows).doc_id] == [0, 1]
    with pytest.raises(ResultsTooLargeError) as caught:
        next(rows)
    err = caught.value
    assert (err.path, err.line, err.limit) == (str(path), 3, 1000)
    assert f"{path}, line 3" in str(err) and "max_line_bytes" in str(err)
    # with room for it, the same file reads
    assert len(list(iter_samples(path, max_line_bytes=6000))) == 6


def test_the_samples_of_results_take_max_line_bytes(tmp_path: Path) -> None:
    _samples_with_long_line(tmp_path, 5000)
    shutil.copyfile(SINGLE, tmp_path / SINGLE.name)
    results = EvalResults.load(tmp_path / SINGLE.name)
    with pytest.raises(ResultsTooLargeError):
        list(results.samples("e2e_arith", max_line_bytes=1000))
    assert len(list(results.samples("e2e_arith"))) == 6


def test_a_line_that_never_ends_is_read_in_bounded_chunks() -> None:
    # A 1 GB line took 3.15 GB and a raw MemoryError (or "not reachable"); now the reading
    # stops at the limit, before the line is held whole.
    fs = StreamFS(20 * MiB)
    with pytest.raises(ResultsTooLargeError) as caught:
        list(iter_samples("/srv/x_samples_t.jsonl", filesystem=fs, max_line_bytes=MiB))
    assert caught.value.line == 1
    assert not isinstance(caught.value, ResultsNotReachableError)
    assert fs.stream.read_so_far <= MiB + 2 * bounded.CHUNK_BYTES


def test_many_short_lines_are_not_one_long_one(tmp_path: Path) -> None:
    line = SINGLE_SAMPLES.read_bytes().splitlines(keepends=True)[0]
    path = tmp_path / "s.jsonl"
    path.write_bytes(line * 2000)  # far more than max_line_bytes in all
    assert sum(1 for _ in iter_samples(path, max_line_bytes=len(line))) == 2000


@pytest.mark.parametrize("depth", [300, 5000, 100_000])
def test_a_samples_line_nested_too_deeply(tmp_path: Path, depth: int) -> None:
    lines = SINGLE_SAMPLES.read_bytes().splitlines(keepends=True)
    lines.insert(1, b'{"doc_id": 7, "input": ' + b"[" * depth + b"]" * depth + b"}\n")
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(lines))
    rows = iter_samples(path)
    assert next(rows).doc_id == 0
    with pytest.raises(ResultsFormatError) as caught:
        next(rows)
    assert caught.value.line == 2
    assert f"{path}, line 2" in str(caught.value)
    assert "nested too deeply" in str(caught.value)
    assert len(str(caught.value)) < 400  # not a path of one step per level


def test_a_results_file_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "x_results.json"
    path.write_bytes(b'{"results": {}, "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(ResultsFormatError, match="nested too deeply"):
        EvalResults.load(path)
