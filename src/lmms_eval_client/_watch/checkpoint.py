"""A checkpoint folder as a scan finds it, the order scans keep (by step, then name), and
which folders a watcher may watch and match."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .._exceptions import InvalidArgumentError
from .errors import missing

if TYPE_CHECKING:
    from .._runs.outcomes import TrackedJob


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint folder found by a scan."""

    name: str
    """The folder's name, e.g. ``"checkpoint-500"`` (the key's end, the ``checkpoint`` label)."""
    path: Path
    """The folder, as this machine sees it."""
    step: int | None
    """The training step (the trailing integer of the name by default), or None."""

    @property
    def order(self) -> tuple[int, str]:
        """Its place among the folder's checkpoints: by step, then name.

        Example::

            newest = max(watcher.checkpoints(), key=lambda c: c.order)
        """
        return (-1 if self.step is None else self.step, self.name)


def is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether a listed entry is a folder (False once it is gone)."""
    try:
        return entry.is_dir()
    except OSError:  # gone since listed
        return False


def order_of(job: TrackedJob) -> tuple[int, str]:
    """A submitted checkpoint's ``Checkpoint.order``, from its job's labels."""
    step = job.labels.get("step")
    return (step if isinstance(step, int) else -1, str(job.labels.get("checkpoint", "")))


def check_pattern(pattern: object) -> str:
    """``pattern``, checked: an fnmatch pattern of a folder's name (one that can match one).

    >>> check_pattern("checkpoint-*")
    'checkpoint-*'
    """
    if not isinstance(pattern, str) or not pattern:
        raise InvalidArgumentError(f"pattern must be a non-empty str, got {pattern!r}")
    if any(sep in pattern for sep in (os.sep, os.altsep) if sep):
        raise InvalidArgumentError(
            f"pattern {pattern!r} holds a path separator: it matches a folder's name in the "
            "watched folder (e.g. 'checkpoint-*'); watch the folder that holds the checkpoints"
        )
    return pattern


def check_folder(directory: str | os.PathLike[str]) -> Path:
    """The folder to watch, which must be there now (the command line checks it before it
    creates a ledger; a watcher made in code finds out at its first scan)."""
    path = Path(os.fspath(directory))
    if not path.is_dir():
        raise InvalidArgumentError(str(missing(str(path), deleted=False)))
    return path
