"""What an evaluation run can be told, apart from I/O: retrying failed jobs, when ``wait``
returns, labels, submission tokens and where a job's outputs go."""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from .._checks import check_count, check_seconds
from .._client.json_args import json_object
from .._client.wait import timeout_message
from .._exceptions import InvalidArgumentError
from .._results.output_dirs import output_dir_for
from .._text import shown
from .errors import RunTimeoutError
from .states import FAILED, LOST

if TYPE_CHECKING:
    from .outcomes import JobOutcome, TrackedJob

ReturnWhen = Literal["ALL_COMPLETED", "FIRST_COMPLETED"]
# wait(return_when=ALL_COMPLETED): return when every job of the run has an outcome.
ALL_COMPLETED: ReturnWhen = "ALL_COMPLETED"
# wait(return_when=FIRST_COMPLETED): return as soon as one more job has an outcome.
FIRST_COMPLETED: ReturnWhen = "FIRST_COMPLETED"
DEFAULT_ORPHAN_AFTER = 600.0
_SHOWN_PENDING = 5  # pending jobs a RunTimeoutError names (it has them all in .pending)


@dataclass(frozen=True)
class RetryOnFailure:
    """Resubmit a failed job when its error matches ``pattern``, and with ``lost=True`` a
    lost job that recovery did not complete, up to ``max_attempts`` in all.

    Each new attempt is a new job in the ledger, linked to the failed (or lost) one
    (``retry_of``) and to the first (``first_seq``), with the same request and labels (and
    a fresh output_dir when the run assigned it). Only the last attempt's outcome is
    harvested. A lost job is first looked for in its own output folder (recovery from
    disk); only when that holds no complete results is it resubmitted.

    Example::

        run = EvalRun(client, "run.sqlite", retry=RetryOnFailure("CUDA out of memory", 3))
        run = EvalRun(client, "run.sqlite", retry=RetryOnFailure(lost=True, max_attempts=2))

    Args:
        pattern: A regular expression searched in the server's error text; None: failed
            jobs are not retried (then ``lost`` must be True).
        max_attempts: Attempts in all, the first included (>= 2 to retry at all).
        lost: Also resubmit lost jobs (the server forgot them: it restarted or evicted
            them; or their submission could not be resolved) that were not recovered.
    """

    pattern: str | re.Pattern[str] | None = None
    max_attempts: int = 3
    lost: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.lost, bool):
            raise InvalidArgumentError(f"lost must be a bool, got {self.lost!r}")
        if self.pattern is None:
            if not self.lost:
                raise InvalidArgumentError(
                    "RetryOnFailure needs a pattern (failed jobs whose error matches are "
                    "retried), lost=True (lost jobs are retried), or both"
                )
        else:
            try:
                re.compile(self.pattern)
            except (re.error, TypeError) as exc:
                raise InvalidArgumentError(f"pattern is not a regular expression: {exc}") from None
        check_count("max_attempts", self.max_attempts)

    def wants(self, job: TrackedJob) -> bool:
        """Whether this failed (or lost), not yet retried attempt should be submitted again."""
        if job.retried_by is not None or job.attempt >= self.max_attempts:
            return False
        if job.state == LOST:
            return self.lost
        if job.state != FAILED or self.pattern is None:
            return False
        error = job.info.error if job.info is not None else None
        return bool(error) and re.search(self.pattern, error or "") is not None


@dataclass(frozen=True)
class RunRetry(RetryOnFailure):
    """A run's ``RetryOnFailure``, less the attempts it found it cannot send again (the
    ledger keeps only fingerprints of their secrets, and the server no longer echoes the
    request): those end as they are, handed out, where a wait would wait for them for ever.
    (Per run object: the caller's policy may serve several ledgers.)"""

    given_up: set[int] = field(default_factory=set, compare=False, repr=False)
    policy: RetryOnFailure | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, policy: RetryOnFailure | None) -> RunRetry | None:
        """The run's wrapping of ``policy`` (None: no retries): its ``wants``, a subclass's
        too, decides (the review: a copy dropped an override)."""
        if policy is None:
            return None
        if not isinstance(policy, RetryOnFailure):
            raise InvalidArgumentError(
                f"retry must be a RetryOnFailure or None; got {shown(policy)}"
            )
        return cls(policy.pattern, policy.max_attempts, policy.lost, policy=policy)

    def wants(self, job: TrackedJob) -> bool:
        decides = super().wants if self.policy is None else self.policy.wants
        return job.seq not in self.given_up and decides(job)


