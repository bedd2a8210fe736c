"""What each sink has written, and writing what it has not: ``deliver`` (each poll of a run)
and ``export_to`` (a finished run, from the command line).

The record is a table of the run's ledger, ``sink_writes``: one row per (sink name, job
seq) written. A job is recorded right after its write to a sink succeeds, one transaction
each, so a run that resumes writes every job a sink has not taken and none it has. (A
process killed between a tracker's answer and that commit writes that one job again when
it resumes: trackers keep both points.)

The table is part of the ledger's schema from version 5 (``ledger_schema.SINK_WRITES_DDL``);
a ledger of an older schema opened read-only (an export) has none: nothing written yet.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from .._exceptions import InvalidArgumentError, LmmsEvalError
from .._log import Recurring, logger
from .._text import clip, shown, without_userinfo
from .base import MetricRowLike, Sink, TrackerError, step_of

if TYPE_CHECKING:
    from .._runs.ledger import Ledger
    from .._runs.ledger_store import LedgerConnection


def written(conn: LedgerConnection, sink: str) -> set[int]:
    """The seqs of the jobs the sink named ``sink`` has written (read in ``conn``)."""
    cursor = conn.execute("SELECT seq FROM sink_writes WHERE sink = ?", (sink,))
    return {int(row[0]) for row in cursor.fetchall()}


def record_written(
    conn: LedgerConnection, sink: str, seqs: Iterable[int], now: float | None = None
) -> None:
    """Record that the sink named ``sink`` wrote these jobs (in ``conn``'s transaction; a
    job recorded before keeps its first time)."""
    at = time.time() if now is None else now
    conn.executemany(
        "INSERT INTO sink_writes (sink, seq, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(sink, seq, at) for seq in seqs],
    )


class SinkWrites(Protocol):
    """Where ``deliver`` and ``export_to`` keep which jobs each sink has written."""

    def written(self, sink: str) -> set[int]:
        """The seqs the sink named ``sink`` has written."""
        ...

    def record(self, sink: str, seqs: Sequence[int]) -> None:
        """Record that the sink wrote these jobs (durably, before returning)."""
        ...


class LedgerSinkWrites:
    """The ``sink_writes`` table of a run's ledger (one write transaction per record)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def written(self, sink: str) -> set[int]:
        """The seqs the sink named ``sink`` has written, as the ledger holds them."""
        if not self.ledger.store.has_table("sink_writes"):
            return set()  # (an older ledger opened read-only: nothing written)
        rows = self.ledger.rows("SELECT seq FROM sink_writes WHERE sink = ?", (sink,))
        return {int(row["seq"]) for row in rows}

    def record(self, sink: str, seqs: Sequence[int]) -> None:
        """Record these jobs as written by ``sink``, in one transaction."""
        with self.ledger.transaction("recording what a sink wrote") as conn:
            record_written(conn, sink, seqs)


class MemorySinkWrites:
    """In memory only (an export without a ledger, tests): forgotten with the process."""

    def __init__(self) -> None:
        self._written: dict[str, set[int]] = {}

    def written(self, sink: str) -> set[int]:
        """The seqs recorded for ``sink`` in this object."""
        return set(self._written.get(sink, ()))

    def record(self, sink: str, seqs: Sequence[int]) -> None:
        """Remember these seqs for ``sink``."""
        self._written.setdefault(sink, set()).update(seqs)


def rows_by_job(rows: Iterable[MetricRowLike]) -> dict[int, list[MetricRowLike]]:
    """Metric rows grouped by their job's seq, in seq order."""
    jobs: dict[int, list[MetricRowLike]] = {}
    for row in sorted(rows, key=lambda r: r.seq):
        jobs.setdefault(row.seq, []).append(row)
    return jobs


def _write_job(sink: Sink, seq: int, rows: Sequence[MetricRowLike]) -> None:
    if rows:  # (every row of a job has its labels)
        sink.write(rows, step_of(rows[0].labels, sink.step_label, seq=seq))


