"""How a watcher hands the outcomes of its jobs over: at least once (``EvalRun.receive``,
then ``ack``), and only its own (another watcher's, or the run's other jobs', are released
at once for whoever takes them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .._runs.outcomes import JobOutcome, TrackedJob

if TYPE_CHECKING:
    from .._runs._sync.run import EvalRun


def hand_over(
    run: EvalRun,
    ours: Callable[[TrackedJob], bool],
    on_outcome: Callable[[JobOutcome], None] | None,
) -> list[JobOutcome]:
    """Poll ``run`` once; the outcomes of the jobs ``ours`` says are the watcher's, each
    handed to ``on_outcome`` and then acknowledged (if ``on_outcome`` raises, or the process
    dies, they are handed out again); the others released."""
    received = run.receive()
    mine = [outcome for outcome in received if ours(outcome.job)]
    others = [outcome for outcome in received if not ours(outcome.job)]
    if others:
        run.release(*others)
    try:
        for outcome in mine:
            if on_outcome is not None:
                on_outcome(outcome)
    except BaseException:
        run.release(*mine)
        raise
    if mine:
        run.ack(*mine)
    return mine