class WaitResult(NamedTuple):
    """What ``wait()`` found: the finished jobs not yet harvested, and the pending ones."""

    done: list[JobOutcome]
    pending: list[TrackedJob]


def check_json_object(name: str, value: Mapping[str, Any] | None) -> dict[str, Any]:
    """A mapping as a JSON object (str keys, JSON values, no NaN), or InvalidArgumentError."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgumentError(f"{name} must be a mapping with str keys, got {shown(value)}")
    # The checks of a request's JSON fields, then the JSON form the ledger stores.
    return dict(json.loads(json.dumps(json_object(name, value))))


def check_run_args(poll_interval: float, max_completed_jobs: int, orphan_after: float) -> None:
    check_seconds("poll_interval", poll_interval)
    check_count("max_completed_jobs", max_completed_jobs)
    check_seconds("orphan_after", orphan_after, zero=True)


def check_claim_timeout(claim_timeout: float | None, orphan_after: float) -> float:
    """A run's claim_timeout (its orphan_after when None), checked."""
    if claim_timeout is None:
        return float(orphan_after)
    return check_seconds("claim_timeout", claim_timeout)


def run_timeout(pending: Sequence[TrackedJob], timeout: float) -> RunTimeoutError:
    """``as_completed``'s error at its deadline, worded as every wait's (``timeout_message``)."""
    listed = ", ".join(f"seq {job.seq} {job.state}" for job in pending[:_SHOWN_PENDING])
    if len(pending) > _SHOWN_PENDING:
        listed += f" and {len(pending) - _SHOWN_PENDING} more"
    return RunTimeoutError(
        timeout_message(
            f"{len(pending)} job(s) of the run",
            timeout,
            f"pending: {listed}",
            "They go on on the server: iterate again to go on waiting.",
        ),
        pending=[job.seq for job in pending],
    )


def check_return_when(return_when: str) -> None:
    if return_when not in (ALL_COMPLETED, FIRST_COMPLETED):
        raise InvalidArgumentError(
            f"return_when must be ALL_COMPLETED or FIRST_COMPLETED, got {return_when!r}"
        )


def new_token() -> str:
    """A fresh submission token (12 hex digits, 48 random bits)."""
    return uuid.uuid4().hex[:12]


def _this_host() -> str:
    """Where this process's pid means this process: its host's name, and on Linux its PID
    namespace. Containers sharing the host's name (host networking) number their processes
    each in their own namespace: a pid is only checked in the one it was given in."""
    host = socket.gethostname()
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:  # no /proc (macOS: no PID namespaces either)
        return host
    return f"{host}/{namespace.removeprefix('pid:').strip('[]')}"


# The owners of this process's runs still open: one closed is gone although its process
# lives (a run per checkpoint, reopened in a loop, settles what the last one left at once).
_LIVE_OWNERS: set[str] = set()


def new_owner() -> str:
    """Who records intents: ``host:pid:random``, to tell a live submitter from a dead one
    (``host`` names its PID namespace too: see ``_this_host``); live until released."""
    owner = f"{_this_host()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _LIVE_OWNERS.add(owner)
    return owner


def release_owner(owner: str) -> None:
    """Its run closed: what it left unsettled is no live submitter's (nor its claims)."""
    _LIVE_OWNERS.discard(owner)


def owner_is_gone(owner: str | None) -> bool:
    """Whether the process that recorded an intent is known to be dead (same host and PID
    namespace only; an owner of an older version, without its namespace, only by age)."""
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _this_host() or not (pid_text.isascii() and pid_text.isdigit()):
        return False  # another machine's (or container's) process: only its age can tell
    if int(pid_text) == os.getpid():
        return owner not in _LIVE_OWNERS  # a run of this process: closed, or still open
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # exists, but not ours to signal
        return False
    return False


def run_output_dir(root: str, model: str, model_args: Mapping[str, Any] | None, token: str) -> str:
    """``<root>/<yyyymmdd-hhmmss>-<model>-<token>``: a job's own output folder on the server.

    The token ends the name: reconciliation and retries find a job by it.
    """
    return output_dir_for(root, model, model_args, token=token)
