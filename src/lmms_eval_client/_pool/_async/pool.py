"""AsyncEvalPool: several lmms-eval servers behind the client's methods.

The source of ``_sync/pool.py`` (EvalPool, by ``codegen/make_sync.py``). The routing is
``routing`` (no I/O), the reports ``status``, the errors ``errors``: here, the requests.

Job ids are the servers' own (lmms-eval's are UUIDs), returned unchanged: they match the
server's ``/queue``, its JobInfo, its logs and result folders, and code that compares them
keeps working. The pool remembers which server holds each job, and finds one it never saw
by asking every server (a read, so safe). Composite ids ("<server>:<id>") would differ
from ``JobInfo.job_id`` and from every queue listing, and tie stored ids to the order of
the pool's list of URLs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import httpx

from lmms_eval_api.models import CancelResponse, JobInfo, JobStatus

from ..._client._async.client import AsyncEvalClient
from ..._client._async.waiting import AsyncJobWaiting
from ..._client.arguments import build_evaluate_request, check_job_id
from ..._client.wait import DEFAULT_POLL_INTERVAL
from ..._closing import AsyncClosing
from ..._exceptions import (
    APIConnectionError,
    LmmsEvalError,
    ServerUnreachableError,
)
from ..._http.config import DEFAULT_TIMEOUT
from ..._http.options import CLIENT_TIMEOUT, CallOptions, RequestTimeout
from ..._http.retry import DEFAULT_MAX_RETRIES
from ..._log import logger
from ..._results.file_access import FileSystem
from ..._results.path_map import PathMap
from ..config import (
    DEFAULT_LISTING_TTL,
    DEFAULT_RECHECK_INTERVAL,
    check_interval,
    server_caps,
    server_entries,
)
from ..errors import ambiguous, on_server
from ..status import PoolJob, PoolJobSubmitResponse, describe
from .reading import AsyncPoolReading
from .server_calls import AsyncPoolServerCalls
from .servers import PoolServers


class AsyncEvalPool(AsyncPoolReading, AsyncPoolServerCalls, AsyncJobWaiting, AsyncClosing):
    """Several lmms-eval servers used as one, with the methods of AsyncEvalClient.

    ``evaluate()`` sends a job to one server: of those that are up and offer the model and
    every task (their ``/tasks`` and ``/models``, cached for ``listing_ttl`` seconds), the
    least loaded (queued + running jobs in its ``/queue``, read before each choice, plus
    this pool's submissions on their way), below ``max_jobs_per_server``. Never to two: a
    submission whose answer was lost raises (the job may exist on the server it names);
    only one that certainly never reached a server goes to another. Calls about a job go
    to the server that holds it.

    Args:
        servers: Base URLs (a list, or one str of comma-separated URLs) or AsyncEvalClient
            instances (used as they are, never closed by the pool). Default:
            ``$LMMS_EVAL_BASE_URLS`` (comma-separated), else ``$LMMS_EVAL_BASE_URL``.
        timeout: As AsyncEvalClient's, for each server given by URL; so are ``headers``,
            ``api_key``, ``http2``, ``limits``, ``max_retries``, ``output_root``,
            ``path_map`` and ``filesystem``.
        max_jobs_per_server: At most this many jobs queued or running on a server for
            this pool to send it another (one int for all, or one per server; None: no
            cap). When every server is full, evaluate() raises NoServerAvailableError.
        listing_ttl: Seconds a server's task and model listings are reused (0: read them
            before every choice; a real server's ``/tasks`` takes seconds).
        recheck_interval: Seconds before a server that did not answer is tried again.

    A method's own ``timeout=`` bounds the whole call: the servers it asks are asked at
    once, and no retry of the call starts past that time (a server that has not answered
    by then is one that did not answer; a request sent near it gets at least a second).

    Example::

        qwen = {"pretrained": "Qwen/Qwen2-VL-2B-Instruct"}
        async with AsyncEvalPool(["http://gpu-1:8000", "http://gpu-2:8000"]) as pool:
            job = await pool.evaluate(model="qwen2_vl", tasks=["mme"], model_args=qwen)
            done = await pool.wait_for_job(job.job_id)  # asks the server that took it
    """

    def __init__(
        self,
        servers: Sequence[str | AsyncEvalClient] | str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        *,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        output_root: str | os.PathLike[str] | None = None,
        path_map: PathMap | None = None,
        filesystem: FileSystem | None = None,
        max_jobs_per_server: int | Sequence[int | None] | None = None,
        listing_ttl: float = DEFAULT_LISTING_TTL,
        recheck_interval: float = DEFAULT_RECHECK_INTERVAL,
    ) -> None:
        entries = server_entries(servers, AsyncEvalClient)
        caps = server_caps(max_jobs_per_server, len(entries))
        ttl = check_interval("listing_ttl", listing_ttl)
        recheck = check_interval("recheck_interval", recheck_interval)
        clients: list[AsyncEvalClient] = []
        for entry in entries:
            if isinstance(entry, AsyncEvalClient):
                clients.append(entry)
                continue
            client = AsyncEvalClient(
                entry, timeout, headers=headers, api_key=api_key, http2=http2, limits=limits,
                max_retries=max_retries, output_root=output_root, path_map=path_map,
                filesystem=filesystem,
            )  # fmt: skip
            clients.append(client)
        self._owned = tuple(c for c, e in zip(clients, entries, strict=True) if e is not c)
        self._servers = PoolServers(clients, caps, ttl, recheck, clock=self._clock)

    @property
    def servers(self) -> tuple[str, ...]:
        """The servers' base URLs, in the pool's order."""
        return self._servers.urls

    @property
    def clients(self) -> tuple[AsyncEvalClient, ...]:
        """One client per server, in the pool's order."""
        return self._servers.clients

    def __repr__(self) -> str:
        return f"{type(self).__name__}(servers={list(self._servers.urls)!r})"

    # -- lifecycle ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the clients the pool made (clients given to it stay open)."""
        self._servers.closed = True
        for client in self._owned:
            await client.close()

    # -- where jobs go, where they are -----------------------------------------------------

    async def route(self, model: str, tasks: Sequence[str] | str) -> AsyncEvalClient:
        """The client of the server a job of this model and tasks would be sent to now.

        Nothing is submitted: for code that submits through a server's own client (then
        ``adopt()`` tells the pool where the job went).

        Raises:
            NoServerAvailableError: No server can take such a job now; the message says why.
        """
        return self._servers.clients[await self._servers.choose(model, tasks, reserve=False)]

    async def _reserve(
        self, model: str, tasks: Sequence[str]
    ) -> tuple[AsyncEvalClient, Callable[[bool], None]]:
        """As route(), the server reserved for a submission sent through its own client (an
        evaluation run's): counted against its cap until ``settle(accepted)`` is called."""
        index = await self._servers.choose(model, tasks, reserve=True)
        return self._servers.clients[index], partial(self._settle, index)

    def _settle(self, index: int, accepted: bool) -> None:
        self._servers.table.settle(index, accepted=accepted, now=self._clock())

    def adopt(self, job_id: str, server: str) -> None:
        """Tell the pool which server holds a job (e.g. an id kept from an earlier run)."""
        self._servers.jobs.add(check_job_id(job_id), self._servers.index_of(server))

    def _refused(self, server: str, error: LmmsEvalError) -> None:
        """A submission sent through ``server``'s own client (an evaluation run's) failed:
        refused for a while (a 429, a 503) or its answer lost, the next choices pass it
        over, as evaluate's."""
        self._servers.refused(self._servers.index_of(server), error)

    def _server_index(self, server: str | None) -> int | None:
        return None if server is None else self._servers.index_of(server)

    def server_of(self, job_id: str) -> str | None:
        """The base URL of the server known to hold the job; None if the pool never saw it.

        Raises:
            AmbiguousJobIdError: The pool saw jobs of this id on several servers.
        """
        known = self._servers.jobs.find(job_id)
        if len(known) > 1:
            raise ambiguous(job_id, [self._servers.urls[i] for i in known])
        return self._servers.urls[known[0]] if known else None

    def jobs(self) -> list[PoolJob]:
        """Every job this pool has seen: its server, last status and state (``unreachable``
        while its server does not answer, ``lost`` once the server no longer knows it)."""
        return self._servers.jobs.jobs()

    # -- jobs -------------------------------------------------------------------------------

    async def evaluate(
        self,
        # <params request>
        model: str,
        tasks: Sequence[str] | str,
        model_args: Mapping[str, Any] | None = None,
        num_fewshot: int | None = None,
        batch_size: int | str | None = None,
        device: str | None = None,
        limit: int | float | None = None,
        gen_kwargs: str | None = None,
        log_samples: bool | None = True,
        predict_only: bool | None = False,
        num_gpus: int | None = 1,
        output_dir: str | os.PathLike[str] | None = None,
        # </params>
        *,
        # <params extra_body reconcile timeout>
        extra_body: Mapping[str, Any] | None = None,
        reconcile: bool = False,
        timeout: RequestTimeout = CLIENT_TIMEOUT,
        # </params>
    ) -> PoolJobSubmitResponse:
        """Submit an evaluation job to one server of the pool (chosen as the class says).

        As AsyncEvalClient.evaluate, the parameters sent as they are to the chosen server's
        client (whose ``output_root`` applies); ``reconcile=True`` reconciles a lost answer
        on the server it was sent to.

        Args:
            model: lmms-eval model type, e.g. "qwen2_vl" (see ``list_models()``).
            tasks: Task names, e.g. ["mmmu_val"]; a single str is taken as one task.
            model_args: Model arguments, e.g. {"pretrained": "Qwen/Qwen2-VL-7B-Instruct"}. The
                result files are filed under the model name lmms-eval derives from them
                (``pretrained``, ``model``, ...).
            num_fewshot: Number of few-shot examples (>= 0).
            batch_size: Batch size, an int or a string such as "auto".
            device: Device to run on, e.g. "cuda:0".
            limit: Examples per task: a count (> 0), a fraction in (0, 1), or -1 for all (as
                lmms-eval's CLI takes it). A numeric str such as "8" is read as its number.
            gen_kwargs: Generation kwargs, e.g. "temperature=0,max_new_tokens=64".
            log_samples: Write per-sample outputs.
            predict_only: Only generate predictions, skip metrics.
            num_gpus: Number of GPUs to use (>= 1).
            output_dir: Results folder on the server's disk. Default: a fresh one under
                ``output_root`` when one is set (each job its own), else a fresh temporary one the
                server picks.
            extra_body: Fields of a newer server that this client's contract does not know yet, sent
                as given (JSON values; never a field that has a parameter here).
            reconcile: Exactly one job even when the answer is lost: read ``/queue`` before sending;
                after a lost answer, adopt the new queued or running job whose echoed request equals
                this one (a unique output_dir makes that exact), or send again only when the server
                provably has no such job (one job queued before it still waits, or its finished
                counters did not move); else raise SubmissionUnresolvedError, sending nothing more
                (README: "Evaluation runs").
            timeout: This call's time budget instead of the client's (seconds, an ``httpx.Timeout``,
                or None for none).

        Returns:
            PoolJobSubmitResponse: the server's answer (``job_id``...) and its ``server``.

        Raises:
            NoServerAvailableError: No server can take the job now (down, lacking the
                model or a task, at its cap); nothing was sent.
            APIConnectionError: The answer was lost (``may_have_been_sent``): the job may
                exist on the server the message names. It was not sent anywhere else.
        """
        options = self._servers.call_options(timeout, reconcile=reconcile)
        body = build_evaluate_request(  # checked (and warned about) before a server is asked
            # <params request extra_body: arguments>
            model,
            tasks,
            model_args,
            num_fewshot,
            batch_size,
            device,
            limit,
            gen_kwargs,
            log_samples,
            predict_only,
            num_gpus,
            output_dir,
            extra_body,
            # </params>
        )
        tried: set[int] = set()
        while True:
            index = await self._servers.choose(
                body.model, body.tasks, reserve=True, exclude=frozenset(tried), options=options
            )
            server = self._servers.urls[index]
            try:
                job = await self._servers.clients[index]._evaluate_checked(body, options)
            except APIConnectionError as exc:
                self._servers.table.settle(index, accepted=False, now=self._clock())
                if exc.may_have_been_sent:
                    # Its answers are lost: the next jobs go elsewhere until recheck_interval.
                    self._servers.table.refused(index, describe(exc), self._clock())
                    raise on_server(exc, server) from exc
                # It certainly never reached that server: another may take it.
                self._servers.table.mark_down(index, describe(exc), self._clock())
                tried.add(index)
                logger.info("Could not reach %s to submit; routing the job again", server)
                continue
            except BaseException as exc:
                self._servers.table.settle(index, accepted=False, now=self._clock())
                if isinstance(exc, LmmsEvalError):
                    self._servers.refused(index, exc)  # a 503, a 429: elsewhere a while
                    raise on_server(exc, server) from exc
                raise
            self._servers.table.settle(index, accepted=True, now=self._clock())
            self._servers.jobs.add(job.job_id, index)
            return PoolJobSubmitResponse.model_validate({**job.model_dump(), "server": server})

    async def get_job(
        self, job_id: str, *, timeout: RequestTimeout = CLIENT_TIMEOUT, server: str | None = None
    ) -> JobInfo:
        """Get a job from the server that holds it (``timeout=``: the whole call's time,
        the servers asked where an unseen id is included).

        A job is (server, id): ``server=`` (one of ``servers``) says whose job is meant,
        which an id that several servers hold needs; None: the one server that holds it.

        Raises:
            AmbiguousJobIdError: Several servers hold a job of this id: pass ``server=``.
            ServerUnreachableError: Its server does not answer; the job is not lost.
            JobNotFoundError: Its server no longer knows it (restarted, or evicted it): lost.
            JobNotFoundError: No server of the pool knows the id.
        """
        options = self._servers.call_options(timeout)
        job_id = check_job_id(job_id)
        index, info = await self._servers.locate(job_id, options, self._server_index(server))
        return info if info is not None else await self._servers.job_on(index, job_id, options)

    async def cancel_job(
        self, job_id: str, *, timeout: RequestTimeout = CLIENT_TIMEOUT, server: str | None = None
    ) -> CancelResponse:
        """Cancel a queued job on the server that holds it (as AsyncEvalClient.cancel_job);
        ``server=`` as for ``get_job``.

        Raises:
            AmbiguousJobIdError: Several servers hold a job of this id: pass ``server=``.
            BadRequestError: The job is running or already finished.
            ServerUnreachableError: Its server does not answer: nothing was cancelled,
                unless ``may_have_been_sent`` (the answer was lost: check the status).
            JobNotFoundError: Its server no longer knows it: lost.
        """
        options = self._servers.call_options(timeout)
        job_id = check_job_id(job_id)
        index, _ = await self._servers.locate(job_id, options, self._server_index(server))
        try:
            cancelled = await self._servers.clients[index]._cancel_job(job_id, options)
        except LmmsEvalError as exc:
            raise self._servers.failure(index, exc, job_id) from exc
        self._servers.jobs.observe(index, job_id, JobStatus.CANCELLED)
        return cancelled

    async def wait_for_job(
        self,
        job_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        verbose: bool = True,
        *,
        server: str | None = None,
    ) -> JobInfo:
        """Poll a job on its server until it ends; return it when it completed.

        As AsyncEvalClient.wait_for_job; ``server=`` as for ``get_job`` (AmbiguousJobIdError
        without it for an id that several servers hold). While the job's server does not
        answer, the wait goes on (the job is not lost) until the server answers again or
        ``timeout`` passes: then WaitTimeoutError, caused by a ServerUnreachableError. A
        server that answers 404 (it restarted) raises JobNotFoundError at once. An id that
        no server has confirmed holding while one does not answer is looked for again
        until ``timeout``; without one (None), ServerUnreachableError is raised at once,
        as one client's wait raises when its server never answered (``server=`` says
        where it is, as ``adopt`` does: then its server's outage is waited through).
        """
        index = self._server_index(server)  # checked before the first poll
        return await self._wait_for_job(job_id, poll_interval, timeout, verbose, index)

    async def _poll_waited(
        self, job_id: str, deadline: float | None, retry: bool, server: int | None = None
    ) -> JobInfo:
        # The wait's deadline bounds each request of the poll (a server that stopped
        # answering held a wait of timeout=1 for three of the client's timeouts).
        options = CallOptions(deadline=deadline, retry=retry)
        index, info = await self._servers.locate(job_id, options, server=server)
        return info if info is not None else await self._servers.job_on(index, job_id, options)

    def _says_where(self, error: LmmsEvalError, server: int | None = None) -> bool:
        # The server known to hold the job, or named by the caller (as adopt does), does not
        # answer: wait for it. Not "no reachable server knows it" of an id none confirmed (a
        # typo): raised without a deadline, as by one client whose server never answered.
        if not isinstance(error, ServerUnreachableError):
            return False
        named = server is not None and self._servers.urls[server] == error.server
        return named or self._servers.holds(error)
