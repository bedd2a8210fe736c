# GENERATED FILE from src/lmms_eval_client/_client/_async/client.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""EvalClient: the typed facade over the generated endpoint functions.

Generated from ``_client/_async/client.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ..._closing import Closing
from ..._exceptions import BadRequestError
from ..._http import endpoints
from ..._http import operations as ops
from ..._http._sync._io import Send, SyncIO
from ..._http.config import DEFAULT_TIMEOUT
from ..._http.limits import DEFAULT_MAX_RESPONSE_BYTES, check_max_response_bytes
from ..._http.options import CLIENT_TIMEOUT, DEFAULT_OPTIONS, CallOptions, RequestTimeout
from ..._http.responses import cancelled_by_earlier_attempt, result_of
from ..._http.retry import (
    DEFAULT_MAX_RETRIES,
    NO_RETRY,
    SEND_FAILURES,
    Outcome,
    longest_wait,
    retry_delay,
)
from ..arguments import build_evaluate_request, check_job_id
from ..base import ClientBase
from ..wait import DEFAULT_POLL_INTERVAL
from .results import SyncResultReading
from .server import SyncServerCalls
from .waiting import SyncJobWaiting

if TYPE_CHECKING:
    from lmms_eval_api.models import CancelResponse, EvaluateRequest, JobInfo, JobSubmitResponse

    from ..._results.file_access import FileSystem
    from ..._results.path_map import PathMap

T = TypeVar("T")


