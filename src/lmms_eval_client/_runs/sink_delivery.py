"""A run's sinks fed at each poll: the completed jobs' metric rows that a sink has not
written yet (``_trackers/writes.py``'s ``deliver``, recorded in the ledger's
``sink_writes``). Called by the poller at the end of every poll (``ready``, ``harvest``,
``receive``, ``as_completed`` and ``wait`` all poll), in a worker thread for an
``AsyncEvalRun``: trackers' clients block.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._exceptions import InvalidArgumentError
from .._lazy import LazyModule
from .._trackers.base import Sink
from .._trackers.callback_sink import CallbackSink
from .._trackers.writes import DeliveryFailures, LedgerSinkWrites, deliver, rows_by_job, tell_names
from .ledger import Ledger

if TYPE_CHECKING:
    from . import table as _table
else:  # pydantic's models load with the first delivery (an evaluation run's import: not)
    _table = LazyModule("lmms_eval_client._runs.table")

logger = logging.getLogger("lmms_eval_client")


def deliver_to_sinks(
    ledger: Ledger,
    sinks: Sequence[Sink],
    failures: DeliveryFailures | None = None,
    shapeless: set[int] | None = None,
) -> dict[str, list[int]]:
    """Write every completed job's metric rows that a sink has not written to it, each job
    recorded once written. A sink that fails is logged and tried again at the next poll
    (the jobs that failed after the others, with the run's ``failures``); only a
    ``LedgerError`` is raised. Returns the seqs written now, by sink name. ``shapeless``:
    given, it takes the seqs of jobs whose summary (a ``summarize`` of the caller's) has
    no metrics in the default summary's shape, which no sink is fed."""
    if not sinks:
        return {}
    told = tell_names(sinks)  # once: an ask may cost a tracker that is down its retries
    # Only the jobs some sink still lacks are read: a long run's table is not re-read at
    # every poll. (A name not told: every job; deliver() skips what each sink wrote.)
    lacking, params = "", tuple[object, ...](_table.TABLE_PARAMS)
    if all(isinstance(name, str) for name in told):
        names = sorted({str(name) for name in told})
        marks = ", ".join("?" for _ in names)
        lacking = (
            " AND (SELECT COUNT(*) FROM sink_writes w WHERE w.seq = j.seq "
            f"AND w.sink IN ({marks})) < ?"
        )
        params = (*_table.TABLE_PARAMS, *names, len(names))
    records = ledger.rows(f"{_table.TABLE_SELECT}{lacking} ORDER BY j.seq", params)
    if not records:
        return {}
    jobs = rows_by_job(_table.table_rows(records, ledger.path))
    if shapeless is not None:  # (the default summary's rows are stored: an empty list)
        shapeless.update(r["seq"] for r in records if r["metrics"] is None and r["seq"] not in jobs)
    done = deliver(sinks, jobs, LedgerSinkWrites(ledger), failures, told)
    for name, seqs in done.items():
        logger.info("Evaluation run %r: %s wrote jobs %s", ledger.path, name, seqs)
    return done


class RunDelivery:
    """A run object's deliveries to its sinks, one at a time: two polls at once (threads,
    or an AsyncEvalRun's tasks: each delivers in a worker thread) would each write what a
    sink lacks before either recorded it. ``failures``: this process's, for the order."""

    def __init__(self, ledger: Ledger, sinks: Sequence[Sink]) -> None:
        self.ledger, self.sinks = ledger, tuple(sinks)
        self.failures = DeliveryFailures()
        self._one_at_a_time = threading.Lock()
        self._by: int | None = None  # the thread delivering
        self._shapeless: set[int] = set()
        self._said_shapeless = False

    def __call__(self) -> dict[str, list[int]]:
        """``deliver_to_sinks``: the seqs written now, by sink name (nothing when a sink's
        write polls its own run: the delivery under way goes on, and would else wait for
        itself)."""
        if not self.sinks or self._by == threading.get_ident():
            return {}
        with self._one_at_a_time:  # the second reads the ledger the first wrote
            if self.failures.stopping:
                return {}
            self._by = threading.get_ident()
            try:
                done = deliver_to_sinks(self.ledger, self.sinks, self.failures, self._shapeless)
            finally:
                self._by = None
            if self._shapeless and not self._said_shapeless:  # a setting's mistake: said once
                self._said_shapeless = True
                logger.warning("Evaluation run %r: the summaries of completed jobs (seq %s) "
                               "hold no metrics in the default summary's shape ({model: {task: "
                               '{"name,filter": value}}}): the sinks write nothing for them. '
                               "Return that shape from your summarize (or keep "
                               "summarize='results', the default) to feed the sinks; said "
                               "once a run", self.ledger.path,
                               ", ".join(map(str, sorted(self._shapeless))))  # fmt: skip
            return done

    def close(self) -> None:
        """Deliver no more, once the delivery under way (another thread's, or the worker
        thread of a cancelled poll) has recorded the job it is writing: a job written after
        its run closed the ledger could not be recorded, and would be written again."""
        self.failures.stopping = True
        if self._by != threading.get_ident():  # (a sink's write closing its own run: no wait)
            with self._one_at_a_time:
                pass


def check_sinks(sinks: Sequence[Sink], summarize: object = "results") -> tuple[Sink, ...]:
    """``EvalRun(..., sinks=)`` as a tuple; InvalidArgumentError unless a list of Sinks, no
    two CallbackSinks of one name (the ledger would hold one record for both: the second
    would never be written to), and a summary to write (sinks write the metrics of the
    default summary: with ``summarize=None`` there are none). Other sinks' names may need
    their tracker: not asked here."""
    given = () if isinstance(sinks, (Sink, str)) else tuple(sinks)
    if isinstance(sinks, (Sink, str)) or not all(isinstance(s, Sink) for s in given):
        raise InvalidArgumentError(
            f"sinks must be a list of Sink objects (TensorBoardSink, MLflowSink, WandbSink, "
            f"CallbackSink...), not {sinks!r}"
        )
    if given and summarize is None:
        raise InvalidArgumentError(
            "sinks write each completed job's metrics, which summarize=None leaves out of "
            "the ledger: nothing would ever be written; keep summarize='results' (the default)"
        )
    names = [sink.name for sink in given if isinstance(sink, CallbackSink)]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InvalidArgumentError(
            f"Two CallbackSinks of this run are named {twice[0]!r} (two lambdas, or one "
            "function twice): give each its own name=, kept the same across restarts."
        )
    return given
