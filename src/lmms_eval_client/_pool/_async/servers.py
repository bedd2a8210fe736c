"""The servers of an AsyncEvalPool: asking them, and recording what they say.

Hand-written source: ``_sync/servers.py`` is generated from it (``codegen/make_sync.py``).
What the answers mean for routing is ``_routing`` (no I/O); here are the requests, and
the bookkeeping of where each job is (``_pool_status.JobDirectory``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

from lmms_eval_api.models import HealthResponse, JobInfo, QueueStatusResponse

from ..._client._async.client import AsyncEvalClient
from ..._exceptions import (
    ClientClosedError,
    DiscoveryError,
    InvalidArgumentError,
    JobNotFoundError,
    LmmsEvalError,
    ServerUnreachableError,
)
from ..._http._async._io import new_lock, take
from ..._http.config import resolve_base_url
from ..._http.options import DEFAULT_OPTIONS, CallOptions, RequestTimeout
from ..._http.transport import request_budget
from ..._runs.servers import server_identity
from ..errors import (
    ambiguous,
    callers_own,
    is_unreachable,
    lost,
    no_server,
    not_located,
    not_there,
    on_server,
    passes_over,
    unreachable,
)
from ..routing import UP, Listing, RoutingTable, task_names
from ..status import LOST, UNREACHABLE, JobDirectory, describe
from ._io import gather

NO_HEALTH = "GET /health failed"


class PoolServers:
    """A pool's clients, what it knows of their servers, and where its jobs are.

    The methods that ask servers for a pool's call take that call's ``options`` and give
    each client its ``timeout``; routing's own reads use the clients' timeouts.
    """

    def __init__(
        self,
        clients: Sequence[AsyncEvalClient],
        caps: Sequence[int | None],
        listing_ttl: float,
        recheck_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = tuple(clients)
        self.urls = tuple(c.base_url for c in clients)
        self.table = RoutingTable(self.urls, caps, listing_ttl, recheck_interval)
        self.jobs = JobDirectory(self.urls)
        self.closed = False
        self._clock = clock
        self._listing_locks = [new_lock() for _ in clients]

    def call_options(self, timeout: RequestTimeout, *, reconcile: bool = False) -> CallOptions:
        """The options of a pool call: its ``timeout=`` bounds the whole call (a deadline
        every request of it keeps, retries included; the servers are asked at once)."""
        return CallOptions.bounded(timeout, self._clock(), reconcile=reconcile)

    def index_of(self, server: str) -> int:
        """The index of a server given by URL (InvalidArgumentError if not the pool's); two
        spellings of one (localhost and 127.0.0.1, a default port given or not) are one, as
        the pool's constructor tells them apart."""
        if not isinstance(server, str):  # None would mean $LMMS_EVAL_BASE_URL, or localhost
            raise InvalidArgumentError(f"server must be a server's base URL, got {server!r}")
        url = resolve_base_url(server)[0]
        identity = server_identity(url)
        for index, known in enumerate(self.urls):
            if server_identity(known) == identity:
                return index
        raise InvalidArgumentError(f"{url!r} is not a server of this pool: {self.urls}")

    def holds(self, error: ServerUnreachableError) -> bool:
        """Whether the server the error names is known to hold the job it is about."""
        if error.job_id is None:
            return False
        return any(self.urls[i] == error.server for i in self.jobs.find(error.job_id))

    def check_open(self) -> None:
        if self.closed:
            raise ClientClosedError("This pool has been closed; create a new one to send requests")

    def _down_now(self) -> dict[int, str]:
        """The servers down and not due to be tried again: why, without asking them."""
        due = set(self.table.due_for_probe(self._clock()))
        states = self.table.states
        return {i: f"down ({s.error})" for i, s in enumerate(states) if i not in due}

    # -- routing ----------------------------------------------------------------------------

    async def choose(
        self,
        model: str,
        tasks: Sequence[str] | str,
        *,
        reserve: bool,
        exclude: frozenset[int] = frozenset(),
        options: CallOptions = DEFAULT_OPTIONS,
    ) -> int:
        """The server a job goes to (reserved for it with ``reserve``), after fresh reads
        (each with the call's ``options``: an evaluate's timeout bounds them too)."""
        self.check_open()
        if not isinstance(model, str) or not model.strip():
            raise InvalidArgumentError(f"model must be a non-empty str, got {model!r}")
        names = task_names(tasks)
        down = self._down_now()
        asked = [i for i in range(len(self.urls)) if i not in down]
        # With another server to go to, each read is sent once: one that fails it is passed
        # over until recheck_interval (retried, a server that hung held each choice three
        # timeouts). The only one is retried: a blip must not refuse every job for a while.
        once = replace(options, retry=False) if len(asked) > 1 else options
        probes = [partial(self._probe, i, once) for i in asked]
        await gather(probes)
        choice = self.table.choose(model, names, self._clock(), reserve, exclude)
        if choice.index is None:
            raise no_server(model, names, choice.reasons)
        return choice.index

    async def _probe(self, index: int, options: CallOptions) -> None:
        """Read a server's load and, when stale, its listings."""
        queue = await self.read_queue(index, options)
        if not isinstance(queue, QueueStatusResponse) or not self._listings_wanted(index, options):
            return
        # One /tasks at a time per server: it blocks a real server for seconds. While another
        # caller reads them, a call with a timeout of its own chooses on what is known (that
        # read's budget may be far longer than its); one without waits when nothing is
        # known yet (a server whose tasks are unknown may not offer the job's), as long as
        # one of its own requests may take (the other's may have no timeout at all).
        wait: float | None = 0.0
        if options.deadline is None and self.table.listings_unknown(index):
            wait = request_budget(self.clients[index]._http.timeout, options.timeout)
        lock = self._listing_locks[index]
        if not await take(lock, wait=wait):
            return
        try:
            if self._listings_wanted(index, options):
                await self.read_listing(index, options, tasks=True)
            # (not after a /tasks that did not answer: asked again after the recheck)
            if self._listings_wanted(index, options):
                await self.read_listing(index, options, tasks=False)
        finally:
            lock.release()

    def _listings_wanted(self, index: int, options: CallOptions) -> bool:
        """Whether to read a server's listings now: missing or stale, and the call's time
        not up (past it, the choice is made on what is known)."""
        now = self._clock()
        in_time = options.deadline is None or now < options.deadline
        return in_time and self.table.listings_due(index, now)

    async def read_queue(
        self, index: int, options: CallOptions = DEFAULT_OPTIONS
    ) -> QueueStatusResponse | str:
        """A server's /queue (recorded for routing), or why it did not answer."""
        client = self.clients[index]
        # A server not known to be up is asked once, without retries, before its /queue.
        if self.table.states[index].health != UP:
            unwell = await self._unhealthy(index, options)
            if unwell is not None:
                self.table.mark_down(index, unwell, self._clock())
                return unwell
        sent = self._clock()
        try:
            queue = await client._get_queue_status(options)
        except LmmsEvalError as exc:
            if callers_own(exc):  # (a client used from another live event loop...)
                raise
            self.table.mark_down(index, describe(exc), self._clock())
            return describe(exc)
        self.table.mark_up(index, self._clock())
        self.table.record_queue(index, queue, sent)
        return queue

    async def _unhealthy(self, index: int, options: CallOptions) -> str | None:
        """Why a server cannot take jobs by its /health (one request, no retries: the
        error it answered, or the status it says), or None when it is healthy."""
        try:
            health = await self.clients[index]._health(replace(options, retry=False))
        except LmmsEvalError as exc:
            if callers_own(exc):
                raise
            return f"{NO_HEALTH}: {describe(exc)}"
        return _unwell(health)

    async def queues(self, options: CallOptions) -> list[QueueStatusResponse | str]:
        """Every server's /queue, or why it is missing (those known down are not asked)."""
        down = self._down_now()
        asked = [i for i in range(len(self.urls)) if i not in down]
        reads = [partial(self.read_queue, i, options) for i in asked]
        answers = dict(zip(asked, await gather(reads), strict=True))
        return [answers[i] if i in answers else down[i] for i in range(len(self.urls))]

    async def read_listing(
        self, index: int, options: CallOptions = DEFAULT_OPTIONS, *, tasks: bool
    ) -> list[str] | LmmsEvalError:
        """A server's /tasks (else /models), recorded for routing (an error: it could not say)."""
        answer: list[str] | LmmsEvalError
        try:
            answer = await self.clients[index]._listing(options, tasks=tasks)
        except DiscoveryError as exc:  # the server said it cannot list: it rules nothing out
            answer = exc
            listing = Listing(None, self._clock(), describe(exc))
        except LmmsEvalError as exc:  # no answer (a timeout, a 5xx): what it said before stands
            if callers_own(exc):
                raise
            self.table.listing_failed(index, self._clock())
            return exc
        else:
            listing = Listing(frozenset(answer), self._clock())
        if tasks:
            self.table.record_listings(index, tasks=listing)
        else:
            self.table.record_listings(index, models=listing)
        return answer

    async def union(self, options: CallOptions, *, tasks: bool) -> list[str]:
        """Every server's tasks (or models), together; the first error if none could say."""
        self.check_open()
        reads = [partial(self.read_listing, i, options, tasks=tasks) for i in range(len(self.urls))]
        answers = await gather(reads)
        if not any(isinstance(a, list) for a in answers):
            index, error = next((i, a) for i, a in enumerate(answers) if not isinstance(a, list))
            raise on_server(error, self.urls[index])
        return list(dict.fromkeys(name for a in answers if isinstance(a, list) for name in a))

    async def health_of(self, index: int, options: CallOptions) -> HealthResponse | str:
        """A server's /health, or why it did not answer."""
        try:
            health = await self.clients[index]._health(options)
        except LmmsEvalError as exc:
            if callers_own(exc):
                raise
            self.table.mark_down(index, describe(exc), self._clock())
            return describe(exc)
        unwell = _unwell(health)
        if unwell is None:
            self.table.mark_up(index, self._clock())
        else:  # it answered, and says it cannot take jobs: as a failed probe
            self.table.mark_down(index, unwell, self._clock())
        return health

    def refused(self, index: int, error: LmmsEvalError) -> None:
        """A submission to this server failed: refused for a while (a 429, a 503), it is
        passed over until recheck_interval (its answer lost and unresolved too); another
        failure leaves the routing as it is."""
        if passes_over(error):
            self.table.refused(index, describe(error), self._clock())

    async def any_healthy(self, options: CallOptions) -> bool:
        answers = await gather(
            [partial(self._unhealthy, i, options) for i in range(len(self.clients))]
        )
        for index, unwell in enumerate(answers):
            if unwell is not None:
                self.table.mark_down(index, unwell, self._clock())
        return any(unwell is None for unwell in answers)

    # -- jobs -------------------------------------------------------------------------------

    async def locate(
        self, job_id: str, options: CallOptions = DEFAULT_OPTIONS, server: int | None = None
    ) -> tuple[int, JobInfo | None]:
        """The server that holds the job (``server``, when the caller said which), and its
        JobInfo if finding it meant asking. AmbiguousJobIdError when several hold the id:
        a job is (server, id), and another server's job is never taken for it."""
        self.check_open()
        if server is not None:
            return server, None
        known = self.jobs.find(job_id)
        if len(known) > 1:
            raise ambiguous(job_id, [self.urls[i] for i in known])
        if known:
            return known[0], None
        down = self._down_now()
        asked = [i for i in range(len(self.urls)) if i not in down]
        asks = [partial(self._ask, i, job_id, options) for i in asked]
        got = dict(zip(asked, await gather(asks), strict=True))
        answers = [got[i] if i in got else down[i] for i in range(len(self.urls))]
        holders = [i for i, answer in enumerate(answers) if isinstance(answer, JobInfo)]
        if not holders:
            raise not_located(job_id, self.urls, answers)
        for index in holders:
            info = answers[index]
            assert isinstance(info, JobInfo)
            self.jobs.add(job_id, index)
            self.jobs.observe(index, job_id, info.status)
        if len(holders) > 1:
            raise ambiguous(job_id, [self.urls[i] for i in holders])
        info = answers[holders[0]]
        assert isinstance(info, JobInfo)
        return holders[0], info

    async def _ask(self, index: int, job_id: str, options: CallOptions) -> JobInfo | LmmsEvalError:
        try:
            # (all the options: a wait's deadline and retry rule bound the request too)
            return await self.clients[index]._get_job(job_id, options)
        except LmmsEvalError as exc:
            if callers_own(exc):
                raise
            if is_unreachable(exc):
                self.table.mark_down(index, describe(exc), self._clock())
            return exc

    async def job_on(
        self, index: int, job_id: str, options: CallOptions = DEFAULT_OPTIONS
    ) -> JobInfo:
        """The job from the server that holds it; pool errors for what went wrong."""
        try:
            info = await self.clients[index]._get_job(job_id, options)
        except LmmsEvalError as exc:
            raise self.failure(index, exc, job_id) from exc
        self.table.mark_up(index, self._clock())
        self.jobs.observe(index, job_id, info.status)
        return info

    def failure(self, index: int, error: LmmsEvalError, job_id: str) -> LmmsEvalError:
        """What to raise for a failed request about a job that this server holds."""
        server = self.urls[index]
        if isinstance(error, JobNotFoundError):
            self.table.mark_up(index, self._clock())
            seen_on = self.jobs.find(job_id)
            if index not in seen_on:  # asked of another server than the one that took it
                return not_there(error, server, [self.urls[i] for i in seen_on])
            self.jobs.mark(index, job_id, LOST)
            return lost(error, server)
        if is_unreachable(error):
            self.table.mark_down(index, describe(error), self._clock())
            self.jobs.mark(index, job_id, UNREACHABLE)
            return unreachable(error, server, job_id)
        return on_server(error, server)


def _unwell(health: HealthResponse) -> str | None:
    """Why a server that answered /health cannot take jobs (the status it says), or None."""
    return None if health.status == "healthy" else f"it says it is {health.status!r}"
