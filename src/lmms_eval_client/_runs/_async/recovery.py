"""Recovery from disk at each poll: lost jobs whose own folder holds complete results become
``completed`` (see ``recovery_files.py`` for what counts and what is recorded).

A mixin of the run's poller (``polling.py``). Every poll, after the servers have been read
(so a job marked lost by this poll, the server having forgotten it or its submission
being unresolvable, is checked at once) and before failed or lost jobs are retried by
policy (recovery comes first), each lost job not yet checked is checked once, a batch at
most per poll. Files are read in a worker thread, through the job's client's path_map /
filesystem, as summaries are. Hand-written source of ``_sync/recovery.py``.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from ..._client._async.client import AsyncEvalClient
from ..._http._async._io import run_sync
from ..._lazy import LazyModule
from ..ledger import Ledger
from ..servers import client_for

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

    from .. import recovery_files as _recovery
else:  # the results reading loads with the first poll (an evaluation run's import: not)
    _recovery = LazyModule("lmms_eval_client._runs.recovery_files")

logger = logging.getLogger("lmms_eval_client")


class AsyncRunRecovery:
    """The recovery of lost jobs from their output folders (a mixin of the run's poller)."""

    ledger: Ledger

    def _clients(self) -> dict[str, AsyncEvalClient]:
        raise NotImplementedError  # the poller's: the client of each server, by base URL

    async def _record_summary(self, client: AsyncEvalClient, seq: int, info: JobInfo) -> None:
        raise NotImplementedError  # the poller's: a completed job's summary

    async def recover_lost(self) -> None:
        """Check each lost job not checked yet: completed from its files, or left lost."""
        clients = self._clients()
        # Matched by identity: a job recorded under another spelling of a server is its job.
        spellings = await run_sync(partial(_recovery.lost_servers, self.ledger))
        covered = tuple(server for server in spellings if client_for(clients, server))
        for job in await run_sync(partial(_recovery.unchecked_lost, self.ledger, covered)):
            client = client_for(clients, job.server)
            if client is None:  # (covered above: the same spellings)
                continue
            read = partial(
                _recovery.find_results, job, path_map=client.path_map, filesystem=client.filesystem
            )
            try:
                found = await run_sync(read)  # reads files: off the loop
            except Exception as exc:  # a filesystem's own failure must not stop the run
                found = f"reading its output folder failed: {type(exc).__name__}: {exc}"
            if not isinstance(found, _recovery.Recovered):
                await run_sync(partial(_recovery.record_checked, self.ledger, job.seq, found))
                continue
            if await run_sync(partial(_recovery.record_recovered, self.ledger, job.seq, found)):
                logger.info(
                    "Evaluation run %s: lost job seq %d recovered from %s",
                    self,
                    job.seq,
                    ", ".join(found.files),
                )
                await self._record_summary(client, job.seq, found.info)
