"""Where a pool sends a new job: what it knows of each server, and the choice (no I/O).

The pool (``_async/pool.py``) asks the servers and records their answers here; the choice
is a function of those records and the clock, so it is tested with made-up loads.

A server is *eligible* for a job when it is up, offers the model and every task (as far as
its cached ``/tasks`` and ``/models`` listings tell; a listing the server said it could
not give rules nothing out, one it did not answer leaves what it said before), and is
below its cap. Among the eligible, the least loaded wins: its
queued and running jobs (from its last ``/queue``), plus the pool's own submissions that
snapshot may not show yet. Ties go to a server whose listings are known, then to the one
chosen least recently (so idle servers take turns).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lmms_eval_api.models import QueueStatusResponse

from .._exceptions import InvalidArgumentError
from .._text import clip, shown

UNKNOWN, UP, DOWN = "unknown", "up", "down"


@dataclass(frozen=True)
class Listing:
    """What a server said it offers (tasks or models); ``names`` None: it could not say."""

    names: frozenset[str] | None
    fetched_at: float
    error: str | None = None


@dataclass
class ServerState:
    """What the pool knows of one server."""

    server: str
    cap: int | None = None
    health: str = UNKNOWN
    checked_at: float | None = None  # when it last answered, or failed to
    error: str | None = None  # why it is down
    tasks: Listing | None = None
    models: Listing | None = None
    listing_failed_at: float | None = None  # a listing not answered (kept: the last one)
    refused_until: float | None = None  # it refused a submission (a 429, a 503): until then
    refused_why: str | None = None  # that refusal
    snapshot_load: int = 0  # queued + running in its last /queue
    snapshot_sent_at: float | None = None  # when that /queue was asked for
    accepted_at: list[float] = field(default_factory=list)  # our submissions it answered
    in_flight: int = 0  # our submissions sent and not answered yet
    last_chosen: int = 0  # the choice's sequence number (0: never chosen)

    @property
    def load(self) -> int:
        """Jobs queued or running there, ours on the way included.

        A submission answered after the snapshot was asked for may or may not be in it:
        it is counted again (an estimate that errs on the busy side, until the next read).
        """
        since = self.snapshot_sent_at
        newer = sum(1 for t in self.accepted_at if since is None or t >= since)
        return self.snapshot_load + newer + self.in_flight


@dataclass(frozen=True)
class Choice:
    """The server chosen (its index; None: none can take the job) and why the others not."""

    index: int | None
    reasons: dict[str, str]


def task_names(tasks: Sequence[str] | str) -> list[str]:
    """The task names (or patterns) a job asks for; lmms-eval splits each on commas too."""
    items = [tasks] if isinstance(tasks, str) else tasks
    if not isinstance(items, Sequence) or not all(isinstance(t, str) for t in items):
        raise InvalidArgumentError(f"tasks must be a str or a list of str, got {shown(tasks)}")
    return [name.strip() for item in items for name in item.split(",") if name.strip()]


def missing_tasks(offered: frozenset[str], wanted: Iterable[str]) -> list[str]:
    """The wanted tasks a server lacks; a pattern (``mmmu_val*``) needs one match there,
    as lmms-eval's ``--tasks`` selects with fnmatch."""
    missing = []
    for name in wanted:
        if name in offered:
            continue
        if any(ch in name for ch in "*?[") and fnmatch.filter(offered, name):
            continue
        missing.append(name)
    return missing


def _listed_anywhere(states: Sequence[ServerState], model: str) -> bool:
    return any(s.models is not None and s.models.names and model in s.models.names for s in states)


# How the reasons of a server that answered and still cannot take a job begin; any other
# reason is that it did not answer (see none_answered).
OFFERS_NOT, AT_CAP, REFUSED = "does not offer", "at its cap", "refused a submission"
ANSWERED = (OFFERS_NOT, AT_CAP, REFUSED)


def _why_not(
    state: ServerState, model: str, tasks: Sequence[str], check_model: bool, now: float
) -> str | None:
    """Why this server cannot take the job now; None when it can."""
    if state.health != UP:
        return f"down ({state.error})" if state.health == DOWN else "not reached yet"
    if state.refused_until is not None and now < state.refused_until:
        return f"{REFUSED} ({state.refused_why}); tried again in {state.refused_until - now:.0f} s"
    listing = state.tasks
    if listing is not None and listing.names is not None:
        missing = missing_tasks(listing.names, tasks)
        if missing:
            age = now - listing.fetched_at
            return (
                f"{OFFERS_NOT} task(s) {clip(', '.join(missing), 200)} "
                f"(its /tasks, read {age:.0f} s ago)"
            )
    models = state.models
    if check_model and models is not None and models.names and model not in models.names:
        return f"{OFFERS_NOT} model {model!r}"
    if state.cap is not None and state.load >= state.cap:
        return f"{AT_CAP} of {state.cap} job(s) (queued + running + being submitted)"
    return None


