"""``runs watch``: the loop over a run ledger, and how it shows what happens.

``watch_run`` polls the run (through ``EvalRun``: ``harvest()``, or ``ready()`` when the
outcomes are to be left for another reader), reads its jobs back from the ledger and tells
a sink each state change and each outcome, until no job of the watched servers is pending
or the deadline passed. The sinks: a live table (rich, a terminal only), one line per change
(logs), or one JSON object per line (scripts). ``run_exit_code`` is the run's exit code.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .._client.wait import Deadline
from .._exceptions import LmmsEvalError
from .._results.redaction import redacted_error
from .._runs.ledger_keys import keys_passed_on
from .._runs.outage import PASSING, LedgerOutage
from .._text import failure_reason
from .exit_codes import ExitCode, worst
from .output import print_json_line
from .terminal import for_terminal

if TYPE_CHECKING:  # annotations only: the module is imported with the run's commands
    from rich.console import Console, RenderableType

    from lmms_eval_client import EvalRun, JobOutcome, TrackedJob

_STATE_CODES = {
    "completed": ExitCode.OK,
    "failed": ExitCode.FAILED,
    "unsent": ExitCode.FAILED,  # the submission never reached a server: not evaluated
    "cancelled": ExitCode.CANCELLED,
    "lost": ExitCode.LOST,
}
_STYLES = {"completed": "green", "failed": "red", "unsent": "red", "lost": "red"}
_STYLES |= {"cancelled": "magenta", "queued": "yellow", "running": "cyan"}


def labels_text(labels: Mapping[str, Any]) -> str:
    """``k=v,k2=v2``, or ``-`` without labels; on one line: a line break in a label (a
    shared ledger's, anyone's) is written ``\\n``, not a new line that reads as another
    job's row.

    >>> labels_text({"step": 1, "note": "a\\nseq 9 completed"})
    'step=1,note=a\\\\nseq 9 completed'
    """
    text = ",".join(f"{key}={value}" for key, value in labels.items()) or "-"
    return text.replace("\n", "\\n")


def run_exit_code(jobs: Sequence[TrackedJob], resent: Collection[int] = ()) -> ExitCode:
    """The run's exit code from its jobs' states: 0 every job completed; else the most severe
    of 8 lost, 1 failed (or never sent), 3 cancelled, 4 still pending. A failed attempt that
    a retry by policy replaced does not count (its retry does), nor a job never sent that was
    sent again under its key (``resent``: its seq; the later submission counts).

    >>> run_exit_code([])
    <ExitCode.OK: 0>
    """
    codes = [
        _STATE_CODES.get(job.state, ExitCode.TIMEOUT)  # an unknown state is pending
        for job in jobs
        if not job.superseded and job.seq not in resent
    ]
    return worst(codes)


def resent_under_their_key(run: EvalRun, jobs: Sequence[TrackedJob]) -> set[int]:
    """The seqs of ``jobs`` never sent that were sent again under their key."""
    unsent = {job.seq for job in jobs if job.state == "unsent" and job.key is None}
    return unsent & keys_passed_on(run._ledger) if unsent else set()


def detail(job: TrackedJob) -> str:
    """One line on a job: why it failed or was lost, its metrics once completed."""
    if job.state in ("lost", "unsent") and job.note:
        return " ".join(job.note.split())
    if job.state == "failed" and job.info is not None and job.info.error:
        return failure_reason(redacted_error(job.info))
    if job.summary:
        values = [
            f"{task} {metric}={value}"
            for tasks in job.summary.values()
            if isinstance(tasks, dict)
            for task, metrics in tasks.items()
            if isinstance(metrics, dict)
            for metric, value in metrics.items()
            if "_stderr," not in metric
        ]
        return "; ".join(values)
    return ""


class Sink(Protocol):
    """What ``watch_run`` tells as it goes."""

    def state(self, job: TrackedJob) -> None:
        """The job's state changed (or it is seen for the first time)."""

    def outcome(self, outcome: JobOutcome) -> None:
        """The job's outcome was handed out (harvested, unless --no-harvest)."""

    def jobs(self, jobs: Sequence[TrackedJob], pending: int) -> None:
        """The run's jobs after a poll; ``pending`` of them are still watched."""


