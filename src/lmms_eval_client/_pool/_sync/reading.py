# GENERATED FILE from src/lmms_eval_client/_pool/_async/reading.py by codegen/make_sync.py.
# Do not edit: edit the async source and run `make generate`.
"""The results side of EvalPool: reading a job's files with its server's settings.

Generated from ``_pool/_async/reading.py`` by ``codegen/make_sync.py``
(``make generate``): do not edit. ``make check-generated`` fails when this
file differs from a fresh generation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lmms_eval_api.models import JobInfo, JobSubmitResponse

from ..._checks import check_count
from ..._client._sync.client import EvalClient
from ..._client._sync.results import JobRef
from ..._http.config import DEFAULT_LOG_LINES
from ..._results.file_access import FileSystem
from ..._results.files import check_model
from ..._results.results import EvalResults
from ..errors import ambiguous
from ..status import PoolJobSubmitResponse

if TYPE_CHECKING:
    from ..._http.options import RequestTimeout
    from .servers import PoolServers


class SyncPoolReading:
    """``load_results``, ``load_all_results``, ``eval_log`` and the path settings of a pool."""

    _servers: PoolServers

    if TYPE_CHECKING:

        def get_job(
            self, job_id: str, *, timeout: RequestTimeout = ..., server: str | None = ...
        ) -> JobInfo: ...

    # Settings of reading results, as a client has them (those of the first server's
    # client; the pool makes every client with the same ones, but clients given to it keep
    # their own: where a job is concerned, its server's client's are used, by load_results
    # and by a run choosing a job's output_dir).
    @property
    def output_root(self) -> str | None:
        """The folder under which each job gets its own output_dir, if any (the first
        server's client's; each job gets one under its own server's client's)."""
        return self._servers.clients[0].output_root

    @property
    def path_map(self) -> dict[str, str]:
        """Where the servers' folders are mounted here (a copy), for reading results."""
        return self._servers.clients[0].path_map

    @property
    def filesystem(self) -> FileSystem | None:
        """The fsspec filesystem results are read through, if one was given."""
        return self._servers.clients[0].filesystem

    def _reader(self, job: JobRef, server: str | None) -> tuple[EvalClient, JobInfo]:
        """The job's JobInfo, and the client whose path settings read its files."""
        if server is None and isinstance(job, PoolJobSubmitResponse):
            server = job.server  # evaluate()'s answer names the job's server
        if not isinstance(job, JobInfo):
            job_id = job.job_id if isinstance(job, JobSubmitResponse) else job
            job = self.get_job(job_id, server=server)
        if server is not None:
            return self._servers.clients[self._servers.index_of(server)], job
        known = self._servers.jobs.find(job.job_id)
        if not known and not self._same_reading_settings():
            # a JobInfo does not say its server, and another's path_map would read another
            # job's files: the servers are asked (the one that holds it is known then)
            self.get_job(job.job_id)
            known = self._servers.jobs.find(job.job_id)
        if len(known) > 1:
            raise ambiguous(job.job_id, [self._servers.urls[i] for i in known])
        return self._servers.clients[known[0] if known else 0], job

    def _same_reading_settings(self) -> bool:
        """Whether every server's client reads files alike (the pool makes them so; clients
        given to it keep their own)."""
        first, *others = self._servers.clients
        return all(
            c.path_map == first.path_map and c.filesystem is first.filesystem for c in others
        )

    def load_results(
        self, job: JobRef, *, model: str | None = None, server: str | None = None
    ) -> EvalResults:
        """The results of a completed job (as EvalClient.load_results), read with the
        path settings of its server's client. ``server=`` as for ``get_job`` (evaluate()'s
        answer names its own)."""
        check_model(model)  # before a server is asked
        client, info = self._reader(job, server)
        return client.load_results(info, model=model)

    def load_all_results(self, job: JobRef, *, server: str | None = None) -> dict[str, EvalResults]:
        """The EvalResults of every model of a completed job, by model name (``server=`` as
        for ``load_results``)."""
        client, info = self._reader(job, server)
        return client.load_all_results(info)

    def eval_log(
        self, job: JobRef, lines: int = DEFAULT_LOG_LINES, *, server: str | None = None
    ) -> str:
        """The last lines of a job's evaluation log (as EvalClient.eval_log; ``server=``
        as for ``load_results``)."""
        check_count("lines", lines, 0)  # before a server is asked
        client, info = self._reader(job, server)
        return client.eval_log(info, lines)
