"""The errors of watching a checkpoint folder.

::

    LmmsEvalError
    └── WatchError                        the watched folder cannot be read (``.path``)
        ├── WatchedDirectoryMissingError  (also FileNotFoundError) missing, or deleted
        └── WatchPermissionError          (also PermissionError) this user may not list it

Nothing is submitted by the scan that raises one; what was submitted before stays tracked
in the run's ledger, so a watcher started again (once the folder is back) resumes.
"""

from __future__ import annotations

from .._exceptions import LmmsEvalError


class WatchError(LmmsEvalError):
    """The watched checkpoint folder (or a checkpoint in it) could not be read.

    Attributes:
        path: The folder (or file) that could not be read.
    """

    def __init__(self, message: str = "", *, path: str = "") -> None:
        super().__init__(message)
        self.path: str = path


class WatchedDirectoryMissingError(WatchError, FileNotFoundError):
    """The watched folder does not exist (never created, or deleted while watched), or is
    not a folder.

    Create it (or give the folder the trainer writes to) and start watching again: the
    checkpoints submitted before are not submitted again (their keys are in the ledger).
    """


class WatchPermissionError(WatchError, PermissionError):
    """This process may not list the watched folder (or read a checkpoint in it).

    Give the user running the watcher read and execute permission on the folder.
    """


def missing(path: str, *, deleted: bool) -> WatchedDirectoryMissingError:
    """The error of a folder that is not there (``deleted``: it was, at a previous scan)."""
    what = "was deleted while watched" if deleted else "does not exist (or is not a folder)"
    return WatchedDirectoryMissingError(
        f"the checkpoint folder {path!r} {what}: create it, or watch the folder the trainer "
        "writes to; a watcher started again submits nothing twice",
        path=path,
    )


def not_permitted(path: str) -> WatchPermissionError:
    """The error of a folder (or checkpoint) this process may not read."""
    return WatchPermissionError(
        f"permission denied reading {path!r}: the watcher needs read and execute permission "
        "on the checkpoint folder and its checkpoints (chmod, or run it as the trainer's user)",
        path=path,
    )
