"""AsyncEvalRun: many labelled evaluation jobs over one client, tracked in a ledger file.

This is the hand-written source of both run classes: ``_sync/run.py`` (EvalRun) is
generated from it by ``codegen/make_sync.py`` (``make generate``); edit only this file.
Its methods live in three modules: here opening and submitting, ``delivery.py`` handing
outcomes out (harvest, as_completed, wait), ``records.py`` reading the ledger. The decisions
live in ``_client/reconcile.py`` (exactly-once submission), ``ledger.py`` (what is
recorded), ``outcomes.py`` (how jobs ended) and ``options.py``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from ..._client._async.client import AsyncEvalClient
from ..._client.arguments import build_evaluate_request
from ..._client.reconcile import DEFAULT_MAX_COMPLETED_JOBS
from ..._client.wait import DEFAULT_POLL_INTERVAL
from ..._closing import AsyncClosing
from ..._http._async._io import run_sync
from ..._http.options import CLIENT_TIMEOUT, CallOptions, RequestTimeout
from ..._results.output_dirs import check_output_root
from ..._trackers.base import Sink, check_step_labels, check_template_labels
from ..errors import UncoveredServersWarning
from ..ledger import DEFAULT_BUSY_TIMEOUT, Ledger
from ..ledger_keys import KeyTaken, check_key, job_under_key, latest_attempt
from ..options import (
    DEFAULT_ORPHAN_AFTER,
    RetryOnFailure,
    RunRetry,
    check_claim_timeout,
    check_json_object,
    check_run_args,
    new_token,
    release_owner,
)
from ..servers import (
    by_server,
    check_run_client,
    checked_moves,
    rehome_jobs,
    uncovered_jobs,
)
from ..sink_delivery import check_sinks
from ..states import SUBMITTING, UNSENT
from .delivery import AsyncRunDelivery
from .polling import AsyncRunPoller, Summarize

if TYPE_CHECKING:
    from ..._pool._async.pool import AsyncEvalPool
    from ..outcomes import TrackedJob


class AsyncEvalRun(AsyncRunDelivery, AsyncClosing):
    """A set of evaluation jobs with labels, tracked in a ledger file (SQLite).

    Opening the same ledger again (after a crash, in another process) resumes: pending
    jobs are polled, and a submission whose answer never came is reconciled with the
    server (adopted, or marked ``unsent``), never sent twice. Jobs the server forgot (it
    restarted, or evicted them) become ``lost`` with their last known state. Submitting
    under a ``key`` already tracked returns that job instead of sending another, so a
    rerun script submits nothing twice.

    A job's server is matched by identity (``localhost`` and ``127.0.0.1`` are one host; a
    default port is the same as none). Pending jobs on servers the client (or pool) does not
    reach are named by an ``UncoveredServersWarning`` at open, by an
    ``UncoveredServersError`` from ``wait``/``as_completed`` once nothing else is pending,
    and moved with ``rehome(old, new)``.

    Polling costs one ``GET /queue`` per interval plus one ``GET /jobs/{id}`` per job that
    left the queued/running set, whatever the number of pending jobs. An asynchronous run
    reads and writes its ledger and results files in worker threads, off the event loop.

    Args:
        client: The AsyncEvalClient to send through, or an AsyncEvalPool of several
            servers (each submission routed by the pool, the ledger recording where it
            went); not closed by the run.
        ledger_path: The ledger: a SQLite file, or a PostgreSQL database shared by many
            processes and machines, ``postgresql://user:password@host/db?schema=RUN``
            (each run a schema; the ``postgres`` extra). Created if missing, reopened
            (resumed) if not. A SQLite file on a network filesystem is refused
            (``NetworkFilesystemError``).
        poll_interval: The longest pause between polls of ``wait`` and ``as_completed``,
            in seconds (> 0; each wait's first pause is 0.25 s, then doubles up to it).
        retry: Resubmit failed jobs whose error matches, e.g.
            ``RetryOnFailure("CUDA out of memory", max_attempts=3)``. Default: never.
        output_root: A folder on the server's disk: each job gets its own
            ``<root>/<yyyymmdd-hhmmss>-<model>-<token>`` output_dir (unless one is given),
            which makes reconciliation of a lost answer exact. Default: the ``output_root``
            of the client the job is sent through (its argument, else
            ``$LMMS_EVAL_OUTPUT_ROOT``; over a pool, the chosen server's client's), else none
            (the server picks temporary folders and a lost answer is matched on the whole
            request).
        summarize: Called with each completed job's JobInfo (by an asynchronous run, in a
            worker thread); what it returns (JSON data) is recorded in the ledger as the job's
            results summary. Errors are logged.
            Default ``"results"``: the job's metrics, ``{model: {task: {"name,filter":
            value}}}``, read through the path_map / filesystem of the job's client (over a
            pool, its server's) when reachable here; None: no summary.
        max_completed_jobs: The server's ``max_completed_jobs`` (default 100, its default),
            used to decide a lost answer's fate from its counters.
        orphan_after: Seconds after which a submission left unanswered by another machine's
            process is reconciled (one of this machine whose process died: at once).
        claim_timeout: Seconds an outcome handed out by ``receive()`` and not acknowledged
            stays claimed before it is handed out again (a claim of a dead process of this
            machine is taken over at once). Default: ``orphan_after``.
        busy_timeout: Seconds to wait for another process holding the ledger's lock.
        allow_network_filesystem: Use a SQLite ledger on NFS, SMB, Lustre, GPFS or FUSE
            anyway (also ``$LMMS_EVAL_LEDGER_ALLOW_NETWORK_FS=1``), for a filesystem known
            to lock reliably and one process writing.
        secret_args: Words that make a model_args key secret, in any case, instead of the
            default: ``SECRET_ARG_WORDS`` (key, token, secret, password) and the words of
            ``$LMMS_EVAL_SECRET_ARGS`` (comma-separated), added to them. The ledger stores
            their values only as fingerprints.
        rehome: ``{old: new}``: ``rehome(old, new)`` for each pair, at open (before the
            check of the pending jobs' servers).
        sinks: Where each completed job's metrics go, e.g.
            ``[TensorBoardSink("runs/evals")]`` (MLflowSink, WandbSink, CallbackSink): after
            every poll, each sink gets the jobs it has not written, once each, at the job's
            training step (its ``step`` label: ``submit`` refuses labels a sink cannot read
            it from). The ledger records what each sink wrote, so a resumed run writes
            nothing twice. A sink that fails is logged and its jobs written at a later poll;
            it never stops the run. Not closed by the run (close them, or use ``with``).
            The metrics are the summary's: a ``summarize`` of your own feeds the sinks only
            what it returns in the default's shape (``{model: {task: {"name,filter":
            value}}}``); summaries of another shape are said once in a warning.

    Raises:
        LedgerError: The ledger cannot be used (corrupt, foreign, newer, read-only, full,
            on a network filesystem; a PostgreSQL server unreachable or refusing the user).

    Warns:
        UncoveredServersWarning: The ledger has jobs pending on servers this run's client
            does not reach (its ``servers`` name them and their seqs).

    Example::

        async with AsyncEvalRun(client, "evals.sqlite", sinks=[TensorBoardSink("tb")]) as run:
            await run.submit(model="qwen2_vl", tasks=["mme"], labels={"step": 100})
            async for outcome in run.as_completed(timeout=3600):
                print(outcome.labels, outcome.kind)
    """

    def __init__(
        self,
        client: AsyncEvalClient | AsyncEvalPool,
        ledger_path: str | os.PathLike[str],
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        retry: RetryOnFailure | None = None,
        output_root: str | os.PathLike[str] | None = None,
        summarize: Summarize | Literal["results"] | None = "results",
        max_completed_jobs: int = DEFAULT_MAX_COMPLETED_JOBS,
        orphan_after: float = DEFAULT_ORPHAN_AFTER,
        claim_timeout: float | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        allow_network_filesystem: bool = False,
        secret_args: Sequence[str] | None = None,
        rehome: Mapping[str, str] | None = None,
        sinks: Sequence[Sink] = (),
    ) -> None:
        check_run_args(poll_interval, max_completed_jobs, orphan_after)
        check_run_client(client, AsyncEvalClient)
        self._sinks = check_sinks(sinks, summarize)
        moves = checked_moves(_servers_of(client), rehome)  # before the ledger is touched
        self._client = client
        self._poll_interval = float(poll_interval)
        self._claim_timeout = check_claim_timeout(claim_timeout, orphan_after)
        self._retry = RunRetry.of(retry)
        # None: each job's client's output_root, asked when it is sent (see AsyncRunPoller).
        self._output_root = check_output_root(output_root)
        self._ledger = Ledger(
            ledger_path,
            busy_timeout=busy_timeout,
            secret_args=secret_args,
            allow_network_filesystem=allow_network_filesystem,
        )
        self._poller = AsyncRunPoller(
            client,
            self._ledger,
            retry=self._retry,
            output_root=self._output_root,
            summarize=summarize,
            max_completed_jobs=max_completed_jobs,
            orphan_after=float(orphan_after),
            sinks=self._sinks,
        )
        try:
            for old, new in moves:
                rehome_jobs(self._ledger, old, new)
            # Opening is synchronous already (the ledger): unreachable jobs are named now.
            servers = self._servers()
            uncovered = uncovered_jobs(self._ledger, servers, self._retry)
            if uncovered:
                warning = UncoveredServersWarning.of(
                    self._ledger.path, by_server(uncovered), list(servers)
                )
                warnings.warn(warning, stacklevel=2)
        except BaseException:  # a conflict, or the warning made an error (-W error)
            self._ledger.close()
            raise

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._ledger.path!r}, servers={list(self._servers())!r})"

    @property
    def ledger_path(self) -> str:
        """The ledger file, or its PostgreSQL URL without the password."""
        return self._ledger.path

    async def close(self) -> None:
        """Close the ledger (the client stays open). Jobs go on running on the server; a
        sink's write under way is waited for and recorded (the sinks get no more)."""
        await run_sync(self._poller._deliver.close)
        await self._poller.record_answers_at_close()
        release_owner(self._poller._owner)
        await run_sync(self._ledger.close)

    # -- submitting ---------------------------------------------------------------------

    async def submit(
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
        labels: Mapping[str, Any] | None = None,
        key: str | None = None,
        # <params extra_body timeout>
        extra_body: Mapping[str, Any] | None = None,
        timeout: RequestTimeout = CLIENT_TIMEOUT,
        # </params>
    ) -> TrackedJob:
        """Submit a job (as ``evaluate``) and track it under ``labels``.

        The intent is recorded before anything is sent; a lost answer is reconciled with
        the server (the job adopted, or sent again only once proven absent), as
        ``evaluate(..., reconcile=True)`` does. ``timeout`` bounds each request of the
        submission, those of the reconciliation included.

        With a ``key``, submitting is idempotent: when the ledger already tracks a job under
        it, in any state, that job (its last attempt) is returned and nothing is sent, even
        if the arguments differ. The key is recorded with the intent, before the request is
        sent, so a process killed in between settles to one job; of processes submitting
        one key at once, one sends. One exception: a job under the key recorded ``unsent``
        provably never reached the server, so it is sent again (the key passes to the new
        job). A submission still ``submitting`` under the key, left by a process that died,
        is reconciled with the server first.

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
            labels: Any JSON-able mapping, e.g. ``{"epoch": 3, "checkpoint": "ckpt-3"}``.
            key: A name of this submission in the ledger, e.g. ``"step-100"`` (1 to 256
                printable characters): see above. ``run.job(key)`` finds it.
            extra_body: Fields of a newer server that this client's contract does not know yet, sent
                as given (JSON values; never a field that has a parameter here).
            timeout: This call's time budget instead of the client's (seconds, an ``httpx.Timeout``,
                or None for none).

        Returns:
            The tracked job (``seq``, ``job_id``, ``state``, ``labels``...), or the one
            already tracked under ``key``.

        Raises:
            InvalidArgumentError: An argument is invalid (``labels`` lack one that a
                sink's ``metric_name`` names, too); nothing was sent or recorded.
            StepLabelError: (an InvalidArgumentError) A sink of the run could not read
                the job's training step from ``labels``; nothing was sent or recorded.
            SubmissionUnresolvedError: The answer was lost and the server cannot tell
                whether it holds the job (recorded as ``lost``, or, when the server could not
                be asked, kept ``submitting`` and reconciled at a later poll).
            LedgerError: The ledger could not record the intent: nothing was sent. Or the
                server accepted the job and the ledger could not record its answer: then
                the error's ``job_id`` and ``server`` name the job, which exists; the run
                records it at its next poll (do not submit it again).
            APIStatusError, APIConnectionError: The server refused it or could not be
                reached; the job is recorded ``unsent``. Over a pool it is not sent to
                another server (as a pool's ``evaluate`` does when one cannot be reached):
                a server that could not be reached or refused it for now (a 429, a 503) is
                passed over a while, so submitting again routes it elsewhere.
        """
        checked = check_json_object("labels", labels)
        check_step_labels(self._sinks, checked)  # no job that a sink cannot place
        check_template_labels(self._sinks, checked)  # ... or name
        key = check_key(key)
        options = CallOptions.of(timeout)  # checked before anything is recorded or sent
        body = build_evaluate_request(
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
        own_dir = output_dir is None  # then the run gives the job a folder of its own
        if key is not None:
            tracked = await self._under_key(key, options)
            if tracked is not None:
                return tracked
        try:
            # Every request of the submission (reconciliation's too) is sent with the options.
            return await self._poller.submit(
                body, checked, new_token(), None, own_dir=own_dir, options=options, key=key
            )
        except KeyTaken as taken:  # another process recorded its intent under the key first
            return await run_sync(partial(latest_attempt, self._ledger, taken.seq))

    async def _under_key(self, key: str, options: CallOptions) -> TrackedJob | None:
        """The job tracked under ``key``, if one that is to be returned (not ``unsent``)."""
        job = await run_sync(partial(job_under_key, self._ledger, key))
        if job is not None and job.state == SUBMITTING:
            # Left by a process that died before the answer? Settled before it is returned:
            # adopted, or unsent (then sent again here). A live submitter's stays as it is.
            await self._poller._reconcile_orphans(call=options)
            job = await run_sync(partial(job_under_key, self._ledger, key))
        return None if job is None or job.state == UNSENT else job

    async def rehome(self, old: str, new: str) -> list[TrackedJob]:
        """Record that the jobs of server ``old`` now live on server ``new`` (a server of
        this run): a restarted server on another port, another name for it. Every job
        recorded on ``old`` (any spelling of it, any state) is moved, with an observation
        ``rehomed`` in its history; the pending ones are polled on ``new`` from then on
        (one the new server does not know becomes ``lost``, as after a restart).

        Args:
            old: The base URL the jobs were recorded on (``job.server``, or as the
                ``UncoveredServersWarning`` names it).
            new: A base URL of this run's client, or of a server of its pool.

        Returns:
            The moved jobs (none when no job is recorded on ``old``: rehoming twice is
            harmless).

        Raises:
            InvalidArgumentError: ``old`` or ``new`` is no base URL, or ``new`` is not a
                server of this run. Nothing was written.
            RehomeConflictError: The ledger already has a job of one of the moved job ids
                on ``new``. Nothing was written.

        Example::

            moved = await run.rehome("http://127.0.0.1:8000", "http://127.0.0.1:8001")
            print([job.seq for job in moved])
        """
        ((old, target),) = checked_moves(self._servers(), {old: new})
        return await run_sync(partial(rehome_jobs, self._ledger, old, target))

    def _servers(self) -> tuple[str, ...]:
        """The base URLs this run reaches: its client's, or every server of its pool."""
        return _servers_of(self._client)


def _servers_of(client: AsyncEvalClient | AsyncEvalPool) -> tuple[str, ...]:
    return (client.base_url,) if isinstance(client, AsyncEvalClient) else client.servers