def watch_run(
    run: EvalRun,
    servers: Sequence[str],
    sink: Sink,
    *,
    poll_interval: float,
    timeout: float | None,
    harvest: bool = True,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[TrackedJob]:
    """Poll the run until no job of ``servers`` is pending, or ``timeout`` seconds passed;
    the run's jobs as the ledger last had them.

    Each poll hands the finished jobs' outcomes to ``sink`` once: taken once shown
    (``receive()``, then ``ack`` of each after the sink showed it: another reader of the
    ledger does not get them again, and one the sink could not show, its reader gone, is
    not lost), or with ``harvest=False`` left (``ready()``). The first look shows every job
    that is pending or not yet harvested.

    Raises:
        LmmsEvalError: A poll failed for good (not a transient failure, which the run logs
            and outlives).
        LedgerError: The ledger could not be read or written.

    Example::

        jobs = watch_run(run, servers, Lines(), poll_interval=2, timeout=None)
        raise typer.Exit(int(run_exit_code(jobs)))
    """
    deadline = Deadline(poll_interval, timeout, clock)
    seen: dict[int, str] = {}
    told: set[int] = set()
    first = True
    outage = LedgerOutage("runs watch")
    while True:
        try:
            jobs = _look(run, sink, seen, told, first=first, harvest=harvest)
        except PASSING as exc:  # (a database restarting: ridden out, as a server down is)
            outage.down(exc)
            if (delay := deadline.next_delay()) is None:
                raise
            sleep(delay)
            continue
        outage.up()
        first = False
        pending = sum(1 for job in jobs if job.pending and job.server in servers)
        sink.jobs(jobs, pending)
        if not pending:
            return jobs
        delay = deadline.next_delay()
        if delay is None:
            return jobs
        sleep(delay)


def _look(
    run: EvalRun,
    sink: Sink,
    seen: dict[int, str],
    told: set[int],
    *,
    first: bool,
    harvest: bool,
) -> list[TrackedJob]:
    """One poll of ``watch_run``: the changes and outcomes handed to ``sink``; the jobs."""
    outcomes = run.receive() if harvest else run.ready()
    try:
        jobs = run.jobs()
        for job in jobs:
            if seen.get(job.seq) != job.state and (not first or job.pending or not job.harvested):
                sink.state(job)
            seen[job.seq] = job.state
        for outcome in outcomes:
            if outcome.job.seq not in told:
                told.add(outcome.job.seq)
                sink.outcome(outcome)
            if harvest:
                run.ack(outcome)
    except BaseException:
        if harvest:  # not shown (the reader went away): handed out again at once
            # (a ledger that fails here too must not hide why: its claim then expires)
            with contextlib.suppress(LmmsEvalError):
                run.release(*outcomes)
        raise
    return jobs


def job_record(job: TrackedJob) -> dict[str, Any]:
    """The fields every ``runs watch --json`` line has about its job."""
    return {
        "seq": job.seq,
        "key": job.key,
        "labels": job.labels,
        "job_id": job.job_id,
        "server": job.server,
        "state": job.state,
    }


class JsonLines:
    """``runs watch --json``: one JSON object per line, ``event`` saying what it is:
    ``state`` (a job's new state), ``outcome`` (a finished job handed out: its ``kind``,
    ``detail`` and ``summary``), and last ``end`` (``exit_code``, ``pending``)."""

    def state(self, job: TrackedJob) -> None:
        print_json_line({"event": "state", **job_record(job)})

    def outcome(self, outcome: JobOutcome) -> None:
        job = outcome.job
        record = {"event": "outcome", **job_record(job), "kind": outcome.kind}
        print_json_line({**record, "detail": detail(job), "summary": job.summary})

    def jobs(self, jobs: Sequence[TrackedJob], pending: int) -> None:
        """Nothing: the lines are the changes."""

    def end(self, code: ExitCode, pending: int) -> None:
        print_json_line({"event": "end", "exit_code": int(code), "pending": pending})


class Lines:
    """One timestamped line per change (a log, or output that is not a terminal)."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream

    def _print(self, job: TrackedJob, text: str) -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        line = f"{stamp} seq {job.seq} [{labels_text(job.labels)}] {text}"
        print(for_terminal(line), file=self._stream or sys.stdout, flush=True)

    def state(self, job: TrackedJob) -> None:
        self._print(job, f"{job.state} {job.job_id or ''}".rstrip())

    def outcome(self, outcome: JobOutcome) -> None:
        said = detail(outcome.job)
        self._print(outcome.job, f"{outcome.kind}" + (f": {said}" if said else ""))

    def jobs(self, jobs: Sequence[TrackedJob], pending: int) -> None:
        """Nothing: the lines are the changes."""


class LiveTable:
    """A live table of the run's jobs (seq, key, labels, state, job id, detail), redrawn a
    few times a second; its last frame stays on the screen."""

    def __init__(self, ledger: str, console: Console) -> None:
        from rich.live import Live

        self._ledger = ledger
        self._jobs: Sequence[TrackedJob] = ()
        self._pending = 0
        self._live = Live(console=console, refresh_per_second=4, get_renderable=self.render)

    def render(self) -> RenderableType:
        """The current frame: a heading and one row per job."""
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        table = Table(box=None, pad_edge=False, header_style="bold")
        for column in ("SEQ", "KEY", "LABELS", "STATE", "JOB", "DETAIL"):
            table.add_column(column, no_wrap=column != "DETAIL", overflow="ellipsis")
        for job in self._jobs:
            table.add_row(
                str(job.seq),
                job.key or "-",
                for_terminal(labels_text(job.labels)),
                Text(job.state, style=_STYLES.get(job.state, "")),
                for_terminal(job.job_id or "-"),
                Text(for_terminal(detail(job)), style="dim", no_wrap=True, overflow="ellipsis"),
            )
        if self._pending:
            heading = (
                f"Run {self._ledger}: {self._pending} of {len(self._jobs)} job(s) pending "
                "(Ctrl+C stops watching; the jobs go on)"
            )
        else:
            counts: dict[str, int] = {}
            for job in self._jobs:
                counts[job.state] = counts.get(job.state, 0) + 1
            said = ", ".join(f"{n} {state}" for state, n in counts.items())
            heading = f"Run {self._ledger}: nothing pending ({said or 'no jobs'})"
        return Group(Text(heading, style="bold"), table)

    def state(self, job: TrackedJob) -> None:
        """Nothing: the table shows every state."""

    def outcome(self, outcome: JobOutcome) -> None:
        """Nothing: the table shows every outcome."""

    def jobs(self, jobs: Sequence[TrackedJob], pending: int) -> None:
        self._jobs = list(jobs)
        self._pending = pending
        self._live.refresh()

    def __enter__(self) -> LiveTable:
        self._live.start(refresh=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()


def make_sink(ledger: str, *, json_out: bool, quiet: bool) -> JsonLines | Lines | LiveTable:
    """JSON lines with ``--json``; the live table in a terminal; else lines."""
    if json_out:
        return JsonLines()
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False, markup=False)
    if quiet or not console.is_terminal:
        return Lines()
    return LiveTable(ledger, console)
