# GENERATED FILE from src/lmms_eval_client/_pool/_async/server_calls.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""The server-level calls of EvalPool: the queue, health, discovery, merging.

Generated from ``_pool/_async/server_calls.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import os
from functools import partial
from typing import TYPE_CHECKING

from lmms_eval_api.models import MergeResponse

from ..._client.arguments import CheckpointType
from ..._exceptions import InvalidArgumentError, LmmsEvalError
from ..._http.config import MERGE_TIMEOUT
from ..._http.options import CLIENT_TIMEOUT, RequestTimeout
from ..errors import on_server
from ..status import PoolHealth, PoolQueueStatus, pool_health, pool_queue
from ._io import gather

if TYPE_CHECKING:
    from .servers import PoolServers


class SyncPoolServerCalls:
    """``get_queue_status``, ``health``, ``is_healthy``, ``list_tasks``, ``list_models``,
    ``merge_checkpoint`` of the pool."""

    _servers: PoolServers

    if TYPE_CHECKING:

        @property
        def servers(self) -> tuple[str, ...]: ...

    def get_queue_status(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> PoolQueueStatus:
        """Every server's queue, summed up (``servers`` has each one's, or why it is missing).

        Raises:
            NoServerAvailableError: No server answered.
        """
        options = self._servers.call_options(timeout)
        self._servers.check_open()
        return pool_queue(self._servers.urls, self._servers.queues(options))

    def health(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> PoolHealth:
        """Ask every server for its health: ``status`` is "healthy" (all are), "degraded"
        or "unhealthy" (none); ``servers`` has each one's answer or error."""
        options = self._servers.call_options(timeout)
        self._servers.check_open()
        answers = gather(
            [partial(self._servers.health_of, i, options) for i in range(len(self.servers))]
        )
        return pool_health(self._servers.urls, answers)

    def is_healthy(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> bool:
        """True if at least one server answers and says it is healthy (jobs can go there)."""
        options = self._servers.call_options(timeout)
        self._servers.check_open()
        return self._servers.any_healthy(options)

    def list_tasks(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> list[str]:
        """The tasks of every server that can list them, together (and cached for routing).

        Raises:
            LmmsEvalError: No server could list them: the first server's error (in the
                pool's order), of the class its client raises, naming it (``.server``):
                DiscoveryError when it said it cannot list them, APIConnectionError when
                it did not answer, InternalServerError for its 500...
        """
        return self._servers.union(self._servers.call_options(timeout), tasks=True)

    def list_models(self, *, timeout: RequestTimeout = CLIENT_TIMEOUT) -> list[str]:
        """The model types of every server that can list them, together (cached too).

        Raises:
            LmmsEvalError: No server could list them: the first server's error, as for
                ``list_tasks``.
        """
        return self._servers.union(self._servers.call_options(timeout), tasks=False)

    def merge_checkpoint(
        self,
        checkpoint_path: str | os.PathLike[str],
        output_path: str | os.PathLike[str] | None = None,
        checkpoint_type: CheckpointType = "regular",
        *,
        timeout: RequestTimeout = MERGE_TIMEOUT,
        server: str | None = None,
    ) -> MergeResponse:
        """Merge a sharded checkpoint on one server (as EvalClient.merge_checkpoint).

        The checkpoint is on that server's disk, so a pool of several servers needs to be
        told which: ``server=`` (one of ``servers``); a pool of one uses it.
        """
        self._servers.check_open()
        if server is None and len(self._servers.urls) > 1:
            raise InvalidArgumentError(
                "merge_checkpoint runs on the server whose disk holds the checkpoint: pass "
                f"server=, one of {list(self._servers.urls)}"
            )
        index = 0 if server is None else self._servers.index_of(server)
        try:
            return self._servers.clients[index].merge_checkpoint(
                checkpoint_path, output_path, checkpoint_type, timeout=timeout
            )
        except LmmsEvalError as exc:
            raise on_server(exc, self._servers.urls[index]) from exc