class DeliveryFailures:
    """How often each job failed to be written, by sink name, in this process: a job that
    failed goes after the others at the next delivery, so one a tracker always refuses
    (a name or value it rejects) does not hold back the jobs after it."""

    def __init__(self) -> None:
        self._counts: dict[str, dict[int, int]] = {}
        self.told_twice: set[str] = set()  # names of a second sink of one destination, said
        # written by a sink, its record in the ledger failed (a lock held long, a database
        # restart): recorded at the next delivery, not written again
        self.unrecorded: dict[str, set[int]] = {}
        self.stopping = False  # its run closes: no more jobs are written (between two jobs)
        self._down = Recurring()  # sinks failing (their tracker down, as likely): said once

    def said_down(self, sink: Sink, name: str, seq: int | None, exc: Exception) -> None:
        """A sink failed: said once while it keeps failing (a tracker down for an hour is
        not a warning a poll), then at debug level."""
        job = "" if seq is None else f" job {seq}"
        self._down.failed(name, "%r could not write%s (tried again at each poll; said again "
                          "when it writes): %s", sink, job, _said(exc))  # fmt: skip

    def said_up(self, sink: Sink, name: str) -> None:
        self._down.worked(name, "%r writes again", sink)

    def order(self, sink: str, seqs: Iterable[int]) -> list[int]:
        """The seqs to try, those that never failed first, each group in seq order."""
        counts = self._counts.get(sink, {})
        return sorted(seqs, key=lambda seq: (counts.get(seq, 0), seq))

    def failed(self, sink: str, seq: int) -> None:
        counts = self._counts.setdefault(sink, {})
        counts[seq] = counts.get(seq, 0) + 1

    def written(self, sink: str, seq: int) -> None:
        self._counts.get(sink, {}).pop(seq, None)


def deliver(
    sinks: Sequence[Sink],
    jobs: Mapping[int, Sequence[MetricRowLike]],
    writes: SinkWrites,
    failures: DeliveryFailures | None = None,
    names: Sequence[str | Exception] | None = None,
) -> dict[str, list[int]]:
    """Write each job's rows to each sink that has not written them; record each success.

    ``jobs`` maps a completed job's seq to its metric rows (a job with none is recorded
    as written: there is nothing to write). A sink that raises (a tracker down, a job
    without its step label) is logged as a warning and the job left for the next call:
    nothing is lost, and the run goes on. A failure before any job got through, or a
    second one in a row, stops that sink until the next call (a tracker down costs a try
    or two per poll); a single failure after one got through is that job's own (a name
    the tracker refuses), and the others go on.
    With ``failures`` (kept by the run across calls), jobs that failed are tried after
    the others. ``names``: the sinks' ``tell_names``, when the caller asked them already
    (each ask may cost a tracker that is down its client's retries). Errors of the ledger
    itself (``LedgerError``) are raised; a job written when its record failed is recorded
    at the next call with the same ``failures``, not written again. Returns the
    seqs written now, by sink name. Sinks are synchronous (their trackers' clients are):
    an ``AsyncEvalRun`` calls this in a worker thread (``run_sync``).
    """
    failures = DeliveryFailures() if failures is None else failures
    done: dict[str, list[int]] = {}
    seen: set[str] = set()
    for sink, name in zip(sinks, tell_names(sinks) if names is None else names, strict=True):
        if isinstance(name, Exception):
            failures.said_down(sink, f"sink {id(sink)}", None, name)  # (no name to key it)
            continue
        if name in seen:  # the ledger records one write per name: the first sink's
            if name not in failures.told_twice:
                failures.told_twice.add(name)
                logger.warning("%r writes to %s as another sink of the run does: it is never "
                               "written to (one sink per destination)", sink, name)  # fmt: skip
            continue
        seen.add(name)
        unrecorded = failures.unrecorded.setdefault(name, set())
        if unrecorded:
            writes.record(name, sorted(unrecorded))
            done.setdefault(name, []).extend(sorted(unrecorded))
            unrecorded.clear()
        wrote_one, in_a_row = False, 0
        for seq in failures.order(name, set(jobs) - writes.written(name)):
            if failures.stopping:
                break
            try:
                _write_job(sink, seq, jobs[seq])
            except InvalidArgumentError as exc:  # StepLabelError, two values of one name
                _log_failure(sink, seq, exc)  # this job's own: the next job may be fine
                continue
            except Exception as exc:
                failures.said_down(sink, name, seq, exc)
                failures.failed(name, seq)
                in_a_row += 1
                if not wrote_one or in_a_row > 1:
                    break  # as likely the tracker down: its other jobs wait for the next poll
                continue
            wrote_one, in_a_row = True, 0
            failures.said_up(sink, name)
            failures.said_up(sink, f"sink {id(sink)}")  # (its name could not be told before)
            failures.written(name, seq)
            unrecorded.add(seq)
            writes.record(name, [seq])
            unrecorded.discard(seq)
            done.setdefault(name, []).append(seq)
    return done


