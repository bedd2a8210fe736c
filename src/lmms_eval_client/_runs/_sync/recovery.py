# GENERATED FILE from src/lmms_eval_client/_runs/_async/recovery.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""Recovery from disk at each poll: lost jobs whose own folder holds complete results become

Generated from ``_runs/_async/recovery.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from ..._client._sync.client import EvalClient
from ..._http._sync._io import run_sync
from ..._lazy import LazyModule
from ..ledger import Ledger
from ..servers import client_for

if TYPE_CHECKING:
    from lmms_eval_api.models import JobInfo

    from .. import recovery_files as _recovery
else:  # the results reading loads with the first poll (an evaluation run's import: not)
    _recovery = LazyModule("lmms_eval_client._runs.recovery_files")

logger = logging.getLogger("lmms_eval_client")


class RunRecovery:
    """The recovery of lost jobs from their output folders (a mixin of the run's poller)."""

    ledger: Ledger

    def _clients(self) -> dict[str, EvalClient]:
        raise NotImplementedError  # the poller's: the client of each server, by base URL

    def _record_summary(self, client: EvalClient, seq: int, info: JobInfo) -> None:
        raise NotImplementedError  # the poller's: a completed job's summary

    def recover_lost(self) -> None:
        """Check each lost job not checked yet: completed from its files, or left lost."""
        clients = self._clients()
        # Matched by identity: a job recorded under another spelling of a server is its job.
        spellings = run_sync(partial(_recovery.lost_servers, self.ledger))
        covered = tuple(server for server in spellings if client_for(clients, server))
        for job in run_sync(partial(_recovery.unchecked_lost, self.ledger, covered)):
            client = client_for(clients, job.server)
            if client is None:  # (covered above: the same spellings)
                continue
            read = partial(
                _recovery.find_results, job, path_map=client.path_map, filesystem=client.filesystem
            )
            try:
                found = run_sync(read)  # reads files: off the loop
            except Exception as exc:  # a filesystem's own failure must not stop the run
                found = f"reading its output folder failed: {type(exc).__name__}: {exc}"
            if not isinstance(found, _recovery.Recovered):
                run_sync(partial(_recovery.record_checked, self.ledger, job.seq, found))
                continue
            if run_sync(partial(_recovery.record_recovered, self.ledger, job.seq, found)):
                logger.info(
                    "Evaluation run %s: lost job seq %d recovered from %s",
                    self,
                    job.seq,
                    ", ".join(found.files),
                )
                self._record_summary(client, job.seq, found.info)