class EvalClient(
    ClientBase[httpx.Client],
    SyncServerCalls,
    SyncResultReading,
    SyncJobWaiting,
    SyncIO,
    Closing,
):
    """Synchronous client of the lmms-eval evaluation server.

    A drop-in replacement for ``lmms_eval.entrypoints.EvalClient``: same methods and
    parameters, results readable by key as before, and typed.

    Args:
        base_url: The server, e.g. ``"http://gpu-box:8000"``. Default: ``$LMMS_EVAL_BASE_URL``,
            else ``http://localhost:8000``. A trailing slash is fine.
        timeout: Time budget of each request, in seconds or as an ``httpx.Timeout``: the
            whole request (connecting, sending, the answer's headers and body) ends within
            it, however slowly a server answers. An ``httpx.Timeout`` also bounds each
            phase; the whole request then gets its largest value. Finite by default (60 s,
            10 s to connect); ``None`` means no timeout at all. This is not how long
            ``wait_for_job`` waits: that is its own ``timeout``.
        headers: Extra headers sent with every request.
        api_key: Sent as ``Authorization: Bearer <api_key>``, for a server behind an
            authenticating proxy. Default: ``$LMMS_EVAL_API_KEY``. Never logged or shown.
        http_client: An httpx.Client to send through, used as it is and never closed by
            this client (given one, configure headers, timeouts and limits on it).
        http2: Speak HTTP/2 (needs the ``http2`` extra: ``pip install lmms-eval-client[http2]``).
        limits: Connection pool limits (``httpx.Limits``); default: 100 connections, all
            kept alive between requests.
        max_retries: Retries of a failed request (0: none), with exponential backoff and
            the server's Retry-After. Reads are retried on connection failures, timeouts
            and 429/502/503/504; a job submission only when it certainly was not sent.
        output_root: A folder on the server's disk (that this machine can read, e.g. a
            shared filesystem) under which each ``evaluate()`` without ``output_dir`` gets
            its own ``<yyyymmdd-hhmmss>-<model>-<id>`` folder. Default:
            ``$LMMS_EVAL_OUTPUT_ROOT``, else the server's fresh ``/tmp/lmms_eval_*`` folder.
        path_map: Where the server's folders are mounted here, for reading results, e.g.
            ``{"/scratch/evals": "/mnt/gpu-box/scratch/evals"}`` (a target may be an fsspec
            URL). Default: ``$LMMS_EVAL_PATH_MAP`` (``server=client;...``), else none.
        filesystem: An fsspec filesystem to read the server's files through (sftp, s3...).
        max_response_bytes: The largest response body read, in bytes after decompression
            (default 64 MiB); a larger one raises ResponseTooLargeError. Applies to an
            injected http_client too.

    Use it as a context manager, or call ``close()``, to release its connections (a
    client collected unclosed closes them).

    Example::

        with EvalClient("http://gpu-box:8000") as client:
            job = client.evaluate(model="qwen2_vl", tasks=["mme"])
            done = client.wait_for_job(job.job_id)
    """

    _http_client_type = httpx.Client

    def __init__(
        self,
        base_url: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        *,
        headers: Mapping[str, str] | None = None,
        api_key: str | None = None,
        http_client: httpx.Client | None = None,
        http2: bool = False,
        limits: httpx.Limits | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        output_root: str | os.PathLike[str] | None = None,
        path_map: PathMap | None = None,
        filesystem: FileSystem | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        limit = check_max_response_bytes(max_response_bytes)
        self._setup_files(output_root, path_map, filesystem)
        self._setup(
            base_url, timeout, headers, api_key, http_client, http2, limits, max_retries, limit
        )

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connections (not those of an injected http_client, which stays open)."""
        self._closed = True
        if self._owns_http_client:
            self._close_connections()

    # -- sending ----------------------------------------------------------------------------

    def _send(
        self, op: ops.Operation[Any], send: Send, options: CallOptions = DEFAULT_OPTIONS
    ) -> tuple[Outcome, int]:
        """Send with the call's options, retrying as the shared policy says; the final
        outcome and the retries made."""
        policy = self._retry if options.retry else NO_RETRY
        deadline = options.deadline
        retries = 0
        while True:
            if not self._closed:  # (a closed client opens no pool in a new loop)
                self._follow_loop()  # first: the end of a loop closes the pool it used
            self._check_open()
            outcome: Outcome
            # A deadline (a wait's) also bounds the attempt in flight, not only the retries.
            time_left = None if deadline is None else deadline - self._clock()
            try:
                outcome = send(self._api_for(options.timeout, time_left))
            except SEND_FAILURES as exc:
                outcome = exc
            delay = retry_delay(
                policy,
                op.idempotency,
                outcome,
                retries,
                longest=longest_wait(self._http.timeout, options.timeout),
                deadline=deadline,
                now=self._clock(),
            )
            if delay is None:
                return outcome, retries
            self._sleep(delay)
            retries += 1

    def _request(
        self,
        op: ops.Operation[T],
        send: Send,
        options: CallOptions = DEFAULT_OPTIONS,
        *,
        job_id: str | None = None,
    ) -> T:
        outcome, _ = self._send(op, send, options)
        return result_of(outcome, op, job_id=job_id)

    # -- jobs -------------------------------------------------------------------------------

    def evaluate(
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
    ) -> JobSubmitResponse:
        """Submit an evaluation job to the server's queue.

        Options left None are not sent (log_samples, predict_only and num_gpus included);
        the server applies its defaults.

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
            JobSubmitResponse with ``job_id``, ``status``, ``position_in_queue``, ``message``.

        Raises:
            InvalidArgumentError: An argument is invalid; nothing was sent.
            UnprocessableEntityError: The server rejected the body (422).

        Warns:
            ModelNameWarning: model_args has no key (``pretrained``, ``model``, ...) from
                which lmms-eval names the results: the real server would fail the job.
        """
        options = CallOptions.of(timeout, reconcile=reconcile)
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
        return self._evaluate_checked(body, options)

    def _evaluate_checked(self, body: EvaluateRequest, options: CallOptions) -> JobSubmitResponse:
        """``evaluate()`` of a request already checked (``build_evaluate_request``): a pool
        checks once, before it routes, then gives the request to the chosen server's client."""
        body = self._under_output_root(body)
        if options.reconcile:
            from .submit import submit_exactly_once  # the reconciler: loaded when used

            return submit_exactly_once(self, body, options)
        return self._submit(body, options)

    def _submit(self, body: EvaluateRequest, options: CallOptions) -> JobSubmitResponse:
        """POST /evaluate once (retried only when it certainly was not sent)."""
        return self._request(
            ops.SUBMIT_EVALUATION,
            lambda api: endpoints.submit_evaluation.sync_detailed(client=api, body=body),
            options,
        )

    def get_job(self, job_id: str, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> JobInfo:
        """Get a job's status, timestamps, request, result files and error.

        Args:
            job_id: The id returned by ``evaluate()``.
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).

        Raises:
            JobNotFoundError: The server has no such job (never submitted, evicted after
                max_completed_jobs, or lost in a server restart).
        """
        options = CallOptions.of(timeout)
        return self._get_job(check_job_id(job_id), options)

    def _get_job(self, job_id: str, options: CallOptions = DEFAULT_OPTIONS) -> JobInfo:
        return self._request(
            ops.GET_JOB,
            lambda api: endpoints.get_job.sync_detailed(job_id, client=api),
            options,
            job_id=job_id,
        )

    def cancel_job(
        self, job_id: str, *, timeout: RequestTimeout = CLIENT_TIMEOUT
    ) -> CancelResponse:
        """Cancel a queued job (a running or finished job cannot be cancelled).

        Args:
            job_id: The id returned by ``evaluate()``.
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).

        Returns:
            CancelResponse whose ``message`` is "Job <id> cancelled".

        Raises:
            BadRequestError: The job is running or already finished; the message says which.
            JobNotFoundError: The server has no such job.
        """
        return self._cancel_job(check_job_id(job_id), CallOptions.of(timeout))

    def _cancel_job(self, job_id: str, options: CallOptions) -> CancelResponse:
        outcome, retries = self._send(
            ops.CANCEL_JOB,
            lambda api: endpoints.cancel_job.sync_detailed(job_id, client=api),
            options,
        )
        try:
            return result_of(outcome, ops.CANCEL_JOB, job_id=job_id)
        except BadRequestError:
            # "Already cancelled" after a retry may mean that our lost first attempt did it.
            if not retries:
                raise
            done = cancelled_by_earlier_attempt(self._get_job(job_id, options))
            if done is None:
                raise
            return done

    def wait_for_job(
        self,
        job_id: str,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        verbose: bool = True,
    ) -> JobInfo:
        """Poll a job until it ends; return it when it completed.

        Stops on every terminal status. The deadline is measured on a monotonic clock;
        the first pause between polls is 0.25 s and each next one doubles up to
        poll_interval (a job that fails or ends at once is seen at once), cut to the time
        left, and a poll in flight at the deadline is cut off (it gets at least 1 s), so a
        stalled server cannot hold the wait much past it. A status this client does not
        know yet counts as still in progress.

        Args:
            job_id: The id returned by ``evaluate()``.
            poll_interval: The longest pause between polls, in seconds (> 0).
            timeout: Seconds to wait at most; None waits as long as it takes, 0 checks once.
            verbose: Print each change of status (and queue position) to stdout.

        Returns:
            The completed job's JobInfo (``result`` holds the result file paths).

        Raises:
            JobFailedError: The job failed; ``.job`` and ``.error`` carry the server's account.
            JobCancelledError: The job was cancelled.
            WaitTimeoutError: The timeout passed first; ``.job`` is the last state seen.
            JobNotFoundError: The server does not know (or no longer knows) the job.
        """
        return self._wait_for_job(job_id, poll_interval, timeout, verbose)

    def _poll_waited(
        self, job_id: str, deadline: float | None, retry: bool, server: int | None = None
    ) -> JobInfo:
        return self._get_job(job_id, CallOptions(deadline=deadline, retry=retry))
