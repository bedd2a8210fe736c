"""Sinks' bookkeeping, without a tracker: the step, the names, exactly-once delivery."""

from __future__ import annotations

import logging
import pickle
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import pytest

from lmms_eval_api.models import EvaluateRequest
from lmms_eval_client import (
    CallbackSink,
    InvalidArgumentError,
    LedgerBusyError,
    MetricRowLike,
    StepLabelError,
    TrackerError,
    export_to,
)
from lmms_eval_client._runs.ledger import Ledger
from lmms_eval_client._trackers.base import (
    TemplateSink,
    check_step_labels,
    metric_name,
    step_of,
)
from lmms_eval_client._trackers.writes import (
    DeliveryFailures,
    LedgerSinkWrites,
    MemorySinkWrites,
    deliver,
    record_written,
    written,
)

from ._rows import Row, job

REQUEST = EvaluateRequest.from_dict({"model": "qwen2_vl", "tasks": ["mme"]})


class Collected:
    """A destination that fails its first ``failures`` writes (a tracker down), then keeps
    every (step, name, value) it is given."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.points: list[tuple[int, str, float | None]] = []

    def __call__(self, rows: Sequence[MetricRowLike], step: int) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("tracker down")
        self.points += [(step, f"{r.task}/{r.metric}", r.value) for r in rows]


def make_jobs(ledger: Ledger, count: int) -> None:
    for i in range(count):
        ledger.record_intent(
            token=f"t{i}", labels={}, request=REQUEST, server="s", owner="o", snapshot={}
        )


def test_the_step_comes_from_the_label() -> None:
    assert step_of({"step": 1200}, "step", seq=1) == 1200
    assert step_of({"step": " -5 "}, "step", seq=1) == -5
    assert step_of({"step": 2**63 - 1}, "step", seq=1) == 2**63 - 1
    assert step_of({"step": "1200", "other": 1}, "step", seq=1) == 1200
    assert step_of({"global_step": 30.0}, "global_step", seq=1) == 30
    assert step_of({}, None, seq=7) == 7  # no step label: the submission order
    # an adversarial try: int() refuses more than 4,300 digits (a raw ValueError, and the
    # command line's traceback), leading zeros included
    assert step_of({"step": "0" * 4400 + "7"}, "step", seq=1) == 7
    assert step_of({"step": "-000" + str(2**63)}, "step", seq=1) == -(2**63)
    with pytest.raises(StepLabelError, match=r"not an integer") as caught:
        step_of({"step": "9" * 5000}, "step", seq=1)
    assert len(str(caught.value)) < 1000  # the label shown clipped


@pytest.mark.parametrize(
    "labels",
    [{}, {"step": "soon"}, {"step": True}, {"step": 1.5},
     # beyond the int64 steps trackers store (a tracker would refuse the job at every poll)
     {"step": 2**63}, {"step": -(2**63) - 1}, {"step": str(2**70)}, {"step": 1e300},
     # not plainly decimal: int() reads them, a person would not
     {"step": "1_000"}, {"step": "\u0661\u0662"}],
    ids=repr,
)  # fmt: skip
def test_a_job_without_a_usable_step_is_a_typed_error(labels: dict[str, object]) -> None:
    with pytest.raises(StepLabelError, match="step") as caught:
        step_of(labels, "step", seq=4)
    assert caught.value.seq == 4 and caught.value.step_label == "step"
    again = pickle.loads(pickle.dumps(caught.value))
    assert str(again) == str(caught.value) and again.seq == 4
    with pytest.raises(StepLabelError, match=r"labels=\{'step': global_step\}"):
        check_step_labels([CallbackSink(print)], labels)
    check_step_labels([CallbackSink(print, step_label=None)], labels)


def test_metric_names_append_a_filter_other_than_none() -> None:
    row = Row(seq=1, task="gsm8k", metric="exact_match", value=0.5, filter="strict-match")
    assert metric_name("eval/{task}/{metric}", row) == "eval/gsm8k/exact_match/strict-match"
    plain = Row(seq=1, task="mme", metric="acc", value=0.5)
    assert metric_name("eval/{task}/{metric}", plain) == "eval/mme/acc"
    assert metric_name("{model}.{task}.{metric}.{filter}", row) == (
        "qwen2_vl.gsm8k.exact_match.strict-match"
    )
    labelled = Row(seq=1, task="mme", metric="acc", value=0.5, labels={"run": "a"})
    assert metric_name("{labels[run]}/{task}/{metric}", labelled) == "a/mme/acc"


def test_a_failing_sink_gets_every_value_later_exactly_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    destination = Collected(failures=2)
    sink = CallbackSink(destination, name="flaky")
    writes = MemorySinkWrites()
    jobs = {1: job(1, 100, mme__acc=0.1), 2: job(2, 200, mme__acc=0.2)}
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert deliver([sink], jobs, writes) == {}  # down: nothing written, nothing raised
        assert deliver([sink], jobs, writes) == {}
    assert destination.points == []
    assert [r.getMessage() for r in caplog.records] == [
        "<CallbackSink step_label='step'> could not write job 1 (tried again at each poll; "
        "said again when it writes): ConnectionError: tracker down"
    ] * 2  # (no DeliveryFailures kept across the calls: said at each)
    assert deliver([sink], jobs, writes) == {"flaky": [1, 2]}
    jobs[3] = job(3, 50, mme__acc=0.3)  # finished late, at an earlier step
    assert deliver([sink], jobs, writes) == {"flaky": [3]}
    assert deliver([sink], jobs, writes) == {}
    assert destination.points == [
        (100, "mme/acc", 0.1),
        (200, "mme/acc", 0.2),
        (50, "mme/acc", 0.3),
    ]


class RecordFailsOnce(MemorySinkWrites):
    """The ledger out once, as a write is recorded (a lock held long, a database restart)."""

    def __init__(self) -> None:
        super().__init__()
        self.out = True

    def record(self, sink: str, seqs: Sequence[int]) -> None:
        if self.out:
            self.out = False
            raise LedgerBusyError("the ledger is locked", path="evals.sqlite")
        super().record(sink, seqs)


def test_a_write_whose_record_failed_is_recorded_later_not_written_again() -> None:
    # An adversarial try: the tracker took job 1, then recording it in the ledger failed;
    # the next poll wrote it again (TensorBoard: two points at one step).
    destination = Collected()
    sink = CallbackSink(destination, name="c")
    writes, failures = RecordFailsOnce(), DeliveryFailures()
    jobs = {1: job(1, 100, mme__acc=0.1), 2: job(2, 200, mme__acc=0.2)}
    with pytest.raises(LedgerBusyError):
        deliver([sink], jobs, writes, failures)
    assert deliver([sink], jobs, writes, failures) == {"c": [1, 2]}
    assert writes.written("c") == {1, 2}
    assert destination.points == [(100, "mme/acc", 0.1), (200, "mme/acc", 0.2)]


def test_a_delivery_stops_between_two_jobs_once_its_run_closes() -> None:
    # A run's close waits for the job being written, not for a tracker's whole backlog.
    failures, steps = DeliveryFailures(), []

    def write(rows: Sequence[MetricRowLike], step: int) -> None:
        steps.append(step)
        failures.stopping = True  # the run closes meanwhile

    jobs = {1: job(1, 100, mme__acc=0.1), 2: job(2, 200, mme__acc=0.2)}
    writes = MemorySinkWrites()
    assert deliver([CallbackSink(write, name="c")], jobs, writes, failures) == {"c": [1]}
    assert steps == [100] and writes.written("c") == {1}


def test_a_tracker_down_for_many_polls_is_said_once_and_once_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An adversarial try: a tracker down for 15 s of 0.5 s polls logged 67 warnings.
    destination = Collected(failures=5)
    sink, writes, failures = (
        CallbackSink(destination, name="c"),
        MemorySinkWrites(),
        DeliveryFailures(),
    )
    jobs = {1: job(1, 100, mme__acc=0.1)}
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        for _ in range(5):
            assert deliver([sink], jobs, writes, failures) == {}
        assert deliver([sink], jobs, writes, failures) == {"c": [1]}
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 2, said
    assert "could not write job 1 (tried again at each poll" in said[0]
    assert "ConnectionError: tracker down" in said[0] and "writes again" in said[1]


def test_a_job_without_its_step_label_does_not_hold_back_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    destination = Collected()
    sink = CallbackSink(destination, name="c")
    jobs = {1: job(1, None, mme__acc=0.1), 2: job(2, 200, mme__acc=0.2)}
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert deliver([sink], jobs, MemorySinkWrites()) == {"c": [2]}
    assert "StepLabelError: Job 1 has no label 'step'" in caplog.text
    assert destination.points == [(200, "mme/acc", 0.2)]


def test_the_ledger_records_what_each_sink_wrote_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "run.sqlite"
    first, second = Collected(), Collected()
    ledger = Ledger(path)
    make_jobs(ledger, 3)
    jobs = {1: job(1, 10, mme__acc=0.1), 2: job(2, 20, mme__acc=0.2)}
    sinks = [CallbackSink(first, name="a"), CallbackSink(second, name="b", step_label=None)]
    assert deliver(sinks, jobs, LedgerSinkWrites(ledger)) == {"a": [1, 2], "b": [1, 2]}
    ledger.close()

    reopened = Ledger(path)  # a resumed run
    writes = LedgerSinkWrites(reopened)
    assert writes.written("a") == {1, 2}
    jobs[3] = job(3, 30, mme__acc=0.3)
    assert deliver(sinks, jobs, writes) == {"a": [3], "b": [3]}
    assert first.points == [(10, "mme/acc", 0.1), (20, "mme/acc", 0.2), (30, "mme/acc", 0.3)]
    assert [p[0] for p in second.points] == [1, 2, 3]  # step_label=None: the seqs
    rows = reopened.rows("SELECT sink, seq FROM sink_writes ORDER BY sink, seq")
    assert [(r["sink"], r["seq"]) for r in rows] == [
        ("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("b", 3),
    ]  # fmt: skip
    reopened.close()


def test_the_table_functions_work_in_a_callers_transaction(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "run.sqlite")
    make_jobs(ledger, 2)
    with ledger.transaction("test") as conn:
        record_written(conn, "mlflow:x:1", [1, 2], now=5.0)
        record_written(conn, "mlflow:x:1", [2], now=9.0)  # again: kept once, first time
        assert written(conn, "mlflow:x:1") == {1, 2}
        assert written(conn, "other") == set()
        with pytest.raises(sqlite3.IntegrityError):  # only jobs of this run
            record_written(conn, "mlflow:x:1", [99])
    assert ledger.rows("SELECT seq, at FROM sink_writes ORDER BY seq") == [
        {"seq": 1, "at": 5.0},
        {"seq": 2, "at": 5.0},
    ]
    ledger.close()


class NameCounted(CallbackSink):
    """A CallbackSink that counts the reads of its name (an MLflow or W&B sink reaches its
    tracker there: it finds or creates the run)."""

    reads = 0

    @property
    def name(self) -> str:
        self.reads += 1
        return super().name


def test_export_checks_every_jobs_step_before_it_reaches_the_sink() -> None:
    # A wrong --step-label is a usage error: the tracker is not contacted (no MLflow run is
    # created for it), and no job is written, not even those before the one without it.
    destination = Collected()
    sink = NameCounted(destination, name="export")
    rows = [*job(1, 10, mme__acc=0.1), *job(2, None, mme__acc=0.2), *job(3, 30, mme__acc=0.3)]
    with pytest.raises(StepLabelError, match="Job 2 has no label 'step'") as caught:
        export_to(sink, rows, writes=MemorySinkWrites())
    assert caught.value.seq == 2
    assert destination.points == []
    assert sink.reads == 0


def test_export_writes_each_job_once_and_raises_on_failure(tmp_path: Path) -> None:
    destination = Collected(failures=1)
    sink = CallbackSink(destination, name="export")
    writes = MemorySinkWrites()
    rows = [*job(2, 20, mme__acc=0.2, mmmu__acc=0.4), *job(1, 10, mme__acc=0.1)]
    with pytest.raises(TrackerError, match="export could not write job 1: ConnectionError"):
        export_to(sink, rows, writes=writes)
    assert export_to(sink, rows, writes=writes) == [1, 2]
    assert export_to(sink, rows, writes=writes) == []
    assert destination.points == [
        (10, "mme/acc", 0.1), (20, "mme/acc", 0.2), (20, "mmmu/acc", 0.4),
    ]  # fmt: skip


@pytest.mark.parametrize("userinfo", ["me:s3cret-token", "me:p@ss:s3cret", "s3cret@"])
def test_a_failures_log_holds_no_credentials(
    caplog: pytest.LogCaptureFixture, userinfo: str
) -> None:
    def down(rows: Sequence[MetricRowLike], step: int) -> None:
        raise ConnectionError(f"POST https://{userinfo}@mlflow.example/api failed")

    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        deliver([CallbackSink(down)], {1: job(1, 1, mme__acc=0.1)}, MemorySinkWrites())
    assert "https://***@mlflow.example/api failed" in caplog.text
    assert "s3cret" not in caplog.text


def test_a_job_a_tracker_refuses_does_not_hold_back_the_later_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    points: list[int] = []

    def refuses_step_100(rows: Sequence[MetricRowLike], step: int) -> None:
        if step == 100:
            raise ValueError("INVALID_PARAMETER_VALUE: this metric, never")
        points.append(step)

    sink = CallbackSink(refuses_step_100, name="picky")
    writes, failures = MemorySinkWrites(), DeliveryFailures()
    jobs = {1: job(1, 100, mme__acc=0.1), 2: job(2, 200, mme__acc=0.2)}
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        # The first failure, with nothing written yet: as likely a tracker down; stop there.
        assert deliver([sink], jobs, writes, failures) == {}
        # Next poll, the job that failed goes last: the others get through, it fails alone.
        assert deliver([sink], jobs, writes, failures) == {"picky": [2]}
        jobs[3] = job(3, 300, mme__acc=0.3)
        assert deliver([sink], jobs, writes, failures) == {"picky": [3]}
    assert points == [200, 300]
    assert caplog.text.count("could not write job 1") == 3  # said at each poll
    assert writes.written("picky") == {2, 3}  # job 1 stays due: tried again at each poll


def test_jobs_that_failed_in_an_outage_are_not_held_back_by_a_refused_one() -> None:
    up = False
    points: list[int] = []

    def tracker(rows: Sequence[MetricRowLike], step: int) -> None:
        if not up or step == 10:  # down at first; and job 1 (step 10) it always refuses
            raise ConnectionError("down" if not up else "refused")
        points.append(step)

    sink = CallbackSink(tracker, name="t")
    writes, failures = MemorySinkWrites(), DeliveryFailures()
    jobs = {seq: job(seq, seq * 10, mme__acc=0.1) for seq in (1, 2, 3)}
    deliver([sink], jobs, writes, failures)  # job 1 fails: the tracker is down
    deliver([sink], jobs, writes, failures)  # job 2 fails: still down
    up = True
    # Tried 3, then 1 and 2 (one failure each): 3 got through, so 1's refusal is its own
    # and 2 is still tried at this poll.
    assert deliver([sink], jobs, writes, failures) == {"t": [3, 2]}
    assert points == [30, 20]


def test_a_tracker_going_down_during_a_poll_is_not_tried_for_every_job() -> None:
    # The review of 9390659: once a job got through, every later failure counted as that
    # job's own, so a tracker that went down mid-poll was tried once per job (50 tries).
    calls = 0

    def fails_after_the_first(rows: Sequence[MetricRowLike], step: int) -> None:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionError("down")

    sink = CallbackSink(fails_after_the_first, name="t")
    jobs = {seq: job(seq, seq, mme__acc=0.1) for seq in range(1, 51)}
    assert deliver([sink], jobs, MemorySinkWrites(), DeliveryFailures()) == {"t": [1]}
    assert calls == 3  # 1 written, then two failures in a row: down


def test_a_tracker_down_is_tried_once_per_poll() -> None:
    destination = Collected(failures=10)
    calls = 0

    def counted(rows: Sequence[MetricRowLike], step: int) -> None:
        nonlocal calls
        calls += 1
        destination(rows, step)

    sink = CallbackSink(counted, name="down")
    writes, failures = MemorySinkWrites(), DeliveryFailures()
    jobs = {seq: job(seq, seq * 10, mme__acc=0.1) for seq in (1, 2, 3)}
    for _ in range(3):
        assert deliver([sink], jobs, writes, failures) == {}
    assert calls == 3
    destination.failures = 0
    assert deliver([sink], jobs, writes, failures) == {"down": [1, 2, 3]}  # each once
    assert [step for step, _, _ in destination.points] == [10, 20, 30]


def test_export_raises_a_typed_error_without_credentials() -> None:
    def down(rows: Sequence[MetricRowLike], step: int) -> None:
        raise ConnectionError("API request to http://alice:S3CRETPW@127.0.0.1:9/api failed")

    with pytest.raises(TrackerError) as caught:
        export_to(CallbackSink(down, name="tracker"), job(1, 10, mme__acc=0.1))
    error = caught.value
    assert "S3CRETPW" not in str(error) and "S3CRETPW" not in repr(error)
    assert "http://***@127.0.0.1:9/api failed" in str(error) and "job 1" in str(error)
    assert error.sink == "tracker" and error.seq == 1
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.seq == 1 and again.sink == "tracker"
    assert error.__cause__ is None and error.__suppress_context__


def test_a_run_refuses_two_sinks_of_one_name(tmp_path: Path) -> None:
    from lmms_eval_client import EvalClient, EvalRun, InvalidArgumentError

    sinks = [CallbackSink(lambda rows, step: None), CallbackSink(lambda rows, step: None)]
    with (
        EvalClient("http://127.0.0.1:9") as client,
        pytest.raises(InvalidArgumentError, match="name="),
    ):
        EvalRun(client, tmp_path / "run.sqlite", sinks=sinks)
    assert not (tmp_path / "run.sqlite").exists()  # refused before the ledger is made


class Unreachable(CallbackSink):
    """A sink whose destination cannot be resolved at first (an MLflow run to look up)."""

    misses = 1

    @property
    def name(self) -> str:
        if self.misses:
            self.misses -= 1
            raise ConnectionError("tracker down")
        return "resolved"


def test_a_sink_whose_name_cannot_be_resolved_yet_is_tried_at_the_next_poll() -> None:
    destination = Collected()
    sink = Unreachable(destination)
    writes = MemorySinkWrites()
    jobs = {1: job(1, 10, mme__acc=0.1)}
    assert deliver([sink], jobs, writes) == {}
    assert deliver([sink], jobs, writes) == {"resolved": [1]}
    assert destination.points == [(10, "mme/acc", 0.1)]


class Named(CallbackSink):
    """A custom sink whose name is what it is given (a str, or not)."""

    def __init__(self, name: object, destination: Collected) -> None:
        super().__init__(destination, name="x")
        self._given = name

    @property
    def name(self) -> str:
        return self._given  # type: ignore[return-value]


def test_a_sink_named_by_no_str_is_said_and_the_others_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An adversarial try: a raw TypeError from the sort of the names, or the ledger's NOT
    # NULL constraint, from every poll.
    good = Collected()
    sinks = [Named(None, Collected()), Named(7, Collected()), CallbackSink(good, name="good")]
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        assert deliver(sinks, {1: job(1, 10, mme__acc=0.1)}, MemorySinkWrites()) == {"good": [1]}
    assert caplog.text.count("name must be a non-empty str") == 2
    assert good.points == [(10, "mme/acc", 0.1)]


def test_a_second_sink_of_the_same_destination_is_said_not_left_unwritten_in_silence(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An adversarial try: two TensorBoardSinks of one folder (two metric_name templates), or
    # two MLflowSinks of one run: the ledger records one write per name, so the second was
    # never written, and nothing said so.
    first, second = Collected(), Collected()
    sinks = [Named("tb:/logs", first), Named("tb:/logs", second)]
    failures = DeliveryFailures()
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        for _ in range(2):
            deliver(sinks, {1: job(1, 10, mme__acc=0.1)}, MemorySinkWrites(), failures)
    assert caplog.text.count("writes to tb:/logs as another sink of the run does") == 1
    assert second.points == []


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_trackers_error_is_told_clipped_and_even_without_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The adversarial try of the sinks: a tracker's 50 MB answer made a 50 MB warning and
    # TrackerError; an error whose str() fails stopped the run (the guide: never).
    def huge(rows: Sequence[MetricRowLike], step: int) -> None:
        raise ValueError("x" * 5_000_000)

    def mute(rows: Sequence[MetricRowLike], step: int) -> None:
        raise Unprintable()

    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        deliver([CallbackSink(huge, name="a"), CallbackSink(mute, name="b")],
                {1: job(1, 1, mme__acc=0.1)}, MemorySinkWrites())  # fmt: skip
    assert len(caplog.text) < 10_000 and "5000000 characters" in caplog.text
    assert "Unprintable" in caplog.text
    with pytest.raises(TrackerError) as caught:
        export_to(CallbackSink(huge, name="a"), job(1, 10, mme__acc=0.1))
    assert len(str(caught.value)) < 10_000
    with pytest.raises(TrackerError, match="Unprintable"):
        export_to(CallbackSink(mute, name="b"), job(1, 10, mme__acc=0.1))


class Keeping(TemplateSink):
    """A tracker's sink (values named by its template) that keeps what it is given."""

    name = "cb"

    def __init__(self, metric_name: str) -> None:
        super().__init__(metric_name=metric_name, step_label="step", stderr=True)
        self.values: list[dict[str, float]] = []

    def _write_values(
        self, values: dict[str, float], step: int, rows: Sequence[MetricRowLike]
    ) -> None:
        self.values.append(values)


def test_two_values_of_one_job_under_one_name_are_refused_not_one_lost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The adversarial try of the sinks: metric_name="eval/{metric}" over two tasks wrote
    # one value and dropped the other in silence.
    sink = Keeping(metric_name="eval/{metric}")
    jobs = {1: job(1, 1, mme__acc=0.1, gqa__acc=0.9), 2: job(2, 2, mme__acc=0.2)}
    with caplog.at_level(logging.WARNING, logger="lmms_eval_client"):
        done = deliver([sink], jobs, MemorySinkWrites())
    assert done == {"cb": [2]}  # the other job is not held back
    assert "names both mme acc,none and gqa acc,none 'eval/acc'" in caplog.text
    with pytest.raises(InvalidArgumentError, match="put \\{task\\}"):
        export_to(sink, jobs[1])
