"""Where an ``EvalResults`` was read: the samples files beside it, and what a pickle keeps.

A results file read through a URL or an fsspec filesystem is located by that URL (with
its user:password, if any) and the filesystem (which may hold credentials of its own). A
pickle keeps neither: only the location as it is shown (``.path``, ``***@`` for a
password), marked detached, so the unpickled copy has all of its data but reads no remote
file again; asking it for samples says so and how to read them.
"""

from __future__ import annotations

import glob
from typing import Any, NoReturn

from .errors import ResultsNotReachableError
from .file_access import FileLocation

RESULTS_SUFFIX = "_results.json"
SAMPLES_INFIX = "_samples_"
SAMPLES_SUFFIX = ".jsonl"


def task_of_samples_file(name: str) -> str | None:
    """The task of ``<timestamp>_samples_<task>.jsonl`` (None for another name)."""
    stem, infix, rest = name.partition(SAMPLES_INFIX)
    if not infix or not stem or not rest.endswith(SAMPLES_SUFFIX):
        return None
    return rest[: -len(SAMPLES_SUFFIX)] or None


def samples_beside(location: FileLocation | None) -> dict[str, FileLocation]:
    """The samples files beside a results file (``<same timestamp>_samples_<task>.jsonl``),
    by task; a detached location (unpickled) raises ResultsNotReachableError."""
    found: dict[str, FileLocation] = {}
    if location is None or not location.name.endswith(RESULTS_SUFFIX):
        return found
    if isinstance(location.filesystem, Detached):
        location.filesystem.refuse(location)
    stamp = location.name[: -len(RESULTS_SUFFIX)]
    folder = location.parent()
    pattern = f"{glob.escape(stamp)}{SAMPLES_INFIX}*{SAMPLES_SUFFIX}"
    for name in folder.list_names(pattern):
        task = task_of_samples_file(name)
        if task is not None and name.startswith(stamp + SAMPLES_INFIX):
            found[task] = folder.child(name)
    return found


class Detached:
    """The filesystem of a remote location after a pickle: it shows the location (its
    path is what ``display`` was) and reads nothing."""

    protocol = "detached"

    def unstrip_protocol(self, path: str) -> str:
        return path

    def refuse(self, location: FileLocation) -> NoReturn:
        """The error of reading ``location`` again, with what to do instead."""
        shown = location.display
        raise ResultsNotReachableError(
            f"{shown}: these results were unpickled, and a pickle does not keep where a "
            "remote file is read (its URL's user:password, the filesystem): read it again "
            "in this process, EvalResults.load(<the URL>, ...) or client.load_results(job), "
            "then its samples",
            server_path=location.server_path,
            client_path=shown,
            reason="unpickled: a remote location is not kept",
        )

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> NoReturn:
        self.refuse(FileLocation(path, self))

    def exists(self, path: str, **kwargs: Any) -> NoReturn:
        self.refuse(FileLocation(path, self))

    def isdir(self, path: str) -> NoReturn:
        self.refuse(FileLocation(path, self))

    def glob(self, path: str, **kwargs: Any) -> NoReturn:
        self.refuse(FileLocation(path, self))

    def __reduce__(self) -> str:
        return "DETACHED"  # one, by name


DETACHED = Detached()


def detached(location: FileLocation | None) -> FileLocation | None:
    """``location`` as a pickle keeps it: a local one as it is, a remote one shown only."""
    if location is None or location.filesystem is None:
        return location
    return FileLocation(location.display, DETACHED, location.server_path)


def pickled_state(state: dict[Any, Any]) -> dict[Any, Any]:
    """An EvalResults' pickle state (pydantic's) without what could hold a secret: remote
    locations detached, the cache of metric rows left out (it is computed again)."""
    private = dict(state.get("__pydantic_private__") or {})
    private["_task_metrics"] = {}
    private["_location"] = detached(private.get("_location"))
    files = private.get("_sample_files")
    if files is not None:
        private["_sample_files"] = {task: detached(loc) for task, loc in files.items()}
    return {**state, "__pydantic_private__": private}
