"""What the watcher and the trainer callback say of a finished job, and who may submit.

Kept free of transformers, so the command line and tests read it without the ``hf`` extra.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .._log import logger
from .._runs.errors import LedgerError
from .._runs.outcomes import JobOutcome, TrackedJob


def metric_values(job: TrackedJob) -> dict[str, float]:
    """``{"<task>/<metric>": value}`` of a completed job's results summary (the default
    ``summarize="results"`` shape): stderrs left out, lmms-eval's ``none`` filter dropped
    from the name (``exact_match,none`` -> ``exact_match``), other filters kept.

    Example::

        metric_values(outcome.job)  # {"mme/exact_match": 0.71}
    """
    values: dict[str, float] = {}
    summary = job.summary
    if not isinstance(summary, Mapping):
        return values
    for tasks in summary.values():
        if not isinstance(tasks, Mapping):
            continue
        for task, metrics in tasks.items():
            if not isinstance(metrics, Mapping):
                continue
            for name, value in metrics.items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    continue
                metric, _, filter_ = str(name).partition(",")
                if metric.endswith("_stderr"):
                    continue
                shown = metric if filter_ in ("", "none") else f"{metric},{filter_}"
                values[f"{task}/{shown}"] = float(value)
    return values


def outcome_values(outcome: JobOutcome, prefix: str) -> dict[str, float]:
    """What the trainer callback logs of a finished job: its metrics (``metric_values``)
    as ``<prefix>/<task>/<metric>``, ``<prefix>/checkpoint_step``, and ``<prefix>/<kind>``
    1.0 for a job that did not complete (failed, cancelled, lost...)."""
    values = {f"{prefix}/{name}": value for name, value in metric_values(outcome.job).items()}
    step = outcome.job.labels.get("step")
    if isinstance(step, int):
        values[f"{prefix}/checkpoint_step"] = float(step)
    if outcome.kind != "completed":
        values[f"{prefix}/{outcome.kind}"] = 1.0
    return values


def is_rank_zero(world_process_zero: bool, environ: Mapping[str, str] | None = None) -> bool:
    """Whether this process submits in a distributed training: the trainer's own word
    (``state.is_world_process_zero``), and ``RANK`` and ``LOCAL_RANK`` 0 when set (a
    launcher's variables, for a state that does not know yet). -1 is transformers' "not
    distributed" (``TrainingArguments.local_rank``): a single process, which submits.

    Example::

        is_rank_zero(True, {"RANK": "1"})  # False
        is_rank_zero(True, {"LOCAL_RANK": "-1"})  # True
    """
    env: Mapping[str, Any] = os.environ if environ is None else environ
    return world_process_zero and all(
        str(env.get(name, "0")).strip() in _NOT_OTHER_RANK for name in ("RANK", "LOCAL_RANK")
    )


_NOT_OTHER_RANK = ("0", "", "-1")  # rank 0, or no distributed training


def end_wait(wait_at_end: float | None, args: Any) -> float | None:
    """How long rank 0 waits at the end: ``wait_at_end``, in a distributed training at most
    half its ``ddp_timeout``: the other processes wait for it at their next collective,
    which would time out (1800 s by default, under wait_at_end's 3600) and end the job."""
    world, limit = getattr(args, "world_size", 1), getattr(args, "ddp_timeout", None)
    if not isinstance(world, int) or world <= 1 or not isinstance(limit, (int, float)):
        return wait_at_end
    if wait_at_end is None or wait_at_end > limit / 2 > 0:
        logger.warning("EvalCallback: a distributed training (%d processes): waiting at most "
                       "%g s at the end, half its ddp_timeout, not wait_at_end (%s s): the "
                       "rest go on on the server", world, limit / 2, wait_at_end)  # fmt: skip
        return limit / 2
    return wait_at_end


def end_wait_passed(
    wait_at_end: float | None,
    pending: list[TrackedJob] | None,
    out: LedgerError | None,
    unsent: str,
) -> None:
    """The end of training's wait passed its deadline: say what is left (``pending``: the
    callback's jobs still pending; None: not known, the run's ledger still ``out``)."""
    going = "none pending"
    if pending is None:
        going = (f"the run's ledger is still out ({out}): what was submitted goes on on the "
                 "server (run.metrics() has it once done)")  # fmt: skip
    elif pending:
        going = (f"{len(pending)} evaluation(s) still pending go on on the server "
                 "(run.metrics() has them once done)")  # fmt: skip
    logger.warning("EvalCallback: wait_at_end (%s s) passed at the end of training: %s%s",
                   wait_at_end, going, unsent)  # fmt: skip


_NAMED = 5  # unsent checkpoints a warning names (then "and K more")


def unsent_named(paths: list[str]) -> str:
    """The trainer callback's checkpoints saved and not sent (their ``paths``), for a
    warning: "" when none; else the first few and what to do."""
    if not paths:
        return ""
    more = f" and {len(paths) - _NAMED} more" if len(paths) > _NAMED else ""
    return (
        f"; {len(paths)} checkpoint(s) not sent: {', '.join(paths[:_NAMED])}{more} "
        "(submit_checkpoint(run, path, submit=...) them once the server answers)"
    )
