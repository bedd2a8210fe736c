"""The errors of a pool: one server's failure, named; a job's server unreachable; lost jobs;
an id that several servers hold (``AmbiguousJobIdError``, defined here).

No I/O: the pool catches a client's error and these build what it raises instead.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TypeVar

from lmms_eval_api.models import JobInfo

from .._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    DiscoveryError,
    InvalidArgumentError,
    JobNotFoundError,
    LmmsEvalError,
    NoServerAvailableError,
    RateLimitError,
    ServerUnreachableError,
)
from .._http.retry import is_transient
from .._runs.errors import SubmissionUnresolvedError
from .._text import clip

E = TypeVar("E", bound=LmmsEvalError)

# What a server (or the way to it) did, as opposed to the caller's own mistakes; a lost
# submission's answer too (where the job may be is what the error must tell).
FROM_A_SERVER = (
    APIConnectionError,
    APIStatusError,
    APIResponseValidationError,
    DiscoveryError,
    SubmissionUnresolvedError,
)


class AmbiguousJobIdError(InvalidArgumentError):
    """A job id given alone that several servers of a pool hold: a job is (server, id), and
    which server's is meant cannot be told, so none is picked.

    Say which with ``server=`` (one of ``servers``), or pass the ``PoolJobSubmitResponse``
    that ``evaluate()`` returned where a method takes one (it names its server).

    Attributes:
        job_id: The id.
        servers: The base URLs of the servers that hold a job of that id, in pool order.
    """

    def __init__(self, message: str = "", *, job_id: str = "", servers: Sequence[str] = ()):
        super().__init__(message)
        self.job_id: str = job_id
        self.servers: tuple[str, ...] = tuple(servers)


def ambiguous(job_id: str, servers: Sequence[str]) -> AmbiguousJobIdError:
    """Several servers hold ``job_id``: the error that asks which."""
    return AmbiguousJobIdError(
        f"Job id {job_id!r} is held by {len(servers)} servers of the pool "
        f"({', '.join(servers)}): a job is (server, id), so say which with server=, e.g. "
        f"get_job({job_id!r}, server={servers[0]!r}). evaluate()'s answer names the server "
        "of each job it submitted (.server).",
        job_id=job_id,
        servers=servers,
    )


def callers_own(error: LmmsEvalError) -> bool:
    """Whether the error is of the caller's own making (an async client used from another
    live event loop, a closed client...): raised as it is, never taken for a server's
    state."""
    return not isinstance(error, FROM_A_SERVER)


def is_unreachable(error: LmmsEvalError) -> bool:
    """Whether the error says the server is not there now (rather than refusing a request):
    a transient failure (``retry.is_transient``: no connection, or a proxy's 502/503/504)
    other than a 429, which the server itself answered."""
    return is_transient(error) and not isinstance(error, RateLimitError)


def passes_over(error: LmmsEvalError) -> bool:
    """Whether a failed submission sets its server aside until recheck_interval: a transient
    failure (refused for now, or its answer lost), or a lost answer the server could not
    resolve (the next would likely be lost too)."""
    return is_transient(error) or isinstance(error, SubmissionUnresolvedError)


def on_server(error: E, server: str) -> E:
    """The error, its message naming the server it came from, with a ``server`` attribute.

    A copy of the same class (``except`` clauses written for one server still match); the
    original is its ``__cause__``. Errors of the caller's own making are left as they are.
    """
    if not isinstance(error, FROM_A_SERVER):
        return error
    named = copy.copy(error)
    named.args = (f"[{server}] {error}", *error.args[1:])
    setattr(named, "server", server)  # noqa: B010 (not an attribute every error declares)
    return named


def unreachable(error: LmmsEvalError, server: str, job_id: str | None) -> ServerUnreachableError:
    """A job's server did not answer about it: the job is not lost."""
    about = f"job {job_id} " if job_id else ""
    sent = not isinstance(error, APIConnectionError) or error.may_have_been_sent
    request = getattr(error, "request", None)
    acted = sent and getattr(request, "method", "GET") != "GET"  # a cancel's answer lost
    return ServerUnreachableError(
        f"The server {server} that holds {about}did not answer ({clip(str(error), 300)}). "
        + ("The request may have been carried out there: check the job's status. " if acted else "")
        + "The job is not lost: it may be queued or running there. Ask again once the "
        "server answers (wait_for_job rides this out until its timeout).",
        server=server,
        job_id=job_id,
        may_have_been_sent=sent,
    )


def lost(error: JobNotFoundError, server: str) -> JobNotFoundError:
    """The server that took a job answers 404 for it: the job is lost (.server says where)."""
    return _not_found_on(
        server,
        error,
        f"The server {server} no longer knows job {error.job_id}: it restarted (a server "
        "keeps its jobs in memory only) or evicted the finished job (beyond its "
        "max_completed_jobs, 100 by default). The job is lost: submit it again if needed.",
    )


def not_there(error: JobNotFoundError, server: str, seen_on: Sequence[str]) -> JobNotFoundError:
    """A server asked by name (``server=``) answers 404 for a job this pool never saw
    there: not lost (resubmitting it would run it twice), asked of the wrong server."""
    where = f"; this pool saw it on {', '.join(seen_on)}" if seen_on else ""
    return _not_found_on(
        server,
        error,
        f"The server {server} does not know job {error.job_id}{where}. Ask the server that "
        "took it (the server evaluate()'s answer names), or leave server= out to look on "
        "every server of the pool.",
    )


def _not_found_on(server: str, error: JobNotFoundError, message: str) -> JobNotFoundError:
    """A server's 404 for a job, said in the pool's words, with the ``.server`` it is from."""
    found = JobNotFoundError(
        message, response=error.response, detail=error.detail, body=error.body, job_id=error.job_id
    )
    setattr(found, "server", server)  # noqa: B010 (as on_server: not every error declares it)
    return found


def not_located(
    job_id: str, servers: Sequence[str], answers: Sequence[JobInfo | LmmsEvalError | str]
) -> LmmsEvalError:
    """No server answered that it holds the job: not found, or maybe on one that is down
    (a wait rides that out); else a server's own error (401, 500, an answer that is no
    JobInfo) as it is, naming the server, as one server's client raises it."""
    pairs = list(zip(servers, answers, strict=True))
    unreachable = [
        s
        for s, a in pairs
        if isinstance(a, str) or (isinstance(a, LmmsEvalError) and is_unreachable(a))
    ]
    silent = {s: a for s, a in pairs if not isinstance(a, JobNotFoundError)}
    if unreachable:  # the job may be there: ridden out (the others' errors said too)
        where = "; ".join(f"{s}: {clip(str(why), 200)}" for s, why in silent.items())
        return ServerUnreachableError(
            f"No reachable server of the pool knows job {job_id}; it may be on a server that "
            f"did not answer: {where}. Ask again once it answers.",
            server=unreachable[0],
            job_id=job_id,
        )
    for server, answer in silent.items():  # each answered: a server's own error, as it is
        if isinstance(answer, LmmsEvalError):
            return on_server(answer, server)
    first = next(a for a in answers if isinstance(a, JobNotFoundError))
    return JobNotFoundError(
        f"No server of the pool knows job {job_id} (asked: {', '.join(servers)}): it was never "
        "submitted there, or its server lost it (finished jobs are evicted beyond "
        "max_completed_jobs, and every job is lost when a server restarts).",
        response=first.response,
        detail=first.detail,
        body=first.body,
        job_id=job_id,
    )


def none_answered(error: NoServerAvailableError) -> bool:
    """Whether no server of the pool answered at all (the command line's exit 5, as for
    one server), rather than every one that answered could not take the job."""
    from .routing import ANSWERED

    reasons = error.reasons.values()
    return bool(reasons) and not any(reason.startswith(ANSWERED) for reason in reasons)


def no_server(model: str, tasks: Sequence[str], reasons: dict[str, str]) -> NoServerAvailableError:
    """Why no server of the pool can take a job now."""
    why = "; ".join(f"{server}: {reason}" for server, reason in reasons.items())
    return NoServerAvailableError(
        f"No server of the pool can take a job of model {model!r} on tasks "
        f"{clip(repr(list(tasks)), 200)} now; nothing was submitted. {why}.",
        reasons=reasons,
    )
