"""When a checkpoint folder is complete: readiness rules, small typed objects.

A trainer writes a checkpoint over seconds or minutes; evaluating it half written fails (or,
worse, evaluates a mix). ``MarkerFile`` waits for a file written last (HF's Trainer writes
``trainer_state.json`` after the weights); ``StableSize`` waits until nothing in the folder
changed (total size, newest mtime, number of files) across two looks ``seconds`` apart, for
trainers that write no marker. A rule only reads; what it remembers between looks is kept
by the watcher (``Looks``), so one rule object can serve several watchers.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .._checks import check_path, check_seconds
from .._exceptions import InvalidArgumentError
from .errors import not_permitted

Signature = tuple[int, int, int]
"""What a look at a folder saw: (total bytes, newest mtime in ns, number of files)."""


@dataclass
class Looks:
    """What ``StableSize`` saw of each checkpoint at earlier scans, by checkpoint name."""

    seen: dict[str, tuple[Signature, float]] = field(default_factory=dict)
    """checkpoint name -> (signature, when that signature was first seen)."""


class ReadinessRule(Protocol):
    """A rule deciding whether a checkpoint folder is complete (``MarkerFile``,
    ``StableSize``, or any object with this method)."""

    def is_ready(self, path: Path, looks: Looks, now: float) -> bool:
        """Whether the checkpoint at ``path`` is complete, at time ``now`` (monotonic)."""
        ...


@dataclass(frozen=True)
class MarkerFile:
    """A checkpoint is complete once it holds the file ``name``, written last.

    HF's ``Trainer`` writes ``trainer_state.json`` after the weights and optimizer state, so
    ``MarkerFile("trainer_state.json")`` (the watcher's default) waits for a whole checkpoint.

    Example::

        watcher = CheckpointWatcher(run, "out", ready=MarkerFile("DONE"), submit=what)
    """

    name: str = "trainer_state.json"
    """The file, relative to the checkpoint folder, whose presence marks it complete."""

    def __post_init__(self) -> None:
        # (a Path is taken: MarkerFile(Path("x/DONE")))
        object.__setattr__(self, "name", check_path("MarkerFile name", self.name))
        parts = Path(self.name).parts
        if os.path.isabs(self.name) or not parts or ".." in parts:
            raise InvalidArgumentError(
                f"MarkerFile name must be a file in the checkpoint (a path relative to the "
                f"checkpoint, without ..), got {self.name!r}"
            )

    def is_ready(self, path: Path, looks: Looks, now: float) -> bool:
        """Whether ``path`` holds the marker file.

        Example::

            MarkerFile("trainer_state.json").is_ready(Path("out/checkpoint-5"), Looks(), 0.0)
        """
        try:
            return (path / self.name).is_file()
        except PermissionError:
            raise not_permitted(str(path)) from None


@dataclass(frozen=True)
class StableSize:
    """A checkpoint is complete once nothing in it changed for ``seconds``: the same total
    size, newest modification time and number of files at two looks at least ``seconds``
    apart (the first look never says ready).

    For trainers that write no marker file. Choose ``seconds`` longer than the longest pause
    of the trainer's writing (a network file system may show writes late).

    Example::

        watcher = CheckpointWatcher(run, "out", ready=StableSize(seconds=30), submit=what)
    """

    seconds: float = 10.0
    """How long (seconds, >= 0) the folder must stay unchanged."""

    def __post_init__(self) -> None:
        check_seconds("StableSize seconds", self.seconds, zero=True)

    def is_ready(self, path: Path, looks: Looks, now: float) -> bool:
        """Whether ``path`` looked the same at an earlier look ``seconds`` ago or more.

        Example::

            rule, looks = StableSize(seconds=5), Looks()
            rule.is_ready(Path("out/checkpoint-5"), looks, 0.0)  # False: a first look
        """
        signature = folder_signature(path)
        if signature is None:
            looks.seen.pop(path.name, None)
            return False
        before = looks.seen.get(path.name)
        if before is None or before[0] != signature:
            looks.seen[path.name] = (signature, now)
            return False
        return now - before[1] >= self.seconds


def folder_signature(path: Path) -> Signature | None:
    """(total bytes, newest mtime ns, number of files) of every file under ``path``; None
    when it is gone or empty."""
    size = newest = count = 0
    try:
        for root, _dirs, files in os.walk(path, onerror=_raise):
            for name in files:
                full = os.path.join(root, name)
                try:
                    stat = os.stat(full)
                except FileNotFoundError:
                    try:
                        stat = os.lstat(full)  # a link to nothing: counted as itself
                    except FileNotFoundError:  # replaced while looked at: changing still
                        return None
                size += stat.st_size
                newest = max(newest, stat.st_mtime_ns)
                count += 1
    except FileNotFoundError:
        return None
    except PermissionError:
        raise not_permitted(str(path)) from None
    return (size, newest, count) if count else None


def _raise(error: OSError) -> None:
    raise error
