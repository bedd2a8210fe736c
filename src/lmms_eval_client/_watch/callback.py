"""EvalCallback: a ``transformers.TrainerCallback`` that evaluates each checkpoint it saves.

This module imports transformers (the ``hf`` extra), so nothing imports it but the user,
through ``lmms_eval_client.hf``. Where the metrics go: a callback cannot call ``trainer.log``
(it is not given the trainer), and the reporting callbacks (``report_to``) see a log before
the callbacks passed with ``callbacks=[...]``. So the harvested metrics wait in the callback
and are added to the ``logs`` of the trainer's next log (``on_log``): ``attach(trainer)``
puts the callback first, so those logs reach every ``report_to`` logger, and lets
``on_train_end`` log the stragglers through ``trainer.log`` itself. They are always in
``state.log_history`` too (``trainer_state.json``).
"""

from __future__ import annotations

import contextlib
import operator
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._checks import check_seconds
from .._exceptions import InvalidArgumentError, LmmsEvalError, MissingDependencyError
from .._log import logger
from .._runs._sync.run import EvalRun
from .._runs.errors import UnknownJobError
from .._runs.outage import PASSING, LedgerOutage
from .._runs.outcomes import UNSENT, TrackedJob
from .background import Background
from .checkpoint import check_watching
from .reporting import end_wait, end_wait_passed, is_rank_zero, outcome_values, unsent_named
from .submission import (
    CheckpointSubmission,
    CouldNotSubmit,
    checkpoint_of,
    may_pass_later,
    sent_for_another,
    submit_checkpoint,
)

try:
    from transformers import TrainerCallback
except ImportError:  # the hf extra
    raise MissingDependencyError(
        "EvalCallback needs transformers: pip install 'lmms-eval-client[hf]'",
        package="transformers",
        extra="hf",
    ) from None