def choose(
    states: Sequence[ServerState],
    model: str,
    tasks: Sequence[str],
    now: float,
    exclude: frozenset[int] = frozenset(),
) -> Choice:
    """The least loaded eligible server for a job of ``model`` on ``tasks``.

    ``exclude``: servers already tried for this submission (they could not be reached).

    The model counts only when some server lists it: ``/models`` leaves out the aliases
    (``openai_compatible``...) that lmms-eval also accepts, so a name no server lists is
    left for the server to judge, as one server would.
    """
    check_model = _listed_anywhere(states, model)
    reasons: dict[str, str] = {}
    best: tuple[int, int, int, int] | None = None
    chosen: int | None = None
    for index, state in enumerate(states):
        why = (
            "could not be reached for this submission"
            if index in exclude
            else _why_not(state, model, tasks, check_model, now)
        )
        if why is not None:
            reasons[state.server] = why
            continue
        known = state.tasks is not None and state.tasks.names is not None
        key = (state.load, 0 if known else 1, state.last_chosen, index)
        if best is None or key < best:
            best, chosen = key, index
    return Choice(chosen, reasons)


class RoutingTable:
    """The servers' states, updated from every answer; thread-safe (the sync pool may be
    shared by threads), and never holding its lock across I/O."""

    def __init__(
        self,
        servers: Sequence[str],
        caps: Sequence[int | None],
        listing_ttl: float,
        recheck_interval: float,
    ) -> None:
        self.states = [ServerState(server, cap) for server, cap in zip(servers, caps, strict=True)]
        self._listing_ttl = listing_ttl
        self._recheck_interval = recheck_interval
        self._lock = threading.Lock()
        self._choices = 0

    def due_for_probe(self, now: float) -> list[int]:
        """The servers to ask for their load before a choice: every server up (a fresh
        load each time), and those down or unknown whose recheck is due."""
        with self._lock:
            return [
                i
                for i, s in enumerate(self.states)
                if s.health != DOWN
                or s.checked_at is None
                or now - s.checked_at >= self._recheck_interval
            ]

    def listings_unknown(self, index: int) -> bool:
        """Whether nothing is known yet of what the server offers (never listed)."""
        s = self.states[index]
        return s.tasks is None and s.models is None and s.listing_failed_at is None

    def listings_due(self, index: int, now: float) -> bool:
        """Whether the server's task and model listings are missing or older than the TTL
        (after a listing it did not answer, not before ``recheck_interval``)."""
        s = self.states[index]
        failed = s.listing_failed_at
        if failed is not None and now - failed < self._recheck_interval:
            return False
        return any(
            listing is None or now - listing.fetched_at >= self._listing_ttl
            for listing in (s.tasks, s.models)
        )

    def listing_failed(self, index: int, now: float) -> None:
        """A /tasks or /models the server did not answer (a timeout, a 5xx...): what it
        said before stands, and it is asked again after ``recheck_interval``."""
        with self._lock:
            self.states[index].listing_failed_at = now

    def refused(self, index: int, error: str, now: float) -> None:
        """A submission the server refused (a 429, a 503): no job goes there before
        ``recheck_interval``, whatever it answers meanwhile."""
        with self._lock:
            s = self.states[index]
            s.refused_until, s.refused_why = now + self._recheck_interval, clip(error, 300)

    def mark_up(self, index: int, now: float) -> None:
        with self._lock:
            s = self.states[index]
            s.health, s.checked_at, s.error = UP, now, None

    def mark_down(self, index: int, error: str, now: float) -> None:
        with self._lock:
            s = self.states[index]
            s.health, s.checked_at, s.error = DOWN, now, clip(error, 300)

    def record_queue(self, index: int, queue: QueueStatusResponse, sent_at: float) -> None:
        """A /queue answer, asked for at ``sent_at``; an older one than the last is ignored."""
        with self._lock:
            s = self.states[index]
            if s.snapshot_sent_at is not None and sent_at < s.snapshot_sent_at:
                return
            s.snapshot_load = len(queue.queued_jobs) + (1 if queue.running_job else 0)
            s.snapshot_sent_at = sent_at
            s.accepted_at = [t for t in s.accepted_at if t >= sent_at]

    def record_listings(
        self, index: int, *, tasks: Listing | None = None, models: Listing | None = None
    ) -> None:
        """A /tasks or /models answer (a Listing with names None: the server could not say)."""
        with self._lock:
            s = self.states[index]
            s.tasks = tasks or s.tasks
            s.models = models or s.models

    def choose(
        self,
        model: str,
        tasks: Sequence[str],
        now: float,
        reserve: bool,
        exclude: frozenset[int] = frozenset(),
    ) -> Choice:
        """Choose a server; with ``reserve``, count a submission to it as on its way (in the
        same step, so that a concurrent choice sees it)."""
        with self._lock:
            choice = choose(self.states, model, tasks, now, exclude)
            if choice.index is not None:
                self._choices += 1
                s = self.states[choice.index]
                s.last_chosen = self._choices
                if reserve:
                    s.in_flight += 1
            return choice

    def settle(self, index: int, accepted: bool, now: float) -> None:
        """A reserved submission got its answer (``accepted``: the server took the job)."""
        with self._lock:
            s = self.states[index]
            s.in_flight = max(0, s.in_flight - 1)
            if accepted:
                s.accepted_at.append(now)
