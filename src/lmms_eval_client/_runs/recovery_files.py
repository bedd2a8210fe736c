"""Recovery from disk: a ``lost`` job whose own output folder holds complete results.

A job the run gave a folder of its own (``<output_root>/<stamp>-<model>-<token>``: the name
ends with its token, so no other job writes there) left lmms-eval's files behind even when
the server forgot the job (restarted, evicted it) or its submitter died before recording
the answer. ``find_results`` reads that folder as lmms-eval's server does (each model
sub-folder, its latest ``<stamp>_results.json`` and that stamp's samples files), through
the path_map / filesystem of the job's client, and accepts it only when every results file
parses (read with the bounded reader, at most ``max_bytes``) and has a results section for
every task requested. Pure and synchronous: the async run calls it in a worker thread.

A submission the queue proves absent is still taken for received when that folder is there
(``started_folder``): the server made it, then forgot the job (restarted) with its counters.
One the queue cannot place, yet not queued, is proven never started when its folder is not
there while its output root is (``never_started``): sent again, not left ``lost``.

Each lost job with a folder of its own is checked once (one without is not looked at):
``record_recovered`` makes it ``completed`` (``recovered_at``, an observation ``recovered``
naming the files), ``record_checked`` records an observation ``recovery-checked`` with why
not, and ``unchecked_lost`` never returns it again.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import time
from collections.abc import Sequence
from dataclasses import dataclass

from lmms_eval_api.models import JobInfo, JobStatus, ModelResultFiles

from .._results.bounded import DEFAULT_MAX_RESULTS_BYTES
from .._results.errors import ResultsError
from .._results.file_access import FileLocation, FileSystem, server_location
from .._results.files import results_of_job
from .._results.path_map import PathMap
from .ledger import Ledger
from .ledger_schema import job_from_row
from .outcomes import COMPLETED, LOST, TrackedJob

MAX_MODEL_FOLDERS = 16  # sub-folders of a job's output folder looked into (one per model)
RECOVERY_BATCH = 20  # lost jobs checked per poll at most (each once)
RECOVERED = "recovered"
CHECKED = "recovery-checked"


@dataclass(frozen=True)
class Recovered:
    """Complete results found in a lost job's own folder: its synthesized JobInfo."""

    info: JobInfo
    files: list[str]  # the results files, as server paths


def own_output_dir(job: TrackedJob) -> str | None:
    """The job's output folder when the run chose it (its name ends with the job's token)."""
    folder = job.output_dir
    if isinstance(folder, str) and folder.rstrip("/").endswith(job.token):
        return folder
    return None


def started_folder(
    job: TrackedJob, *, path_map: PathMap | None, filesystem: FileSystem | None
) -> str | None:
    """The job's own output folder, as shown, when it is there; else None (none chosen, not
    there, or unreadable). The run never makes it: lmms-eval's server does, when it starts
    the job (its log goes there first), so its being there proves the job was received."""
    folder_path = own_output_dir(job)
    if folder_path is None:
        return None
    try:
        folder = server_location(folder_path, path_map=path_map, filesystem=filesystem)
        return folder.display if folder.is_dir() else None
    except ResultsError:  # unreachable: the queue's proof stands alone, as without a folder
        return None


def never_started(
    job: TrackedJob, *, path_map: PathMap | None, filesystem: FileSystem | None
) -> str | None:
    """The job's own output folder when the folder it is made in (the run's output root)
    lists, on this machine, without it: a job the server started has it. Else None (none
    chosen; a remote filesystem, whose listing may lag; a root not seen here, or not read:
    its absence proves nothing)."""
    folder_path = own_output_dir(job)
    if folder_path is None or filesystem is not None:
        return None
    root_path, name = posixpath.split(folder_path.rstrip("/"))
    if not root_path:
        return None
    try:
        root = server_location(root_path, path_map=path_map)
        if root.filesystem is not None or name in os.listdir(root.path):
            return None
    except (ResultsError, OSError):
        return None
    return posixpath.join(root.display, name)


def _server_path(location: FileLocation) -> str:
    return location.server_path if location.server_path is not None else location.path


def _result_files(folder: FileLocation) -> dict[str, ModelResultFiles]:
    """``{model folder: its latest results file and that run's samples}``, as the server
    reports them for a completed job."""
    found: dict[str, ModelResultFiles] = {}
    for name in folder.list_names("*")[:MAX_MODEL_FOLDERS]:
        model_dir = folder.child(name)
        results = model_dir.list_names("*_results.json") if model_dir.is_dir() else []
        if not results:
            continue
        latest = results[-1]
        stamp = latest[: -len("_results.json")]
        samples = model_dir.list_names(f"{stamp}_samples_*.jsonl")
        found[name] = ModelResultFiles(
            results=_server_path(model_dir.child(latest)),
            samples=[_server_path(model_dir.child(s)) for s in samples],
        )
    return found


def _requested_tasks(job: TrackedJob) -> list[str]:
    return [name for entry in job.request.tasks for name in entry.split(",") if name]