class EvalCallback(TrainerCallback):  # type: ignore[misc]  # transformers has no types here
    """Submits each checkpoint the Trainer saves (``on_save``, rank 0 only), logs the
    metrics of the finished ones as ``eval/<task>/<metric>`` (with ``eval/checkpoint_step``)
    through the trainer's logs, and waits for the stragglers at the end of training.

    Each checkpoint is submitted under the key of its name (``checkpoint-500``), so a
    resumed training submits none twice. The hooks never wait on the evaluation server:
    they hand the submissions and polls to a background thread of the callback's own and
    return at once (a server that never answers holds no training step). Only the process
    of world rank 0 submits and harvests (``state.is_world_process_zero``, and
    ``RANK``/``LOCAL_RANK`` 0 or -1 when set); another says so once (level INFO).

    Args:
        run: The EvalRun to submit into.
        submit: What to submit for a checkpoint (``"{checkpoint}"`` in model_args: its path).
        wait_at_end: Seconds ``on_train_end`` waits for the pending evaluations (a finite
            number up to 10^7; None: as long as it takes; 0: not at all), plus up to 10 s
            for a request under way. Those left go on on the server.
        key_prefix: Put before each checkpoint's name to make its key.
        log_prefix: The metrics' names start with it (``eval``: ``eval/mme/exact_match``).

    Example::

        callback = EvalCallback(run, submit=CheckpointSubmission(model="hf", tasks=["mme"]))
        trainer = Trainer(model=model, args=args, train_dataset=data)
        callback.attach(trainer)  # first among the callbacks: report_to sees the metrics
        trainer.train()
    """

    # Beyond wait_at_end, how long the end of training waits for a request under way.
    _GRACE = 10.0

    def __init__(
        self,
        run: EvalRun,
        submit: CheckpointSubmission,
        *,
        wait_at_end: float | None = 3600.0,
        key_prefix: str = "",
        log_prefix: str = "eval",
    ) -> None:
        # Checked now: a bad argument found at the first save would stop the training.
        self._prefix = check_watching(run, submit, key_prefix)
        if wait_at_end is not None:
            wait_at_end = check_seconds("wait_at_end", wait_at_end, zero=True)
        if not isinstance(log_prefix, str):
            raise InvalidArgumentError(f"log_prefix must be a str, got {type(log_prefix).__name__}")
        self._run = run
        self._submit = submit
        self._wait_at_end = wait_at_end
        self._log_prefix = log_prefix
        self._trainer: Any = None
        self._waiting: deque[dict[str, float]] = deque()
        self._due: deque[tuple[Path, int]] = deque()  # saved, not sent yet (server down)
        self._due_lock = threading.Lock()  # (named from the trainer's thread: a copy)
        self._given_up = threading.Event()  # on_train_end gave up: the thread stops trying
        self._outage = LedgerOutage("EvalCallback")  # its ledger out (said once), ridden out
        self._could_not = CouldNotSubmit("EvalCallback", "save, log and at the end of training")
        self._clock = time.monotonic  # the end's deadline and pauses (tests: fakes)
        self._pause: Callable[[float], object] = self._given_up.wait
        self._polled_at = float("-inf")
        self._background = Background("EvalCallback")
        self._lock = threading.Lock()
        self._ended = False  # on_train_end has logged what was harvested
        self._said_rank = False  # (a process not of rank 0 says so once)
        self._others: set[str] = set()  # our keys that hold another checkpoint's job
        self.submitted: list[TrackedJob] = []
        """The jobs this callback submitted (or found under their keys), in order (by its
        background thread: a save's job is here once that thread has sent it)."""

    def attach(self, trainer: Any) -> EvalCallback:
        """Add this callback to ``trainer`` as its first callback (so the metrics it adds to
        a log reach the ``report_to`` loggers), and remember the trainer (so the metrics of
        evaluations that end after training are logged through ``trainer.log``).

        Example::

            EvalCallback(run, submit=what).attach(trainer)
        """
        callbacks = trainer.callback_handler.callbacks
        if self in callbacks:
            callbacks.remove(self)
        callbacks.insert(0, self)
        self._trainer = trainer
        return self

    def _rank_zero(self, state: Any) -> bool:
        """Whether this process submits (``is_rank_zero``); a process that does not says so
        once (a training run without the expected evaluations can tell why)."""
        if is_rank_zero(bool(state.is_world_process_zero)):
            return True
        if not self._said_rank:
            self._said_rank = True
            logger.info("EvalCallback: this process is not of world rank 0 (RANK %s, LOCAL_RANK "
                        "%s, is_world_process_zero %s): it submits nothing, rank 0 does",
                        os.environ.get("RANK"), os.environ.get("LOCAL_RANK"),
                        state.is_world_process_zero)  # fmt: skip
        return False

    def _ours(self, job: TrackedJob) -> bool:
        return checkpoint_of(job, self._prefix) is not None and job.key not in self._others

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """A training starts (again): the outcomes harvested from now on are logged.

        Example::

            callback.on_train_begin(trainer.args, trainer.state, trainer.control)
        """
        with self._lock:
            self._ended = False
        self._given_up.clear()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Have the checkpoint just saved, ``<output_dir>/checkpoint-<global_step>``,
        submitted by the callback's background thread (rank 0 only; a checkpoint already
        tracked under its key is not sent again); returns at once.

        Example::

            callback.on_save(trainer.args, trainer.state, trainer.control)  # as Trainer does
        """
        if not self._rank_zero(state):
            return
        step: Any = getattr(state, "global_step", None)
        output_dir = getattr(args, "output_dir", None)
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        elif not isinstance(step, bool):
            with contextlib.suppress(TypeError):
                step = operator.index(step)  # an int, a numpy integer; not None, "5"
        if type(step) is not int or not isinstance(output_dir, (str, os.PathLike)):
            # never raised into the training: a state or args no Trainer of ours gives
            logger.error("EvalCallback: cannot tell which checkpoint was saved (global_step "
                         "%r, output_dir %r): not submitted", step, output_dir)  # fmt: skip
            return
        # made absolute here: the working folder may change before the thread sends it
        path = Path(os.path.abspath(output_dir)) / f"checkpoint-{step}"
        with self._due_lock:
            self._due.append((path, step))
        self._background.hand(self._submit_due, once=True)

    def _poll(self) -> None:
        """(In the background thread, once per poll_interval at most, however often the
        trainer logs) submit what is still due, and harvest."""
        if time.monotonic() - self._polled_at >= self._run._poll_interval:
            with self._outage.one_pass():  # one verdict on the ledger a poll
                self._submit_due()
                self._collect()

    def _submit_due(self) -> None:
        """Submit the saved checkpoints not sent yet, in order. A failure never reaches the
        Trainer (an evaluation server down must not stop a training): it is logged (the
        ledger out for a while is said once too: ``_outage``), and the checkpoint is tried
        again at the next save, log and at the end of training."""
        while self._due and not self._given_up.is_set():
            path, step = self._due[0]
            key = f"{self._prefix}{path.name}"
            try:
                held = self._held(key)
                job = submit_checkpoint(self._run, path, submit=self._submit, step=step, key=key)
            except LmmsEvalError as exc:
                if self._given_up.is_set():  # (the run may be closed: its errors mislead)
                    logger.debug("EvalCallback: %s left unsent: %s", path.name, exc)
                    return
                if isinstance(exc, PASSING):  # a use of the ledger that failed: its poll's too
                    self._outage.down(exc)
                if not may_pass_later(exc):  # refused (a 4xx, bad arguments, a ledger read-only)
                    logger.error("EvalCallback: %s is not submitted: %s", path.name, exc)
                    self._could_not.answered()
                    self._sent_or_refused()
                    continue
                self._could_not.failed(path.name, exc)
                return
            self._could_not.went_through()
            self._sent_or_refused()
            if (held is None or held.seq != job.seq) and self._run._recorded_here(job):
                logger.info("EvalCallback: submitted %s as seq %d", job.key, job.seq)
            elif (other := sent_for_another(job, self._submit, path, self._run)) is not None:
                self._not_ours(key, job, *other)
                continue
            else:  # (a resumed training: sent before, for this same checkpoint)
                logger.info("EvalCallback: %s was submitted already (seq %d): not sent again",
                            key, job.seq)  # fmt: skip
            self.submitted.append(job)

    def _held(self, key: str) -> TrackedJob | None:
        """The job the ledger tracks under ``key`` now (None: none, or one never sent)."""
        try:
            job = self._run.job(key)
        except UnknownJobError:
            return None
        return None if job.state == UNSENT else job

    def _not_ours(self, key: str, job: TrackedJob, theirs: str, ours: str) -> None:
        """``key`` holds a job of another checkpoint: this one is not evaluated (said once),
        and that job's outcomes are left to whoever submitted it."""
        if key not in self._others:
            self._others.add(key)
            logger.error("EvalCallback: %s is not evaluated: its key %r holds a job (seq %d) "
                         "sent for another checkpoint, %s, not this one, %s (two trainings, or "
                         "trials of a hyperparameter search, in one ledger): give each "
                         "EvalCallback its own key_prefix= (e.g. the run's name and a '/')",
                         ours, key, job.seq, theirs, ours)  # fmt: skip

    def _sent_or_refused(self) -> None:
        with self._due_lock:
            self._due.popleft()

    def _unsent(self) -> str:
        """The checkpoints saved and not sent, for a warning (``unsent_named``)."""
        with self._due_lock:
            paths = [str(path) for path, _ in self._due]
        return unsent_named(paths)

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Have the background thread harvest finished evaluations (once per poll_interval
        at most); add the oldest metrics it harvested to this log (the ``logs`` dict every
        later callback, ``report_to``'s included, receives).

        Example::

            logs = {"loss": 1.0}
            callback.on_log(trainer.args, trainer.state, trainer.control, logs=logs)
        """
        if not self._rank_zero(state):
            return
        if not self._ended:  # (after the end, a poll would reach a run perhaps closed)
            self._background.hand(self._poll, once=True)
        if self._waiting and logs is not None:
            values = self._waiting.popleft()
            logs.update(values)  # the same dict the later callbacks (report_to) receive
            state.log_history.append({**values, "step": state.global_step})

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Wait up to ``wait_at_end`` for the pending evaluations; log what they gave
        (through ``trainer.log`` when attached, else into ``state.log_history``).

        Example::

            callback.on_train_end(trainer.args, trainer.state, trainer.control)
        """
        if not self._rank_zero(state):
            return
        wait = end_wait(self._wait_at_end, args)
        deadline = None if wait is None else self._clock() + wait
        finished = threading.Event()

        def finish() -> None:
            try:
                self._finish(deadline)
            finally:
                finished.set()

        self._background.hand(finish)
        grace = None if wait is None else wait + self._GRACE
        if not finished.wait(grace):
            self._given_up.set()  # the request under way is the last (the run may close)
            unsent = self._unsent()
            logger.warning(
                "EvalCallback: the evaluation server did not answer by the end of wait_at_end "
                "(%s s, plus %s s): the training ends without it; what was submitted goes on "
                "on the server (run.metrics() has it once done)%s", self._wait_at_end,
                self._GRACE, unsent and f"{unsent}; the first one perhaps under way",
            )  # fmt: skip
        with self._lock:  # a harvest after this is left in the ledger, not acknowledged
            self._ended = True
            stragglers = list(self._waiting)
            self._waiting.clear()  # (trainer.log calls on_log, which would take the next)
        for values in stragglers:
            if self._trainer is not None:
                self._trainer.log(dict(values))  # through the trainer: report_to sees it
            else:
                state.log_history.append({**values, "step": state.global_step})
                logger.info("EvalCallback: %s", values)

    def _finish(self, deadline: float | None) -> None:
        """(In the background thread) submit, poll and wait for the callback's pending jobs
        until none is left after a pass all of whose uses of the ledger went through, or
        ``deadline``; a ledger out for a while (its database restarting, a lock held long:
        ``PASSING``) is waited for too, said once, as the watcher does."""
        while not self._given_up.is_set():
            pending: list[TrackedJob] | None = None  # (None: not known, the ledger is out)
            with self._outage.one_pass():  # one verdict on the ledger a pass
                self._submit_due()
                self._collect()
                try:
                    pending = [job for job in self._run.jobs() if self._ours(job) and job.pending]
                except PASSING as exc:  # out for a while: tried again at each poll
                    self._outage.down(exc)
                except LmmsEvalError as exc:  # the ledger unreadable: not the training's end
                    if not self._given_up.is_set():
                        logger.error("EvalCallback: cannot read the run at the end of training: "
                                     "%s%s", exc, self._unsent())  # fmt: skip
                    break
                else:
                    self._outage.up()
            # all done only if all of the pass went through: a claim that failed after its
            # poll recorded a job completed left it not pending, its metrics not queued
            if self._outage.error is None and not pending and not self._due:
                break
            if deadline is not None and self._clock() >= deadline:
                out = self._outage.error  # (any part of the pass: what it read may be stale)
                end_wait_passed(self._wait_at_end, None if out else pending, out, self._unsent())
                break
            self._pause(self._run._poll_interval)

    def _collect(self) -> None:
        """Receive the finished outcomes of the callback's jobs; queue their metrics; ack.
        A failure is logged, never raised into the Trainer: the next poll tries again."""
        if self._given_up.is_set():  # (the run may be closed)
            return
        self._polled_at = time.monotonic()
        try:
            received = self._run.receive()
            mine = [outcome for outcome in received if self._ours(outcome.job)]
            others = [outcome for outcome in received if not self._ours(outcome.job)]
            if others:
                self._run.release(*others)
            with self._lock:
                if self._ended:  # logged no more: left for a later harvest (run.metrics())
                    if mine:
                        self._run.release(*mine)
                    return
                if mine:  # acknowledged first: a failed ack leaves them to be given again
                    self._run.ack(*mine)
                self._waiting.extend(outcome_values(outcome, self._log_prefix) for outcome in mine)
        except PASSING as exc:  # the ledger out for a while: said once, tried again
            if not self._given_up.is_set():
                self._outage.down(exc)
        except LmmsEvalError as exc:  # (unacknowledged outcomes are given again)
            if not self._given_up.is_set():
                logger.warning("EvalCallback: could not poll the evaluations (tried again): %s",
                               exc)  # fmt: skip
        else:
            self._outage.up()