def tell_names(sinks: Sequence[Sink]) -> list[str | Exception]:
    """Each sink's ``name_of``, or what it raised (an MLflow or W&B sink may reach its
    tracker to tell it: asked once a poll)."""
    told: list[str | Exception] = []
    for sink in sinks:
        try:
            told.append(name_of(sink))
        except Exception as exc:
            told.append(exc)
    return told


def name_of(sink: Sink) -> str:
    """A sink's name, which keys its writes in the ledger (TrackerError unless a non-empty
    str; an MLflow or W&B sink may reach its tracker to tell it)."""
    name: object = sink.name
    if not isinstance(name, str) or not name:
        raise TrackerError(f"a sink's name must be a non-empty str, got {shown(name)}")
    return name


def _said(exc: Exception) -> str:
    """A tracker's error as told: its type and text, clipped (an answer of 50 MB), without a
    tracking URI's user:password, and never an error of its own (a str() that fails)."""
    try:
        text = str(exc)
    except Exception:
        text = "(its text could not be read)"
    return f"{type(exc).__name__}: {clip(without_userinfo(text))}"  # (masked before cut)


def _log_failure(sink: Sink, seq: int, exc: Exception) -> None:
    logger.warning("%r could not write job %s (tried again at the next poll): %s", sink, seq,
                   _said(exc))  # fmt: skip


def _tracker_error(sink: Sink, name: str | None, seq: int | None, exc: Exception) -> TrackerError:
    what = "could not be reached" if seq is None else f"could not write job {seq}"
    return TrackerError(f"{name or repr(sink)} {what}: {_said(exc)}", sink=name, seq=seq)


def export_to(
    sink: Sink,
    rows: Iterable[MetricRowLike],
    *,
    writes: SinkWrites | None = None,
) -> list[int]:
    """Write a finished run's metric rows to a sink (backfill): each job once, at its step.

    With ``writes`` (``LedgerSinkWrites(ledger)``), jobs that sink already wrote (during
    the run, or an earlier export) are skipped and each new one is recorded; without it,
    every job is written. Unlike a run's delivery, a failure is raised (nothing after it
    is written; what was written before it is recorded). Returns the seqs written.

    Raises:
        StepLabelError: a job lacks the sink's ``step_label``: every job's step is checked
            before the sink is used, so nothing is written and the tracker is not reached.
        TrackerError: the tracker failed (its error's type and text, without credentials).

    Example:
        >>> from lmms_eval_client import TensorBoardSink, export_to
        >>> with TensorBoardSink("runs/evals") as sink:  # doctest: +SKIP
        ...     export_to(sink, run.metrics())
        [1, 2, 3]
    """
    jobs = rows_by_job(rows)  # (each job has a row at least; every row has its labels)
    # A bad step label is the caller's error: raised before the tracker is reached (an
    # MLflow sink's name creates its run), with nothing written.
    steps = {seq: step_of(r[0].labels, sink.step_label, seq=seq) for seq, r in jobs.items()}
    try:
        name = sink.name
    except LmmsEvalError:
        raise
    except Exception as exc:
        raise _tracker_error(sink, None, None, exc) from None  # its text may hold a password
    already = set() if writes is None else writes.written(name)
    done: list[int] = []
    for seq, job_rows in jobs.items():
        if seq in already:
            continue
        try:
            sink.write(job_rows, steps[seq])
        except LmmsEvalError:
            raise
        except Exception as exc:
            raise _tracker_error(sink, name, seq, exc) from None
        if writes is not None:
            writes.record(name, [seq])
        done.append(seq)
    return done
