"""The server-level calls of AsyncEvalClient: health, discovery, checkpoint merging.

Hand-written source: ``_sync/server.py`` is generated from it (``codegen/make_sync.py``).
The jobs' calls are in ``client.py``, reading results in ``results.py``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, TypeVar

from ..._http import endpoints
from ..._http import operations as ops
from ..._http.config import MERGE_TIMEOUT
from ..._http.options import CLIENT_TIMEOUT, DEFAULT_OPTIONS, CallOptions, RequestTimeout
from ..._http.responses import UNHEALTHY, listing_or_raise
from ..arguments import CheckpointType, build_merge_request

if TYPE_CHECKING:
    from lmms_eval_api.models import HealthResponse, MergeResponse, QueueStatusResponse

    from ..._http._async._io import Send

T = TypeVar("T")


class AsyncServerCalls:
    """``health``, ``is_healthy``, ``get_queue_status``, ``list_tasks``, ``list_models``,
    ``merge_checkpoint``: what the client asks of the server rather than of one job."""

    if TYPE_CHECKING:

        async def _request(
            self,
            op: ops.Operation[T],
            send: Send,
            options: CallOptions = DEFAULT_OPTIONS,
            *,
            job_id: str | None = None,
        ) -> T: ...

    async def health(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> HealthResponse:
        """Check the server's health.

        Args:
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).

        Returns:
            HealthResponse with ``status`` ("healthy"), ``timestamp`` and ``queue_size``.
        """
        return await self._health(CallOptions.of(timeout))

    async def _health(self, options: CallOptions = DEFAULT_OPTIONS) -> HealthResponse:
        return await self._request(
            ops.HEALTH, lambda api: endpoints.health.asyncio_detailed(client=api), options
        )

    async def get_queue_status(
        self, *, timeout: RequestTimeout = CLIENT_TIMEOUT
    ) -> QueueStatusResponse:
        """Get the queue: ``queue_size``, ``running_job``, ``queued_jobs``, finished counts.

        Args:
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).
        """
        return await self._get_queue_status(CallOptions.of(timeout))

    async def _get_queue_status(
        self, options: CallOptions = DEFAULT_OPTIONS
    ) -> QueueStatusResponse:
        return await self._request(
            ops.GET_QUEUE_STATUS,
            lambda api: endpoints.get_queue_status.asyncio_detailed(client=api),
            options,
        )

    async def is_healthy(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> bool:
        """True if the server answers and says it is healthy.

        A quick probe: one request, no retries. False when the server cannot be reached or
        answers with an error; programming errors (such as an invalid base URL, rejected
        at construction, or a closed client) are not hidden.

        Args:
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).
        """
        try:
            health = await self._health(CallOptions.of(timeout, retry=False))
        except UNHEALTHY:
            return False
        return health.status == "healthy"

    async def list_tasks(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> list[str]:
        """List the evaluation tasks the server knows (slow: the server indexes them per call).

        Args:
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).

        Raises:
            DiscoveryError: The server answered with an error instead of a list (e.g. its
                task dependencies are missing), rather than an empty list that looks fine.
        """
        return await self._listing(CallOptions.of(timeout), tasks=True)

    async def list_models(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> list[str]:
        """List the model types the server can evaluate.

        Args:
            timeout: This call's time budget instead of the client's (seconds, an
                ``httpx.Timeout``, or None for none).

        Raises:
            DiscoveryError: The server answered with an error instead of a list.
        """
        return await self._listing(CallOptions.of(timeout), tasks=False)

    async def _listing(self, options: CallOptions, *, tasks: bool) -> list[str]:
        """``/tasks`` (else ``/models``) sent with a call's options (a pool's routing reads
        them once, without retries)."""
        if tasks:
            found = await self._request(
                ops.LIST_TASKS,
                lambda api: endpoints.list_tasks.asyncio_detailed(client=api),
                options,
            )
            return listing_or_raise(found.tasks, found.error, "tasks")
        listed = await self._request(
            ops.LIST_MODELS, lambda api: endpoints.list_models.asyncio_detailed(client=api), options
        )
        return listing_or_raise(listed.models, listed.error, "models")

    async def merge_checkpoint(
        self,
        checkpoint_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str] | None = None,
        checkpoint_type: CheckpointType = "regular",
        *,
        timeout: RequestTimeout = MERGE_TIMEOUT,
    ) -> MergeResponse:
        """Merge an FSDP2 sharded checkpoint into one consolidated checkpoint, on the server.

        The server merges synchronously (the merge never enters the queue), so this call
        waits for it: an hour by default, whatever the client's timeout.

        Args:
            checkpoint_path: Sharded checkpoint directory, on the server's disk.
            output_path: Where to write the merged checkpoint (default: checkpoint_path).
            checkpoint_type: "regular" for the model weights, "ema" for the EMA weights.
            timeout: This call's time budget (default: an hour; None for none).

        Returns:
            MergeResponse with ``success``, ``message`` and ``merged_path``.

        Raises:
            NotFoundError: The checkpoint path does not exist.
            InternalServerError: lmms_engine is missing on the server, or the merge failed.
        """
        options = CallOptions.of(timeout)
        body = build_merge_request(checkpoint_path, output_path, checkpoint_type)
        return await self._request(
            ops.MERGE_CHECKPOINT,
            lambda api: endpoints.merge_checkpoint.asyncio_detailed(client=api, body=body),
            options,
        )
