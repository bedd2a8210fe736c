"""A checkpoint folder as a scan finds it, and the order scans keep (by step, then name)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