def _missing(requested: Sequence[str], present: set[str]) -> list[str]:
    """The requested tasks (or patterns) no results section answers."""
    missing = []
    for name in requested:
        if any(c in name for c in "*?["):
            if not fnmatch.filter(present, name):
                missing.append(name)
        elif name not in present:
            missing.append(name)
    return missing


def synthesized_info(job: TrackedJob, result: dict[str, ModelResultFiles]) -> JobInfo:
    """The JobInfo of a recovered job: its last known one (or its request) completed, with
    ``result`` pointing at the files; its id is the server's when known, else its token."""
    last = job.info
    return JobInfo(
        job_id=job.job_id or (last.job_id if last is not None else job.token),
        status=JobStatus.COMPLETED,
        created_at=last.created_at if last is not None else job.created_at.isoformat(),
        started_at=last.started_at if last is not None else None,
        completed_at=None,
        request=job.request,
        result=result,
        error=None,
        position_in_queue=None,
    )


def find_results(
    job: TrackedJob,
    *,
    path_map: PathMap | None,
    filesystem: FileSystem | None,
    max_bytes: int = DEFAULT_MAX_RESULTS_BYTES,
) -> Recovered | str:
    """The complete results in the job's own folder, or why there are none (a sentence)."""
    folder_path = own_output_dir(job)
    if folder_path is None:
        return "the run did not choose its output folder (no output root)"
    try:
        folder = server_location(folder_path, path_map=path_map, filesystem=filesystem)
        if not folder.is_dir():
            return f"its output folder {folder.display} is not there"
        result = _result_files(folder)
        if not result:
            return f"its output folder {folder.display} holds no results file"
        info = synthesized_info(job, result)
        by_model = results_of_job(
            info, path_map=path_map, filesystem=filesystem, max_bytes=max_bytes
        )
    except ResultsError as exc:  # unreachable, unreadable, cut short, too large
        return f"its results are not complete: {exc}"
    requested = _requested_tasks(job)
    for model, results in by_model.items():
        missing = _missing(requested, set(results.results) | set(results.groups))
        if missing:
            return f"the results file of {model} has no section for {', '.join(missing)}"
    return Recovered(info, [str(files.results) for files in result.values()])


def lost_servers(ledger: Ledger) -> list[str]:
    """The servers of lost jobs, as the ledger spells them (the run matches them by identity)."""
    rows = ledger.rows("SELECT DISTINCT server FROM jobs WHERE state = ?", (LOST,))
    return [str(row["server"]) for row in rows]


def unchecked_lost(ledger: Ledger, servers: Sequence[str]) -> list[TrackedJob]:
    """Lost final attempts on ``servers`` with an output folder of their own, not yet
    checked for results, not yet taken or held (a received outcome is not changed under
    its receiver): at most a batch."""
    if not servers:
        return []
    marks = ",".join("?" * len(servers))
    rows = ledger.rows(
        f"SELECT * FROM jobs WHERE {_unchecked(ledger)} AND server IN ({marks}) "
        "ORDER BY seq LIMIT ?",
        (LOST, CHECKED, *servers, RECOVERY_BATCH),
    )
    return [job_from_row(row, ledger.path) for row in rows]


def awaiting_recovery(ledger: Ledger) -> set[int]:
    """The lost jobs recovery has yet to read (a batch a poll: the rest wait their turn),
    which no retry may send again before it has: their results may be complete."""
    rows = ledger.rows(f"SELECT seq FROM jobs WHERE {_unchecked(ledger)}", (LOST, CHECKED))
    return {int(row["seq"]) for row in rows}


def _unchecked(ledger: Ledger) -> str:
    """Lost final attempts with a folder of their own, not checked, taken or held (two
    parameters: LOST, CHECKED)."""
    return (
        "state = ? AND harvested_at IS NULL AND retried_by IS NULL AND claimed_by IS NULL "
        f"AND {ledger.store.ends_with_token('request', 'output_dir')} AND NOT EXISTS "
        "(SELECT 1 FROM observations o WHERE o.seq = jobs.seq AND o.event = ?)"
    )


def record_recovered(ledger: Ledger, seq: int, found: Recovered) -> bool:
    """Make a lost job completed from its files; False if it changed meanwhile (taken,
    claimed or retried by another process)."""
    now = time.time()
    data = found.info.model_dump(mode="json")
    with ledger.transaction("recording a recovered job") as conn:
        updated = conn.execute(
            "UPDATE jobs SET state = ?, info = ?, recovered_at = ?, updated_at = ? "
            "WHERE seq = ? AND state = ? AND harvested_at IS NULL AND retried_by IS NULL "
            "AND claimed_by IS NULL",
            (COMPLETED, ledger.stored(data), now, now, seq, LOST),
        )
        if not updated.rowcount:
            return False
        ledger.observe(conn, seq, now, RECOVERED, COMPLETED, {"files": found.files, "info": data})
    return True


def record_checked(ledger: Ledger, seq: int, why_not: str) -> None:
    """A lost job's folder was checked and holds no complete results (not checked again)."""
    now = time.time()
    with ledger.transaction("recording a recovery check") as conn:
        ledger.observe(conn, seq, now, CHECKED, LOST, {"not_recovered": why_not})
