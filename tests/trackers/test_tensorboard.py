"""TensorBoardSink: event files read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from lmms_eval_client import MetricRowLike, TensorBoardSink
from lmms_eval_client._trackers.writes import MemorySinkWrites, deliver

from ._rows import job, scalars


def test_scalars_land_at_their_steps_in_any_order_and_across_restarts(tmp_path: Path) -> None:
    log_dir = tmp_path / "tb"
    writes = MemorySinkWrites()
    finished = {3: job(3, 300, mme__acc=0.3), 1: job(1, 100, mme__acc=0.1)}
    with TensorBoardSink(log_dir) as sink:
        assert deliver([sink], finished, writes) == {sink.name: [1, 3]}
    finished[2] = job(2, 200, mme__acc=0.2)  # later, at a lower step, by a new process
    with TensorBoardSink(log_dir) as again:
        assert deliver([again], finished, writes) == {again.name: [2]}
    assert len(list(log_dir.glob("events.out.tfevents.*"))) == 2
    # Each point at its step; the order they are read in follows the two files' names,
    # which share their second when written this fast (it failed once in ten runs).
    assert sorted(scalars(log_dir, "eval/mme/acc")) == [(100, 0.1), (200, 0.2), (300, 0.3)]


class Flaky(TensorBoardSink):
    """A real TensorBoard sink whose first writes fail (a full disk, a lost mount)."""

    failures = 2

    def write(self, rows: Sequence[MetricRowLike], step: int) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("No space left on device")
        super().write(rows, step)


def test_a_failing_sink_writes_every_value_later_exactly_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_dir = tmp_path / "tb"
    writes = MemorySinkWrites()
    finished = {1: job(1, 10, mme__acc=0.1, mmmu__acc=0.5)}
    with Flaky(log_dir) as sink:
        for _ in range(2):  # two polls while it fails: nothing written, nothing raised
            assert deliver([sink], finished, writes) == {}
        finished[2] = job(2, 20, mme__acc=0.2, mmmu__acc=0.6)
        assert deliver([sink], finished, writes) == {sink.name: [1, 2]}
        for _ in range(2):
            assert deliver([sink], finished, writes) == {}
    assert caplog.text.count("OSError: No space left on device") == 2
    assert scalars(log_dir, "eval/mme/acc") == [(10, 0.1), (20, 0.2)]
    assert scalars(log_dir, "eval/mmmu/acc") == [(10, 0.5), (20, 0.6)]


def test_names_and_missing_values(tmp_path: Path) -> None:
    sink = TensorBoardSink(tmp_path / "x", metric_name="{model}/{task}/{metric}")
    assert sink.name == f"tensorboard:{(tmp_path / 'x').resolve()}"
    sink.write([], 5)
    assert not (tmp_path / "x").exists()  # nothing to write: no event file
    sink.close()


@pytest.mark.parametrize("log_dir", ["", None, 5])
def test_a_log_dir_that_names_no_folder_is_refused(log_dir: object) -> None:
    # Before: "" resolved to the working folder, which got the event files (an adversarial
    # try of `runs export --to tensorboard --log-dir ""`).
    from lmms_eval_client import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match="log_dir must be a non-empty path"):
        TensorBoardSink(log_dir)  # type: ignore[arg-type]


def test_an_event_file_that_failed_once_is_left_for_a_new_one(tmp_path: Path) -> None:
    # An adversarial try: after one write failed (a full disk: RLIMIT_FSIZE), the sink kept
    # its broken event file writer, and every later write failed the same way until the
    # process restarted, though the disk had room again.
    log_dir = tmp_path / "tb"
    writes = MemorySinkWrites()
    with TensorBoardSink(log_dir) as sink:
        assert deliver([sink], {1: job(1, 10, mme__acc=0.1)}, writes) == {sink.name: [1]}
        broken = sink._writer

        def full(*_: object) -> None:
            raise OSError(27, "File too large")

        broken.flush = full  # the disk full from now on, for this writer
        assert deliver([sink], {2: job(2, 20, mme__acc=0.2)}, writes) == {}
        assert deliver([sink], {2: job(2, 20, mme__acc=0.2)}, writes) == {sink.name: [2]}
        assert sink._writer is not broken
    assert (20, 0.2) in scalars(log_dir, "eval/mme/acc")
